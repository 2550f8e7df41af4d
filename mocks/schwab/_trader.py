"""Trader API v1: account numbers and hashes, accounts with positions, orders, transactions, user
preference. Order JSON follows Schwab's order schema (what schwab-py's builders emit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import FillState, OrderState, json_response
from portico.mocks.schwab._app import AccountLink, BadRequest, SchwabMockApp, trader_endpoint
from portico.mocks.schwab._app import cusip_of as _cusip

__all__ = ["order_json", "schwab_time", "trader_routes"]

STATUS = {
    "new": "WORKING",
    "accepted": "ACCEPTED",
    "pending_new": "PENDING_ACTIVATION",
    "partially_filled": "WORKING",
    "filled": "FILLED",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "replaced": "REPLACED",
    "rejected": "REJECTED",
    "pending_cancel": "PENDING_CANCEL",
    "pending_replace": "PENDING_REPLACE",
    "done_for_day": "EXPIRED",
}
_DURATIONS = {"DAY": "day", "GOOD_TILL_CANCEL": "gtc", "FILL_OR_KILL": "fok", "IMMEDIATE_OR_CANCEL": "ioc"}
_DURATION_OF = {v: k for k, v in _DURATIONS.items()}
_ORDER_TYPES = {"MARKET": "market", "LIMIT": "limit", "STOP": "stop", "STOP_LIMIT": "stop_limit"}
_ORDER_TYPE_OF = {v: k for k, v in _ORDER_TYPES.items()}
_INSTRUCTIONS = {"BUY": "buy", "SELL": "sell", "SELL_SHORT": "sell", "BUY_TO_COVER": "buy"}
_SESSIONS = ("NORMAL", "AM", "PM", "SEAMLESS")
_STATUS_FILTER = {
    "WORKING": {"new", "partially_filled"},
    "FILLED": {"filled"},
    "CANCELED": {"canceled"},
    "EXPIRED": {"expired", "done_for_day"},
    "REPLACED": {"replaced"},
    "REJECTED": {"rejected"},
    "PENDING_CANCEL": {"pending_cancel"},
    "PENDING_REPLACE": {"pending_replace"},
    "ACCEPTED": {"accepted"},
    "PENDING_ACTIVATION": {"pending_new"},
}


def schwab_time(value: datetime) -> str:
    """A timestamp as Schwab writes it: ``2024-03-20T14:30:00+0000``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_time(value: str | None, name: str) -> datetime:
    if not value:
        raise BadRequest(f"{name} is required")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} is not a valid ISO-8601 date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequest(f"{name} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"{name} is not a number: {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise BadRequest(f"{name} must be a positive number")
    return number


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _executions(fills: list[FillState]) -> list[dict[str, Any]]:
    return [
        {
            "activityType": "EXECUTION",
            "activityId": int(fill.id.replace("-", "")[:12], 16),
            "executionType": "FILL",
            "quantity": float(fill.qty),
            "orderRemainingQuantity": float(fill.leaves_qty),
            "executionLegs": [
                {
                    "legId": 1,
                    "quantity": float(fill.qty),
                    "mismarkedQuantity": 0.0,
                    "price": float(fill.price),
                    "time": schwab_time(fill.timestamp),
                    "instrumentId": 0,
                }
            ],
        }
        for fill in fills
    ]


def order_json(app: SchwabMockApp, order: OrderState) -> dict[str, Any]:
    """One order in Schwab's shape."""
    link = next(a for a in app.accounts.values() if a.venue_id == order.account_id)
    extra = order.extra
    qty = order.qty or Decimal(0)
    body: dict[str, Any] = {
        "session": extra.get("session", "NORMAL"),
        "duration": _DURATION_OF.get(order.time_in_force, "DAY"),
        "orderType": _ORDER_TYPE_OF.get(order.order_type, order.order_type.upper()),
        "complexOrderStrategyType": "NONE",
        "quantity": float(qty),
        "filledQuantity": float(order.filled_qty),
        "remainingQuantity": float(qty - order.filled_qty) if order.is_open else 0.0,
        "requestedDestination": "AUTO",
        "destinationLinkName": "AutoRoute",
        "orderLegCollection": [
            {
                "orderLegType": "EQUITY",
                "legId": 1,
                "instrument": {
                    "assetType": "EQUITY",
                    "symbol": order.symbol,
                    "instrumentId": int(order.asset_id[:8], 16),
                },
                "instruction": extra.get("instruction", order.side.upper()),
                "positionEffect": "CLOSING"
                if extra.get("instruction") in ("SELL", "BUY_TO_COVER")
                else "OPENING",
                "quantity": float(qty),
            }
        ],
        "orderStrategyType": "SINGLE",
        "orderId": app.order_number(order.id),
        "cancelable": order.is_open,
        "editable": order.is_open,
        "status": STATUS.get(order.status, "WORKING"),
        "enteredTime": schwab_time(order.created_at),
        "accountNumber": int(link.number),
    }
    if order.limit_price is not None:
        body["price"] = float(order.limit_price)
    if order.stop_price is not None:
        body["stopPrice"] = float(order.stop_price)
    closed = order.filled_at or order.canceled_at or order.expired_at or order.replaced_at
    if not order.is_open and closed is not None:
        body["closeTime"] = schwab_time(closed)
    if order.id in app.tags:
        body["tag"] = app.tags[order.id]
    if order.replaces is not None:
        body["statusDescription"] = f"replaces order {app.order_number(order.replaces)}"
    if order.replaced_by is not None:
        body["replacingOrderCollection"] = [{"orderId": app.order_number(order.replaced_by)}]
    fills = app.venue.list_fills(account_id=order.account_id, order_id=order.id)
    if fills:
        body["orderActivityCollection"] = _executions(fills)
    return body


def _order_spec(data: Any) -> dict[str, Any]:
    """The venue arguments of a Schwab order spec; BadRequest naming what is wrong."""
    if not isinstance(data, dict):
        raise BadRequest("order must be a JSON object")
    strategy = data.get("orderStrategyType", "SINGLE")
    if strategy != "SINGLE":
        raise BadRequest(f"orderStrategyType {strategy!r} is not supported by this mock")
    order_type = _ORDER_TYPES.get(str(data.get("orderType", "")))
    if order_type is None:
        raise BadRequest(f"orderType {data.get('orderType')!r} is not supported")
    duration = _DURATIONS.get(str(data.get("duration", "DAY")))
    if duration is None:
        raise BadRequest(f"duration {data.get('duration')!r} is not supported")
    session = str(data.get("session", "NORMAL"))
    if session not in _SESSIONS:
        raise BadRequest(f"session {session!r} is not valid")
    legs = data.get("orderLegCollection")
    if not isinstance(legs, list) or len(legs) != 1 or not isinstance(legs[0], dict):
        raise BadRequest("orderLegCollection must hold exactly one leg")
    leg = legs[0]
    instruction = str(leg.get("instruction", ""))
    if instruction not in _INSTRUCTIONS:
        raise BadRequest(f"instruction {instruction!r} is not valid for an equity")
    raw_instrument = leg.get("instrument")
    instrument: dict[str, Any] = raw_instrument if isinstance(raw_instrument, dict) else {}
    if instrument.get("assetType", "EQUITY") != "EQUITY":
        raise BadRequest(f"assetType {instrument.get('assetType')!r} is not supported by this mock")
    symbol = str(instrument.get("symbol", "")).upper()
    if not symbol:
        raise BadRequest("instrument.symbol is required")
    qty = _decimal(leg.get("quantity"), "quantity")
    if qty is None:
        raise BadRequest("quantity is required")
    tag = data.get("tag")
    return {
        "symbol": symbol,
        "side": _INSTRUCTIONS[instruction],
        "order_type": order_type,
        "time_in_force": duration,
        "qty": qty,
        "limit_price": _decimal(data.get("price"), "price"),
        "stop_price": _decimal(data.get("stopPrice"), "stopPrice"),
        "extended_hours": session != "NORMAL",
        "extra": {"instruction": instruction, "session": session},
        "tag": str(tag) if isinstance(tag, str) and tag else None,
    }


def _account_json(app: SchwabMockApp, link: AccountLink, with_positions: bool) -> dict[str, Any]:
    venue = app.venue
    balances = venue.balances(link.venue_id)
    cash = float(balances["cash"])
    long_value = float(balances.get("long_market_value", 0))
    short_value = float(balances.get("short_market_value", 0))
    equity = float(balances["equity"])
    current = {
        "accruedInterest": 0.0,
        "cashBalance": cash,
        "cashReceipts": 0.0,
        "longOptionMarketValue": 0.0,
        "liquidationValue": equity,
        "longMarketValue": long_value,
        "moneyMarketFund": 0.0,
        "savings": 0.0,
        "shortMarketValue": short_value,
        "pendingDeposits": 0.0,
        "mutualFundValue": 0.0,
        "bondValue": 0.0,
        "shortOptionMarketValue": 0.0,
        "availableFunds": cash,
        "availableFundsNonMarginableTrade": cash,
        "buyingPower": float(balances["buying_power"]),
        "buyingPowerNonMarginableTrade": cash,
        "dayTradingBuyingPower": float(balances["buying_power"]) * 2,
        "equity": equity,
        "equityPercentage": 100.0,
        "longMarginValue": long_value,
        "maintenanceCall": 0.0,
        "maintenanceRequirement": 0.0,
        "marginBalance": 0.0,
        "regTCall": 0.0,
        "shortBalance": 0.0,
        "shortMarginValue": 0.0,
        "sma": 0.0,
    }
    account: dict[str, Any] = {
        "type": "MARGIN",
        "accountNumber": link.number,
        "roundTrips": 0,
        "isDayTrader": False,
        "isClosingOnlyRestricted": False,
        "pfcbFlag": False,
        "initialBalances": {**current, "accountValue": equity},
        "currentBalances": current,
        "projectedBalances": {
            k: current[k] for k in ("availableFunds", "buyingPower", "maintenanceCall", "regTCall")
        },
    }
    if with_positions:
        positions = []
        for pos in venue.list_positions(link.venue_id):
            price = venue.price(pos.symbol)
            qty = float(pos.qty)
            market_value = float(pos.qty * price)
            pnl = float((price - pos.avg_entry_price) * pos.qty)
            positions.append(
                {
                    "shortQuantity": -qty if qty < 0 else 0.0,
                    "averagePrice": float(pos.avg_entry_price),
                    "currentDayProfitLoss": float((price - pos.lastday_price) * pos.qty),
                    "currentDayProfitLossPercentage": 0.0,
                    "longQuantity": qty if qty > 0 else 0.0,
                    "settledLongQuantity": qty if qty > 0 else 0.0,
                    "settledShortQuantity": -qty if qty < 0 else 0.0,
                    "instrument": {
                        "assetType": "EQUITY",
                        "cusip": _cusip(pos.asset_id),
                        "symbol": pos.symbol,
                        "netChange": float(price - pos.lastday_price),
                    },
                    "marketValue": market_value,
                    "maintenanceRequirement": abs(market_value) * 0.25,
                    "averageLongPrice": float(pos.avg_entry_price) if qty > 0 else 0.0,
                    "longOpenProfitLoss": pnl if qty > 0 else 0.0,
                    "shortOpenProfitLoss": pnl if qty < 0 else 0.0,
                    "previousSessionLongQuantity": 0.0,
                    "currentDayCost": 0.0,
                }
            )
        account["positions"] = positions
    return {
        "securitiesAccount": account,
        "aggregatedBalance": {"currentLiquidationValue": equity, "liquidationValue": equity},
    }


def _with_positions(request: Request) -> bool:
    return "positions" in request.query_params.get("fields", "").split(",")


@trader_endpoint()
async def account_numbers(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/accounts/accountNumbers``: plain numbers and their hashes."""
    return json_response(
        [{"accountNumber": a.number, "hashValue": a.hash_value} for a in app.accounts.values()]
    )


@trader_endpoint()
async def accounts(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/accounts``."""
    return json_response([_account_json(app, a, _with_positions(request)) for a in app.accounts.values()])


@trader_endpoint()
async def account(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/accounts/{accountNumber}`` (the hash)."""
    link = app.account_by_hash(request.path_params["account"])
    return json_response(_account_json(app, link, _with_positions(request)))


def _orders(app: SchwabMockApp, request: Request, links: list[AccountLink]) -> Response:
    start = _parse_time(request.query_params.get("fromEnteredTime"), "fromEnteredTime")
    end = _parse_time(request.query_params.get("toEnteredTime"), "toEnteredTime")
    if end < start:
        raise BadRequest("toEnteredTime must not be before fromEnteredTime")
    if end - start > timedelta(days=365):
        raise BadRequest("the date range may span at most one year")
    status = request.query_params.get("status")
    wanted = _STATUS_FILTER.get(status) if status else None
    if status and wanted is None:
        raise BadRequest(f"status {status!r} is not valid")
    try:
        limit = int(request.query_params.get("maxResults", "3000"))
    except ValueError:
        raise BadRequest("maxResults must be an integer") from None
    out: list[dict[str, Any]] = []
    for link in links:
        for order in app.venue.list_orders(account_id=link.venue_id, status="all", direction="desc"):
            # enteredTime has whole seconds, and so does the window
            if not start.replace(microsecond=0) <= order.created_at.replace(microsecond=0) <= end:
                continue
            if wanted is not None and order.status not in wanted:
                continue
            out.append(order_json(app, order))
    out.sort(key=lambda o: (o["enteredTime"], o["orderId"]), reverse=True)
    return json_response(out[:limit])


@trader_endpoint()
async def account_orders(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET`` lists one account's orders in the entered-time window; ``POST`` places one (201 + Location)."""
    link = app.account_by_hash(request.path_params["account"])
    return _orders(app, request, [link])


@trader_endpoint(order=True)
async def place_order(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``POST /trader/v1/accounts/{hash}/orders``: 201, an empty body and the new order's ``Location``."""
    link = app.account_by_hash(request.path_params["account"])
    try:
        data = await request.json()
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None
    spec = _order_spec(data)
    tag = spec.pop("tag")
    order = app.venue.place_order(account_id=link.venue_id, **spec)
    if tag:
        app.tags[order.id] = tag
    number = app.order_number(order.id)
    return Response(status_code=201, headers={"Location": app.location(link, number)})


@trader_endpoint()
async def get_order(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/accounts/{hash}/orders/{orderId}``."""
    link = app.account_by_hash(request.path_params["account"])
    order = app.venue.get_order(app.venue_order_id(request.path_params["order"]))
    if order.account_id != link.venue_id:
        return json_response({"message": "Order not found"}, 404)
    return json_response(order_json(app, order))


@trader_endpoint(order=True)
async def cancel_order(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``DELETE /trader/v1/accounts/{hash}/orders/{orderId}``: 200 with an empty body."""
    link = app.account_by_hash(request.path_params["account"])
    venue_id = app.venue_order_id(request.path_params["order"])
    if app.venue.get_order(venue_id).account_id != link.venue_id:
        return json_response({"message": "Order not found"}, 404)
    app.venue.cancel_order(venue_id)
    return Response(status_code=200)


@trader_endpoint(order=True)
async def replace_order(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``PUT /trader/v1/accounts/{hash}/orders/{orderId}``: a full new spec; 201 + the new order's Location."""
    link = app.account_by_hash(request.path_params["account"])
    venue_id = app.venue_order_id(request.path_params["order"])
    old = app.venue.get_order(venue_id)
    if old.account_id != link.venue_id:
        return json_response({"message": "Order not found"}, 404)
    try:
        data = await request.json()
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None
    spec = _order_spec(data)
    if spec["symbol"] != old.symbol or spec["extra"]["instruction"] != old.extra.get("instruction"):
        raise BadRequest("a replacement must keep the symbol and instruction of the order it replaces")
    if spec["order_type"] != old.order_type:
        raise BadRequest("a replacement must keep the order type of the order it replaces")
    new = app.venue.replace_order(
        venue_id,
        qty=spec["qty"],
        limit_price=spec["limit_price"],
        stop_price=spec["stop_price"],
        time_in_force=spec["time_in_force"],
    )
    if spec["tag"]:
        app.tags[new.id] = spec["tag"]
    return Response(status_code=201, headers={"Location": app.location(link, app.order_number(new.id))})


@trader_endpoint()
async def all_orders(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/orders``: orders of every linked account."""
    return _orders(app, request, list(app.accounts.values()))


def _fee(fill: FillState) -> Decimal:
    # SEC fee on sales, rounded up to the cent as brokers charge it (the mock's own rate)
    if fill.side != "sell":
        return Decimal(0)
    return max(Decimal("0.01"), (fill.qty * fill.price * Decimal("0.0000278")).quantize(Decimal("0.01")))


def _transaction(app: SchwabMockApp, link: AccountLink, fill: FillState) -> dict[str, Any]:
    order = app.venue.orders[fill.order_id]
    sign = Decimal(-1) if fill.side == "buy" else Decimal(1)
    gross = fill.qty * fill.price
    fee = _fee(fill)
    items: list[dict[str, Any]] = [
        {
            "instrument": {
                "assetType": "EQUITY",
                "status": "ACTIVE",
                "symbol": fill.symbol,
                "instrumentId": 0,
                "closingPrice": float(fill.price),
                "type": "COMMON_STOCK",
            },
            "amount": float(fill.qty if fill.side == "buy" else -fill.qty),
            "cost": float(sign * gross),
            "price": float(fill.price),
            "positionEffect": "OPENING"
            if order.extra.get("instruction") in ("BUY", "SELL_SHORT")
            else "CLOSING",
        }
    ]
    if fee:
        items.append(
            {
                "instrument": {
                    "assetType": "CURRENCY",
                    "status": "ACTIVE",
                    "symbol": "CURRENCY_USD",
                    "description": "USD currency",
                    "instrumentId": 1,
                    "closingPrice": 0.0,
                },
                "amount": 0.0,
                "cost": float(-fee),
                "feeType": "SEC_FEE",
            }
        )
    return {
        "activityId": int(fill.id.replace("-", "")[:12], 16),
        "time": schwab_time(fill.timestamp),
        "accountNumber": link.number,
        "type": "TRADE",
        "status": "VALID",
        "subAccount": "CASH",
        "tradeDate": schwab_time(fill.timestamp),
        "settlementDate": schwab_time(fill.timestamp + timedelta(days=1)),
        "positionId": 0,
        "orderId": app.order_number(fill.order_id),
        "netAmount": float(sign * gross - fee),
        "transferItems": items,
    }


@trader_endpoint()
async def transactions(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/accounts/{hash}/transactions?startDate&endDate&types``: trades with their fees."""
    link = app.account_by_hash(request.path_params["account"])
    start = _parse_time(request.query_params.get("startDate"), "startDate")
    end = _parse_time(request.query_params.get("endDate"), "endDate")
    types = request.query_params.get("types")
    if not types:
        raise BadRequest("types is required")
    symbol = request.query_params.get("symbol")
    wanted = set(types.split(","))
    out: list[tuple[Any, dict[str, Any]]] = []
    if "TRADE" in wanted:
        fills = app.venue.list_fills(account_id=link.venue_id, symbol=symbol)
        out.extend((f.timestamp, _transaction(app, link, f)) for f in fills if start <= f.timestamp <= end)
    desk = app.venue.holder_events
    if "DIVIDEND_OR_INTEREST" in wanted and desk is not None:
        app.venue.match()  # settle what is due before answering
        for paid in desk.list(account_id=link.venue_id, types={"DIV"}):
            if start <= paid.timestamp <= end and (symbol is None or paid.symbol == symbol.upper()):
                out.append((paid.timestamp, _dividend_transaction(link, paid)))
    out.sort(key=lambda pair: pair[0])
    return json_response([item for _, item in out])


def _dividend_transaction(link: Any, paid: Any) -> dict[str, Any]:
    """A cash dividend as Schwab lists it: ``DIVIDEND_OR_INTEREST`` with the security as transfer item."""
    return {
        "activityId": int(paid.id.replace("-", "")[:12], 16),
        "time": schwab_time(paid.timestamp),
        "description": "ORDINARY DIVIDEND",
        "accountNumber": link.number,
        "type": "DIVIDEND_OR_INTEREST",
        "status": "VALID",
        "subAccount": "CASH",
        "tradeDate": schwab_time(paid.timestamp),
        "settlementDate": schwab_time(paid.timestamp),
        "netAmount": float(paid.net_amount),
        "transferItems": [
            {
                "instrument": {
                    "assetType": "EQUITY",
                    "status": "ACTIVE",
                    "symbol": paid.symbol,
                    "instrumentId": 0,
                },
                "amount": float(paid.qty),
                "cost": 0.0,
                "price": float(paid.per_share_amount or 0),
            }
        ],
    }


@trader_endpoint()
async def user_preference(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /trader/v1/userPreference``: accounts and the streamer's socket URL and ids."""
    streamer = app.streamer_url or f"ws://{request.url.netloc}/ws"
    return json_response(
        {
            "accounts": [
                {
                    "accountNumber": a.number,
                    "primaryAccount": i == 0,
                    "type": "BROKERAGE",
                    "nickName": "Individual",
                    "displayAcctId": f"...{a.number[-3:]}",
                    "autoPositionEffect": False,
                    "accountColor": "Green",
                }
                for i, a in enumerate(app.accounts.values())
            ],
            "streamerInfo": [
                {
                    "streamerSocketUrl": streamer,
                    "schwabClientCustomerId": f"CUST{app.seed:08d}",
                    "schwabClientCorrelId": app.venue.new_id(),
                    "schwabClientChannel": "N9",
                    "schwabClientFunctionId": "APIAPP",
                }
            ],
            "offers": [{"level2Permissions": True, "mktDataPermission": "NP"}],
        }
    )


async def _orders_route(request: Request) -> Response:
    if request.method == "POST":
        return await place_order(request)
    return await account_orders(request)


async def _order_route(request: Request) -> Response:
    if request.method == "DELETE":
        return await cancel_order(request)
    if request.method == "PUT":
        return await replace_order(request)
    return await get_order(request)


def trader_routes() -> list[Route]:
    """The Trader API routes."""
    base = "/trader/v1"
    return [
        Route(f"{base}/accounts/accountNumbers", account_numbers, methods=["GET"]),
        Route(f"{base}/accounts", accounts, methods=["GET"]),
        Route(f"{base}/accounts/{{account}}", account, methods=["GET"]),
        Route(f"{base}/accounts/{{account}}/orders", _orders_route, methods=["GET", "POST"]),
        Route(
            f"{base}/accounts/{{account}}/orders/{{order}}", _order_route, methods=["GET", "PUT", "DELETE"]
        ),
        Route(f"{base}/accounts/{{account}}/transactions", transactions, methods=["GET"]),
        Route(f"{base}/orders", all_orders, methods=["GET"]),
        Route(f"{base}/userPreference", user_preference, methods=["GET"]),
    ]
