"""Trading API v2 routes: account, configurations, orders, positions, assets, clock, calendar, activities."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import NEW_YORK, VenueError, is_trading_day, json_response, session_bounds
from portico.mocks.alpaca._app import (
    AlpacaMockApp,
    BadRequest,
    endpoint,
    parse_decimal,
    parse_int,
    parse_time,
)
from portico.mocks.alpaca._wire import (
    account_json,
    activity_json,
    announcement_json,
    asset_json,
    non_trade_activity_json,
    order_json,
    position_json,
)

__all__ = ["trading_routes"]

_DEFAULT_CONFIGURATION = {
    "dtbp_check": "entry",
    "trade_confirm_email": "all",
    "suspend_trade": False,
    "no_shorting": False,
    "fractional_trading": True,
    "max_margin_multiplier": "4",
    "max_options_trading_level": 0,
    "pdt_check": "entry",
    "ptp_no_exception_entry": False,
}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadRequest("request body format is invalid", status=400, code=40010000) from None
    if not isinstance(data, dict):
        raise BadRequest("request body format is invalid", status=400, code=40010000)
    return data


# -- account -----------------------------------------------------------------------------------


@endpoint
async def get_account(app: AlpacaMockApp, request: Request) -> Response:
    app.venue.match()
    account = app.venue.account()
    return json_response(account_json(account, app.venue.balances()))


@endpoint
async def account_configurations(app: AlpacaMockApp, request: Request) -> Response:
    account = app.venue.account()
    config = account.configuration or dict(_DEFAULT_CONFIGURATION)
    if request.method == "PATCH":
        changes = await _body(request)
        unknown = sorted(set(changes) - set(_DEFAULT_CONFIGURATION))
        if unknown:
            raise BadRequest(f"unknown configuration keys: {', '.join(unknown)}")
        config = {**config, **changes}
        account.configuration = config
    return json_response(config)


_NON_TRADE = {"DIV": "DIV", "SPLIT": "SSP"}
"""The venue's holder activities under their Alpaca activity types (``SSP``: stock split)."""
_KNOWN_TYPES = {
    "FILL", "TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CSD", "CSW", "DIV", "DIVCGL", "DIVCGS", "DIVFEE",
    "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "FEE", "INT", "INTNRA", "INTTW", "JNL", "JNLC", "JNLS",
    "MA", "NC", "OPASN", "OPEXP", "OPXRC", "PTC", "PTR", "REORG", "SC", "SSO", "SSP",
}  # fmt: skip
"""Every activity type the Trading API names; the venue produces FILL, DIV and SSP."""


@endpoint
async def activities(app: AlpacaMockApp, request: Request) -> Response:
    kind = request.path_params.get("activity_type")
    q = request.query_params
    types = [t.strip().upper() for t in (q.get("activity_types") or (kind or "")).split(",") if t.strip()]
    if types and any(t not in _KNOWN_TYPES for t in types):
        raise BadRequest(f"invalid activity type {','.join(types)}")
    after = parse_time(q.get("after"), "after")
    until = parse_time(q.get("until"), "until")
    day = parse_time(q.get("date"), "date")
    if day is not None:
        after, until = day - timedelta(microseconds=1), day + timedelta(days=1)
    direction = q.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise BadRequest(f"invalid direction {direction!r}")
    page_size = parse_int(q.get("page_size"), "page_size", default=100, low=1, high=100)
    stamped: list[tuple[datetime, dict[str, Any]]] = []
    if not types or "FILL" in types:
        stamped.extend((f.timestamp, activity_json(f)) for f in app.venue.list_fills(after=after, until=until))
    desk = app.venue.holder_events
    if desk is not None:
        wanted = {k for k, v in _NON_TRADE.items() if not types or v in types}
        app.venue.match()  # settle what is due before answering
        for item in desk.list(account_id=app.venue.account().id, types=wanted, after=after, until=until):
            stamped.append((item.timestamp, non_trade_activity_json(item, _NON_TRADE[item.activity_type])))
    stamped.sort(key=lambda pair: (pair[0], pair[1]["id"]))
    items = [item for _, item in stamped]
    if direction == "desc":
        items.reverse()
    token = q.get("page_token")
    if token:
        ids = [i["id"] for i in items]
        if token in ids:
            items = items[ids.index(token) + 1 :]
    return json_response(items[:page_size])


@endpoint
async def announcements(app: AlpacaMockApp, request: Request) -> Response:
    """``GET /v2/corporate_actions/announcements``: ``ca_types`` and a ``since``..``until`` window of at
    most 90 days are required, as at the vendor; ``symbol`` narrows it."""
    from datetime import date as _date

    q = request.query_params
    types = {t.strip().lower() for t in (q.get("ca_types") or "").split(",") if t.strip()}
    if not types or types - {"dividend", "merger", "spinoff", "split"}:
        raise BadRequest("ca_types is required: dividend, merger, spinoff, split")
    try:
        since, until = _date.fromisoformat(q.get("since", "")), _date.fromisoformat(q.get("until", ""))
    except ValueError:
        raise BadRequest("since and until are required dates (YYYY-MM-DD)") from None
    if until < since or (until - since).days > 90:
        raise BadRequest("the since..until window must be 0 to 90 days")
    symbol = (q.get("symbol") or "").strip().upper()
    symbols = [symbol] if symbol else sorted({a.symbol for a in app.venue.assets()})
    out = []
    for sym in symbols:
        for action in app.venue.data.corporate_actions(sym, since, until):
            if ("split" if action.kind == "split" else "dividend") in types:
                out.append(announcement_json(action, app.venue.seed))
    return json_response(out)


# -- orders ------------------------------------------------------------------------------------


def _order_params(body: dict[str, Any]) -> dict[str, Any]:
    symbol = body.get("symbol")
    if not symbol or not isinstance(symbol, str):
        raise BadRequest("symbol is required")
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise BadRequest(f"invalid side: {side!r}" if side else "side is required")
    order_type = body.get("type") or body.get("order_type")
    if order_type not in ("market", "limit", "stop", "stop_limit", "trailing_stop"):
        raise BadRequest(f"invalid order type: {order_type!r}" if order_type else "type is required")
    tif = body.get("time_in_force")
    if tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
        raise BadRequest(f"invalid time_in_force: {tif!r}" if tif else "time_in_force is required")
    order_class = body.get("order_class") or "simple"
    if order_class != "simple":
        raise BadRequest(f"order_class {order_class!r} is not supported by this mock")
    client_order_id = body.get("client_order_id")
    if client_order_id is not None and (not isinstance(client_order_id, str) or len(client_order_id) > 128):
        raise BadRequest("client_order_id must be a string of at most 128 characters")
    extended = bool(body.get("extended_hours", False))
    if extended and (order_type != "limit" or tif != "day"):
        raise BadRequest("extended hours order must be DAY limit orders")
    intent = body.get("position_intent")
    if intent is not None and intent not in ("buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"):
        raise BadRequest(f"invalid position_intent: {intent!r}")
    return {
        "symbol": symbol,
        "side": side,
        "order_type": order_type,
        "time_in_force": tif,
        "qty": parse_decimal(body.get("qty"), "qty"),
        "notional": parse_decimal(body.get("notional"), "notional"),
        "limit_price": parse_decimal(body.get("limit_price"), "limit_price"),
        "stop_price": parse_decimal(body.get("stop_price"), "stop_price"),
        "trail_price": parse_decimal(body.get("trail_price"), "trail_price"),
        "trail_percent": parse_decimal(body.get("trail_percent"), "trail_percent"),
        "client_order_id": client_order_id,
        "extended_hours": extended,
        "extra": {"position_intent": intent} if intent else {},
    }


@endpoint
async def orders(app: AlpacaMockApp, request: Request) -> Response:
    if request.method == "POST":
        order = app.venue.place_order(**_order_params(await _body(request)))
        return json_response(order_json(order))
    if request.method == "DELETE":
        results = []
        for order_id, error in app.venue.cancel_all():
            if error is None:
                results.append({"id": order_id, "status": 200})
            else:
                results.append({"id": order_id, "status": 422, "body": {"code": 42210000, "message": error.message}})
        return json_response(results, 207)
    q = request.query_params
    status = q.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise BadRequest(f"invalid status: {status!r}")
    direction = q.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise BadRequest(f"invalid direction: {direction!r}")
    side = q.get("side")
    if side not in (None, "buy", "sell"):
        raise BadRequest(f"invalid side: {side!r}")
    symbols = [s.strip() for s in q.get("symbols", "").split(",") if s.strip()] or None
    found = app.venue.list_orders(
        status=status,
        symbols=symbols,
        side=side,
        after=parse_time(q.get("after"), "after"),
        until=parse_time(q.get("until"), "until"),
        direction=direction,
        limit=parse_int(q.get("limit"), "limit", default=50, low=1, high=500),
    )
    return json_response([order_json(o) for o in found])


@endpoint
async def order_by_client_id(app: AlpacaMockApp, request: Request) -> Response:
    client_order_id = request.query_params.get("client_order_id")
    if not client_order_id:
        raise BadRequest("client_order_id is required")
    return json_response(order_json(app.venue.get_order_by_client_id(client_order_id)))


@endpoint
async def order(app: AlpacaMockApp, request: Request) -> Response:
    order_id: str = request.path_params["order_id"]
    if request.method == "GET":
        return json_response(order_json(app.venue.get_order(order_id)))
    if request.method == "DELETE":
        app.venue.cancel_order(order_id)
        return Response(status_code=204)
    body = await _body(request)
    allowed = {"qty", "time_in_force", "limit_price", "stop_price", "trail", "client_order_id"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    tif = body.get("time_in_force")
    if tif is not None and tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
        raise BadRequest(f"invalid time_in_force: {tif!r}")
    new = app.venue.replace_order(
        order_id,
        qty=parse_decimal(body.get("qty"), "qty"),
        limit_price=parse_decimal(body.get("limit_price"), "limit_price"),
        stop_price=parse_decimal(body.get("stop_price"), "stop_price"),
        trail=parse_decimal(body.get("trail"), "trail"),
        time_in_force=tif,
        client_order_id=body.get("client_order_id"),
    )
    return json_response(order_json(new))


# -- positions ---------------------------------------------------------------------------------


def _position(app: AlpacaMockApp, position: Any) -> dict[str, Any]:
    asset = app.venue.asset(position.symbol)
    return position_json(position, app.venue.price(position.symbol), app.venue.lastday_price(position.symbol), asset.exchange)


@endpoint
async def positions(app: AlpacaMockApp, request: Request) -> Response:
    if request.method == "DELETE":
        cancel = request.query_params.get("cancel_orders", "false").lower() == "true"
        results = []
        for symbol, outcome in app.venue.close_all_positions(cancel_orders=cancel):
            if isinstance(outcome, VenueError):
                results.append(
                    {"symbol": symbol, "status": 403, "body": {"code": 40310000, "message": outcome.message}}
                )
            else:
                results.append({"symbol": symbol, "status": 200, "body": order_json(outcome)})
        return json_response(results, 207)
    # positions only change with venue events and prices: serve repeated reads from the last rendering
    # while neither changed (with the real-time clock prices move, but in whole cents, so most reads in
    # the same moment render the same body); the previous closes follow from the New York day
    venue = app.venue
    held, now, spots = venue.marks()
    key = (venue.version, venue.data.local_day(now), spots)
    cached = app.positions_cache
    if cached is None or cached[0] != key:
        body = json_response(
            [
                position_json(
                    p, Decimal(f"{spot:.2f}"), venue.lastday_at(p.symbol, now), venue.asset(p.symbol).exchange
                )
                for p, spot in zip(held, spots, strict=True)
            ]
        ).body
        cached = app.positions_cache = (key, body)
    return Response(cached[1], media_type="application/json")


@endpoint
async def position(app: AlpacaMockApp, request: Request) -> Response:
    symbol: str = request.path_params["symbol_or_asset_id"]
    if request.method == "DELETE":
        q = request.query_params
        qty = parse_decimal(q.get("qty"), "qty")
        percentage = parse_decimal(q.get("percentage"), "percentage")
        if qty is not None and percentage is not None:
            raise BadRequest("only one of qty or percentage may be given")
        if percentage is not None and not 0 < percentage <= 100:
            raise BadRequest("percentage must be between 0 and 100")
        return json_response(order_json(app.venue.close_position(symbol, qty=qty, percentage=percentage)))
    return json_response(_position(app, app.venue.get_position(symbol)))


# -- assets, clock, calendar -------------------------------------------------------------------


@endpoint
async def assets(app: AlpacaMockApp, request: Request) -> Response:
    q = request.query_params
    status = q.get("status")
    asset_class = q.get("asset_class")
    exchange = q.get("exchange")
    found = [
        a
        for a in app.venue.assets()
        if (status is None or a.status == status)
        and (asset_class is None or a.asset_class == asset_class)
        and (exchange is None or a.exchange == exchange)
    ]
    return json_response([asset_json(a) for a in found])


@endpoint
async def asset(app: AlpacaMockApp, request: Request) -> Response:
    key: str = request.path_params["symbol_or_asset_id"]
    try:
        info = app.venue.asset_by_id(key) if "-" in key else app.venue.asset(key)
    except VenueError:
        raise VenueError("not_found", "asset not found") from None
    return json_response(asset_json(info))


def _local(value: datetime) -> str:
    return value.astimezone(NEW_YORK).isoformat()


@endpoint
async def clock(app: AlpacaMockApp, request: Request) -> Response:
    now = app.clock.now()
    day = now.astimezone(NEW_YORK).date()
    is_open = is_trading_day(day) and session_bounds(day)[0] <= now < session_bounds(day)[1]
    next_open_day = day
    while not is_trading_day(next_open_day) or session_bounds(next_open_day)[0] <= now:
        next_open_day += timedelta(days=1)
    close_day = day
    while not is_trading_day(close_day) or session_bounds(close_day)[1] <= now:
        close_day += timedelta(days=1)
    return json_response(
        {
            "timestamp": _local(now),
            "is_open": is_open,
            "next_open": _local(session_bounds(next_open_day)[0]),
            "next_close": _local(session_bounds(close_day)[1]),
        }
    )


@endpoint
async def calendar(app: AlpacaMockApp, request: Request) -> Response:
    q = request.query_params
    today = app.clock.now().astimezone(NEW_YORK).date()
    start = parse_time(q.get("start"), "start")
    end = parse_time(q.get("end"), "end")
    first = start.date() if start else today - timedelta(days=30)
    last = end.date() if end else today + timedelta(days=30)
    if (last - first).days > 3660:
        raise BadRequest("date range is too long")
    days = []
    day = first
    while day <= last:
        if is_trading_day(day):
            days.append(
                {
                    "date": day.isoformat(),
                    "open": time(9, 30).strftime("%H:%M"),
                    "close": time(16, 0).strftime("%H:%M"),
                    "session_open": "0400",
                    "session_close": "2000",
                    "settlement_date": (day + timedelta(days=1)).isoformat(),
                }
            )
        day += timedelta(days=1)
    return json_response(days)


def trading_routes() -> list[Route]:
    """The Trading API v2 routes."""
    return [
        Route("/v2/account", get_account, methods=["GET"]),
        Route("/v2/account/configurations", account_configurations, methods=["GET", "PATCH"]),
        Route("/v2/account/activities", activities, methods=["GET"]),
        Route("/v2/account/activities/{activity_type}", activities, methods=["GET"]),
        Route("/v2/orders", orders, methods=["GET", "POST", "DELETE"]),
        Route("/v2/orders:by_client_order_id", order_by_client_id, methods=["GET"]),
        Route("/v2/orders/{order_id}", order, methods=["GET", "PATCH", "DELETE"]),
        Route("/v2/positions", positions, methods=["GET", "DELETE"]),
        Route("/v2/positions/{symbol_or_asset_id}", position, methods=["GET", "DELETE"]),
        Route("/v2/assets", assets, methods=["GET"]),
        Route("/v2/assets/{symbol_or_asset_id}", asset, methods=["GET"]),
        Route("/v2/clock", clock, methods=["GET"]),
        Route("/v2/calendar", calendar, methods=["GET"]),
        Route("/v2/corporate_actions/announcements", announcements, methods=["GET"]),
    ]
