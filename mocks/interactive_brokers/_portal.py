"""The Client Portal Web API's REST endpoints under ``/v1/api``, in IB's JSON shapes."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import json_response
from portico.mocks.interactive_brokers._app import IbMockApp, OrderQuestionRule, PendingOrder
from portico.mocks.interactive_brokers._venue import Listing, VenueError, VenueFill, VenueOrder

__all__ = ["PortalError", "live_order", "portal_routes", "snapshot_row", "trade_row"]

API = "/v1/api"
_ORDER_TYPES = {"MKT": "MKT", "MARKET": "MKT", "LMT": "LMT", "LIMIT": "LMT", "STP": "STP", "STOP": "STP",
                "STP LMT": "STP LMT", "STOP_LIMIT": "STP LMT", "STOPLMT": "STP LMT"}  # fmt: skip
_TYPE_NAMES = {"MKT": ("MARKET", "Market"), "LMT": ("LIMIT", "Limit"), "STP": ("STOP", "Stop"),
               "STP LMT": ("STOP_LIMIT", "Stop Limit")}  # fmt: skip


class PortalError(Exception):
    """A request the gateway refuses: ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


Handler = Callable[[IbMockApp, Request], Awaitable[Any]]


def portal(
    handler: Handler, *, brokerage: bool = True, session: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with the gateway's session checks, pacing and error shapes.

    ``session``: needs the SSO login; ``brokerage``: needs the authenticated iserver session too.
    """

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        app: IbMockApp = request.app
        path = request.url.path[len(API) :]
        wait = app.paced(path)
        if wait is not None:
            return json_response(
                {"error": "Too many requests", "statusCode": 429},
                429,
                {"Retry-After": f"{max(1, round(wait))}"},
            )
        app.touch()
        if session and not app.session.sso:
            return json_response({"error": "not logged in", "statusCode": 401}, 401)
        if brokerage and (not app.session.authenticated or app.session.competing):
            return json_response({"error": "not authenticated", "statusCode": 401}, 401)
        try:
            result = await handler(app, request)
        except PortalError as exc:
            return json_response({"error": exc.message, "statusCode": exc.status}, exc.status)
        except VenueError as exc:
            return json_response({"error": exc.message, "code": exc.code}, 400)
        if isinstance(result, Response):
            return result
        return json_response(result)

    return wrapped


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise PortalError("request body must be JSON") from None


def _account(app: IbMockApp, account: str) -> str:
    if account not in app.venue.accounts:
        raise PortalError(f"Account {account} is not available", 400)
    return account


def _millis(at: datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at is not None else None


def _ib_time(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%y%m%d%H%M%S") if at is not None else ""


def _number(text: str) -> str:
    return format(Decimal(text).normalize(), "f") if text else text


# -- session -------------------------------------------------------------------------------------


async def auth_status(app: IbMockApp, request: Request) -> Any:
    return app.auth_status()


async def ssodh_init(app: IbMockApp, request: Request) -> Any:
    data = await request.json() if await request.body() else {}
    if data.get("compete", False):
        app.session.competing = False
    if not app.session.competing:
        app.session.authenticated = True
    return app.auth_status()


async def reauthenticate(app: IbMockApp, request: Request) -> Any:
    if not app.session.competing:
        app.session.authenticated = True
    return {"message": "triggered"}


async def tickle(app: IbMockApp, request: Request) -> Any:
    s = app.session
    return {
        "session": s.session_id,
        "ssoExpires": 585695,
        "collission": s.competing,
        "userId": s.user_id,
        "hmds": {"error": "no bridge"},
        "iserver": {"authStatus": app.auth_status()},
    }


async def logout(app: IbMockApp, request: Request) -> Any:
    app.session.sso = False
    app.session.authenticated = False
    return {"status": True}


async def sso_validate(app: IbMockApp, request: Request) -> Any:
    return {
        "USER_ID": app.session.user_id,
        "USER_NAME": "portico1",
        "RESULT": app.session.sso,
        "AUTH_TIME": 0,
    }


# -- accounts and portfolio ------------------------------------------------------------------------


async def iserver_accounts(app: IbMockApp, request: Request) -> Any:
    accounts = app.venue.accounts
    return {
        "accounts": accounts,
        "aliases": {a: a for a in accounts},
        "selectedAccount": accounts[0],
        "isPaper": True,
    }


async def portfolio_accounts(app: IbMockApp, request: Request) -> Any:
    return [
        {
            "id": a,
            "accountId": a,
            "accountVan": a,
            "accountTitle": "Portico Mock",
            "displayName": "Portico Mock",
            "accountAlias": None,
            "currency": "USD",
            "type": "DEMO",
            "tradingType": "STKNOPT",
            "brokerageAccess": True,
            "faclient": False,
            "clearingStatus": "O",
            "parent": {
                "mmc": [],
                "accountId": "",
                "isMParent": False,
                "isMChild": False,
                "isMultiplex": False,
            },
            "desc": a,
        }
        for a in app.venue.accounts
    ]


async def portfolio_summary(app: IbMockApp, request: Request) -> Any:
    account = _account(app, request.path_params["account"])
    values = app.venue.account_values(account)
    now = _millis(app.venue.now())
    names = {
        "netliquidation": "NetLiquidation",
        "totalcashvalue": "TotalCashValue",
        "buyingpower": "BuyingPower",
        "grosspositionvalue": "GrossPositionValue",
        "equitywithloanvalue": "EquityWithLoanValue",
        "initmarginreq": "InitMarginReq",
        "maintmarginreq": "MaintMarginReq",
        "availablefunds": "AvailableFunds",
        "excessliquidity": "ExcessLiquidity",
        "settledcash": "CashBalance",
    }
    return {
        key: {
            "amount": float(values[tag]),
            "currency": "USD",
            "isNull": False,
            "timestamp": now,
            "value": None,
            "severity": 0,
        }
        for key, tag in names.items()
    }


async def portfolio_ledger(app: IbMockApp, request: Request) -> Any:
    account = _account(app, request.path_params["account"])
    values = app.venue.account_values(account)
    row = {
        "acctcode": account,
        "cashbalance": float(values["TotalCashValue"]),
        "settledcash": float(values["TotalCashValue"]),
        "netliquidationvalue": float(values["NetLiquidation"]),
        "stockmarketvalue": float(values["GrossPositionValue"]),
        "unrealizedpnl": float(values["UnrealizedPnL"]),
        "realizedpnl": 0.0,
        "exchangerate": 1,
        "key": "LedgerList",
        "timestamp": int(app.venue.now().timestamp()),
    }
    return {
        "USD": {**row, "currency": "USD", "secondkey": "USD"},
        "BASE": {**row, "currency": "BASE", "secondkey": "BASE"},
    }


PAGE_SIZE = 100


async def portfolio_positions(app: IbMockApp, request: Request) -> Any:
    account = _account(app, request.path_params["account"])
    try:
        page = int(request.path_params["page"])
    except ValueError:
        raise PortalError("page must be a number") from None
    rows = []
    for conid, (qty, cost) in sorted(
        app.venue.positions(account).items(), key=lambda item: app.venue.listings[item[0]].symbol
    ):
        listing = app.venue.listings[conid]
        price = app.venue.venue.price(listing.symbol)
        rows.append(
            {
                "acctId": account,
                "conid": conid,
                "contractDesc": listing.symbol,
                "ticker": listing.symbol,
                "name": listing.name,
                "position": float(qty),
                "mktPrice": float(price),
                "mktValue": float(qty * price),
                "avgCost": float(cost),
                "avgPrice": float(cost),
                "currency": listing.currency,
                "assetClass": listing.sec_type,
                "listingExchange": listing.exchange,
                "unrealizedPnl": float((price - cost) * qty),
                "realizedPnl": 0.0,
                "pageSize": PAGE_SIZE,
                "isUS": True,
                "type": "ETF" if listing.symbol == "SPY" else "COMMON",
            }
        )
    return rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]


# -- contracts -------------------------------------------------------------------------------------


def _secdef(listing: Listing) -> dict[str, Any]:
    return {
        "conid": str(listing.conid),
        "companyHeader": f"{listing.name} - {listing.exchange}",
        "companyName": listing.name,
        "symbol": listing.symbol,
        "description": listing.exchange,
        "restricted": None,
        "sections": [{"secType": "STK"}, {"secType": "OPT", "exchange": "SMART;"}],
    }


async def secdef_search(app: IbMockApp, request: Request) -> Any:
    if request.method == "POST":
        symbol = str((await _json(request)).get("symbol", ""))
    else:
        symbol = request.query_params.get("symbol", "")
    if not symbol:
        raise PortalError("symbol is required")
    found = app.venue.search(symbol)
    if not found:
        raise PortalError(f"No symbol found: {symbol}", 400)
    return [_secdef(listing) for listing in found]


async def trsrv_stocks(app: IbMockApp, request: Request) -> Any:
    out: dict[str, Any] = {}
    for symbol in [s for s in request.query_params.get("symbols", "").split(",") if s]:
        try:
            listing = app.venue.listing(symbol=symbol)
        except VenueError:
            continue
        out[listing.symbol] = [
            {"name": listing.name, "chineseName": None, "assetClass": "STK",
             "contracts": [{"conid": listing.conid, "exchange": listing.exchange, "isUS": True}]}
        ]  # fmt: skip
    return out


async def contract_info(app: IbMockApp, request: Request) -> Any:
    try:
        listing = app.venue.listing(conid=int(request.path_params["conid"]))
    except ValueError:
        raise PortalError("conid must be a number") from None
    return {
        "con_id": listing.conid,
        "symbol": listing.symbol,
        "company_name": listing.name,
        "exchange": "SMART",
        "listing_exchange": listing.exchange,
        "currency": listing.currency,
        "instrument_type": "STK",
        "local_symbol": listing.symbol,
        "valid_exchanges": f"SMART,{listing.exchange}",
    }


# -- orders ----------------------------------------------------------------------------------------


def live_order(order: VenueOrder) -> dict[str, Any]:
    """A ``iserver/account/orders`` item (and ``sor`` stream item) for ``order``."""
    kind = order.order_type
    orig, label = _TYPE_NAMES.get(kind, (kind, kind))
    price = order.limit_price if kind in {"LMT", "STP LMT"} else order.stop_price
    item: dict[str, Any] = {
        "acct": order.account,
        "account": order.account,
        "conid": order.listing.conid,
        "conidex": str(order.listing.conid),
        "orderId": order.perm_id,
        "cashCcy": order.listing.currency,
        "sizeAndFills": f"{_number(str(order.filled))}/{_number(str(order.quantity))}",
        "orderDesc": f"{order.action.title()} {_number(str(order.quantity))} {label}"
        + (f" {price}" if price is not None else "")
        + f", {order.tif}",
        "description1": order.listing.symbol,
        "ticker": order.listing.symbol,
        "secType": order.listing.sec_type,
        "listingExchange": order.listing.exchange,
        "remainingQuantity": float(order.remaining if order.is_open else 0),
        "filledQuantity": float(order.filled),
        "totalSize": float(order.quantity),
        "companyName": order.listing.name,
        "status": order.status,
        "order_ccp_status": order.status,
        "origOrderType": orig,
        "supportsTaxOpt": "1",
        "lastExecutionTime": _ib_time(order.updated),
        "lastExecutionTime_r": _millis(order.updated),
        "orderType": label,
        "bgColor": "#FFFFFF",
        "fgColor": "#0000CC",
        "order_ref": order.order_ref,
        "timeInForce": order.tif,
        "side": order.action,
        "outsideRTH": order.outside_rth,
    }
    if price is not None:
        item["price"] = str(price)
    if kind == "STP LMT" and order.stop_price is not None:
        item["auxPrice"] = str(order.stop_price)
    if order.filled:
        item["avgPrice"] = str(order.avg_price)
    return item


def _order_status(order: VenueOrder) -> dict[str, Any]:
    kind = order.order_type
    orig, label = _TYPE_NAMES.get(kind, (kind, kind))
    body: dict[str, Any] = {
        "account": order.account,
        "order_id": order.perm_id,
        "conid": order.listing.conid,
        "conidex": str(order.listing.conid),
        "symbol": order.listing.symbol,
        "company_name": order.listing.name,
        "contract_description_1": order.listing.symbol,
        "listing_exchange": order.listing.exchange,
        "sec_type": order.listing.sec_type,
        "currency": order.listing.currency,
        "side": "B" if order.action == "BUY" else "S",
        "order_type": orig,
        "order_status": order.status,
        "order_status_description": "Order Submitted" if order.is_open else f"Order {order.status}",
        "tif": order.tif,
        "size": str(order.quantity),
        "total_size": str(order.quantity),
        "cum_fill": str(order.filled),
        "size_and_fills": f"{_number(str(order.filled))}/{_number(str(order.quantity))}",
        "order_time": _ib_time(order.created),
        "order_description": f"{order.action.title()} {_number(str(order.quantity))} {label}, {order.tif}",
        "outside_rth": order.outside_rth,
        "cannot_cancel_order": not order.is_open,
        "order_not_editable": not order.is_open,
        "deactivate_order": False,
    }
    if order.limit_price is not None:
        body["limit_price"] = str(order.limit_price)
    if order.stop_price is not None:
        body["stop_price"] = str(order.stop_price)
    if order.filled:
        body["average_price"] = str(order.avg_price)
    return body


def trade_row(order: VenueOrder, fill: VenueFill) -> dict[str, Any]:
    """An ``iserver/account/trades`` item (and ``str`` stream item)."""
    return {
        "execution_id": fill.exec_id,
        "symbol": order.listing.symbol,
        "supports_tax_opt": "1",
        "side": "B" if order.action == "BUY" else "S",
        "order_description": f"{'Bot' if order.action == 'BUY' else 'Sold'} {_number(str(fill.quantity))} @ {fill.price} on {order.listing.exchange}",
        "trade_time": fill.time.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S"),
        "trade_time_r": _millis(fill.time),
        "size": float(fill.quantity),
        "price": str(fill.price),
        "order_ref": order.order_ref,
        "submitter": "portico1",
        "exchange": order.listing.exchange,
        "commission": str(fill.commission),
        "net_amount": float(fill.quantity * fill.price),
        "account": order.account,
        "accountCode": order.account,
        "company_name": order.listing.name,
        "contract_description_1": order.listing.symbol,
        "sec_type": order.listing.sec_type,
        "listing_exchange": order.listing.exchange,
        "conid": str(order.listing.conid),
        "conidEx": str(order.listing.conid),
        "order_id": order.perm_id,
        "clearing_id": "IB",
        "clearing_name": "IB",
        "liquidation_trade": "0",
    }


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PortalError(f"invalid {name}: {value!r}") from None
    if not number.is_finite():
        raise PortalError(f"invalid {name}: {value!r}")
    return number


def _ticket(app: IbMockApp, body: dict[str, Any]) -> dict[str, Any]:
    """Validate an order ticket; returns the parsed fields."""
    conid_text = body.get("conid") or str(body.get("conidex", "")).split("@")[0]
    try:
        listing = app.venue.listing(conid=int(conid_text))
    except (TypeError, ValueError):
        raise PortalError("conid is required and must be a number") from None
    order_type = _ORDER_TYPES.get(str(body.get("orderType", "")).upper())
    if order_type is None:
        raise PortalError(f"invalid orderType {body.get('orderType')!r}")
    side = str(body.get("side", "")).upper()
    if side not in {"BUY", "SELL"}:
        raise PortalError(f"invalid side {body.get('side')!r}")
    quantity = _decimal(body.get("quantity"), "quantity")
    if quantity is None or quantity <= 0:
        raise PortalError("quantity must be positive")
    price = _decimal(body.get("price"), "price")
    aux = _decimal(body.get("auxPrice"), "auxPrice")
    limit = price if order_type in {"LMT", "STP LMT"} else None
    stop = price if order_type == "STP" else aux if order_type == "STP LMT" else None
    return {
        "listing": listing,
        "order_type": order_type,
        "side": side,
        "quantity": quantity,
        "limit": limit,
        "stop": stop,
        "tif": str(body.get("tif", "DAY")).upper(),
        "coid": str(body.get("cOID") or ""),
        "outside_rth": bool(body.get("outsideRTH", False)),
    }


def _questions_for(app: IbMockApp, ticket: dict[str, Any]) -> list[OrderQuestionRule]:
    out = []
    last = app.venue.venue.price(ticket["listing"].symbol)
    for rule in app.questions:
        if rule.message_id in app.suppressed:
            continue
        if (
            rule.when == "always"
            or (rule.when == "market" and ticket["order_type"] in {"MKT", "STP"})
            or (
                rule.when == "limit_away"
                and ticket["limit"] is not None
                and abs(ticket["limit"] - last) > last * Decimal("0.03")
            )
        ):
            out.append(rule)
    return out


def _ask(app: IbMockApp, pending: PendingOrder) -> list[dict[str, Any]]:
    rule = pending.questions[0]
    reply_id = secrets.token_hex(16)
    reply_id = f"{reply_id[:8]}-{reply_id[8:12]}-{reply_id[12:16]}-{reply_id[16:20]}-{reply_id[20:]}"
    app.pending[reply_id] = pending
    return [{"id": reply_id, "message": [rule.text], "isSuppressed": False, "messageIds": [rule.message_id]}]


def _commit(app: IbMockApp, pending: PendingOrder) -> list[dict[str, Any]]:
    ticket = _ticket(app, pending.body)
    if pending.modify_of is not None:
        order = app.venue.order_by_perm(pending.modify_of)
        app.venue.modify(
            order,
            quantity=ticket["quantity"],
            limit_price=ticket["limit"],
            stop_price=ticket["stop"],
            tif=ticket["tif"],
        )
        return [{"order_id": str(order.perm_id), "order_status": order.status, "encrypt_message": "1"}]
    if ticket["coid"] and app.venue.find_by_ref(ticket["coid"]) is not None:
        raise PortalError(
            f"Order couldn't be submitted: Local order ID={ticket['coid']} is already registered."
        )
    order = app.venue.place(
        client_id=0,
        order_id=0,
        account=pending.account,
        listing=ticket["listing"],
        action=ticket["side"],
        quantity=ticket["quantity"],
        order_type=ticket["order_type"],
        tif=ticket["tif"],
        limit_price=ticket["limit"],
        stop_price=ticket["stop"],
        order_ref=ticket["coid"],
        outside_rth=ticket["outside_rth"],
        unique_ref=True,
        origin="web",
    )
    return [{"order_id": str(order.perm_id), "order_status": order.status, "encrypt_message": "1"}]


async def place_orders(app: IbMockApp, request: Request) -> Any:
    account = _account(app, request.path_params["account"])
    data = await _json(request)
    orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(orders, list) or not orders:
        raise PortalError('body must be {"orders": [...]}')
    if len(orders) > 1:
        raise PortalError("the mock takes one order per request (brackets are not simulated)")
    body = dict(orders[0])
    if body.get("acctId") and body["acctId"] != account:
        raise PortalError(f"acctId {body['acctId']} does not match the account in the path {account}")
    ticket = _ticket(app, body)
    if ticket["coid"] and app.venue.find_by_ref(ticket["coid"]) is not None:
        raise PortalError(
            f"Order couldn't be submitted: Local order ID={ticket['coid']} is already registered."
        )
    pending = PendingOrder(account=account, body=body, questions=_questions_for(app, ticket))
    if pending.questions:
        return _ask(app, pending)
    return _commit(app, pending)


async def reply(app: IbMockApp, request: Request) -> Any:
    pending = app.pending.pop(request.path_params["reply_id"], None)
    if pending is None:
        raise PortalError("reply id not found or already answered", 400)
    data = await _json(request)
    if not data.get("confirmed", False):
        raise PortalError(f"order not submitted: warning {pending.questions[0].message_id} was not confirmed")
    pending.questions = pending.questions[1:]
    if pending.questions:
        return _ask(app, pending)
    return _commit(app, pending)


async def suppress(app: IbMockApp, request: Request) -> Any:
    data = await _json(request)
    app.suppressed.update(str(m) for m in data.get("messageIds", []))
    return {"status": "submitted"}


async def suppress_reset(app: IbMockApp, request: Request) -> Any:
    app.suppressed.clear()
    return {"status": "submitted"}


def _order_of(app: IbMockApp, request: Request) -> VenueOrder:
    try:
        perm = int(request.path_params["order_id"])
    except ValueError:
        raise PortalError("order id must be a number") from None
    order = app.venue.orders.get(perm)
    if order is None:
        raise PortalError(f"OrderID {perm} doesn't exist", 404)
    return order


async def modify_order(app: IbMockApp, request: Request) -> Any:
    account = _account(app, request.path_params["account"])
    order = _order_of(app, request)
    if order.account != account:
        raise PortalError(f"OrderID {order.perm_id} doesn't exist", 404)
    body = {
        "conid": order.listing.conid,
        "orderType": order.order_type,
        "side": order.action,
        "quantity": str(order.quantity),
        "tif": order.tif,
        "price": str(order.limit_price if order.order_type in {"LMT", "STP LMT"} else order.stop_price or ""),
        **(await _json(request)),
    }
    if order.order_type == "STP LMT" and "auxPrice" not in body and order.stop_price is not None:
        body["auxPrice"] = str(order.stop_price)
    if _ORDER_TYPES.get(str(body.get("orderType", "")).upper()) != order.order_type:
        raise PortalError("Order modify failed. Cannot change to the new order type.")
    pending = PendingOrder(account=account, body=body, questions=[], modify_of=order.perm_id)
    return _commit(app, pending)


async def cancel_order(app: IbMockApp, request: Request) -> Any:
    account = _account(app, request.path_params["account"])
    order = _order_of(app, request)
    if order.account != account:
        raise PortalError(f"OrderID {order.perm_id} doesn't exist", 404)
    app.venue.cancel(order)
    return {"msg": "Request was submitted", "order_id": order.perm_id, "conid": -1, "account": account}


async def live_orders(app: IbMockApp, request: Request) -> Any:
    filters = {f.strip().lower() for f in request.query_params.get("filters", "").split(",") if f.strip()}
    account = request.query_params.get("accountId")
    out = []
    for order in sorted(app.venue.orders.values(), key=lambda o: o.perm_id, reverse=True):
        if account and order.account != account:
            continue
        if filters and order.status.lower() not in filters:
            continue
        out.append(live_order(order))
    return {"orders": out, "snapshot": True}


async def order_status(app: IbMockApp, request: Request) -> Any:
    return _order_status(_order_of(app, request))


async def trades(app: IbMockApp, request: Request) -> Any:
    days = min(7, max(1, int(request.query_params.get("days", "1") or 1)))
    since = app.venue.now() - timedelta(days=days)
    rows = []
    for order in app.venue.orders.values():
        rows += [trade_row(order, f) for f in order.fills if f.time >= since]
    return sorted(rows, key=lambda r: r["trade_time_r"], reverse=True)


# -- market data -----------------------------------------------------------------------------------


def _volume_text(volume: int) -> str:
    if volume >= 1_000_000:
        return f"{volume / 1_000_000:.2f}M"
    if volume >= 1_000:
        return f"{volume / 1_000:.1f}K"
    return str(volume)


def snapshot_row(app: IbMockApp, listing: Listing, fields: list[str]) -> dict[str, Any]:
    """A snapshot (or ``smd`` stream) row of ``listing`` with the asked field codes."""
    quote = app.venue.quote(listing)
    change = quote.last - quote.close
    values = {
        "31": str(quote.last),
        "55": listing.symbol,
        "70": str(quote.high),
        "71": str(quote.low),
        "82": f"{change:+.2f}",
        "83": f"{(change / quote.close * 100) if quote.close else 0:+.2f}",
        "84": str(quote.bid),
        "85": str(quote.ask_size),
        "86": str(quote.ask),
        "87": _volume_text(quote.volume),
        "88": str(quote.bid_size),
        "7059": str(quote.last_size),
        "7295": str(quote.open),
        "7296": str(quote.last),
        "7741": str(quote.close),
        "7762": str(quote.volume),
        "6008": str(listing.conid),
        "6070": listing.sec_type,
        "6509": "RpB",
    }
    row: dict[str, Any] = {"conid": listing.conid, "conidEx": str(listing.conid), "_updated": _millis(quote.at),
                           "server_id": f"q{listing.conid % 97}", "6119": f"q{listing.conid % 97}"}  # fmt: skip
    for code in fields:
        if code in values:
            row[code] = values[code]
    return row


async def snapshot(app: IbMockApp, request: Request) -> Any:
    conids_text = request.query_params.get("conids", "")
    fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    if not conids_text:
        raise PortalError("conids is required")
    rows = []
    for text in conids_text.split(","):
        try:
            listing = app.venue.listing(conid=int(text))
        except (ValueError, VenueError):
            raise PortalError(f"unknown conid {text!r}") from None
        if listing.conid not in app.preflight_done:
            # IB's first snapshot of a contract only opens the line: metadata, no values
            app.preflight_done.add(listing.conid)
            rows.append({"conid": listing.conid, "conidEx": str(listing.conid), "_updated": _millis(app.venue.now()),
                         "server_id": f"q{listing.conid % 97}", "6119": f"q{listing.conid % 97}", "6509": "RpB"})  # fmt: skip
            continue
        rows.append(snapshot_row(app, listing, fields))
    return rows


_PERIODS = {"min": 60, "h": 3600, "d": 86400, "w": 604800, "m": 2592000, "y": 31536000}
_BAR_SECONDS = {"1min": 60, "5min": 300, "15min": 900, "30min": 1800, "1h": 3600, "1d": 86400, "1w": 604800,
                "1m": 2592000}  # fmt: skip
_BARS = {"1min": "1 min", "5min": "5 mins", "15min": "15 mins", "30min": "30 mins", "1h": "1 hour",
         "1d": "1 day", "1w": "1 week", "1m": "1 month"}  # fmt: skip


def _span(text: str) -> timedelta:
    for unit in ("min", "h", "d", "w", "m", "y"):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return timedelta(seconds=int(text[: -len(unit)]) * _PERIODS[unit])
    raise PortalError(f"invalid period {text!r}")


async def history(app: IbMockApp, request: Request) -> Any:
    params = request.query_params
    try:
        listing = app.venue.listing(conid=int(params.get("conid", "")))
    except ValueError:
        raise PortalError("conid is required") from None
    bar = params.get("bar", "1d")
    if bar not in _BARS:
        raise PortalError(f"invalid bar {bar!r}; one of {sorted(_BARS)}")
    span = _span(params.get("period", "1w"))
    end = app.venue.now()
    if params.get("startTime"):
        try:
            end = datetime.strptime(params["startTime"], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise PortalError("startTime must be yyyymmdd-hh:mm:ss") from None
    bars = app.venue.bars(listing, _BARS[bar], start=end - span, end=end)
    data = [{"o": float(b.open), "c": float(b.close), "h": float(b.high), "l": float(b.low), "v": float(b.volume),
             "t": int(b.start.timestamp() * 1000)} for b in bars]  # fmt: skip
    return {
        "serverId": "20477",
        "symbol": listing.symbol,
        "text": listing.name,
        "priceFactor": 100,
        "startTime": (end - span).strftime("%Y%m%d-%H:%M:%S"),
        "high": f"{max((b['h'] for b in data), default=0) * 100:.0f}/0/0",
        "low": f"{min((b['l'] for b in data), default=0) * 100:.0f}/0/0",
        "timePeriod": params.get("period", "1w"),
        "barLength": _BAR_SECONDS[bar],
        "mdAvailability": "S",
        "mktDataDelay": 0,
        "outsideRth": params.get("outsideRth", "false") == "true",
        "volumeFactor": 1,
        "priceDisplayRule": 1,
        "priceDisplayValue": "2",
        "negativeCapable": False,
        "messageVersion": 2,
        "data": data,
        "points": max(0, len(data) - 1),
        "travelTime": 1,
    }


async def unsubscribe_all(app: IbMockApp, request: Request) -> Any:
    app.preflight_done.clear()
    return {"unsubscribed": True}


def portal_routes() -> list[Route]:
    """Every REST route of the Client Portal mock."""

    def r(path: str, handler: Handler, methods: list[str], **kwargs: bool) -> Route:
        return Route(API + path, portal(handler, **kwargs), methods=methods)

    return [
        r("/iserver/auth/status", auth_status, ["GET", "POST"], brokerage=False),
        r("/iserver/auth/ssodh/init", ssodh_init, ["POST"], brokerage=False),
        r("/iserver/reauthenticate", reauthenticate, ["GET", "POST"], brokerage=False),
        r("/tickle", tickle, ["GET", "POST"], brokerage=False),
        r("/logout", logout, ["POST"], brokerage=False, session=False),
        r("/sso/validate", sso_validate, ["GET"], brokerage=False),
        r("/iserver/accounts", iserver_accounts, ["GET"]),
        r("/portfolio/accounts", portfolio_accounts, ["GET"], brokerage=False),
        r("/portfolio/{account}/summary", portfolio_summary, ["GET"], brokerage=False),
        r("/portfolio/{account}/ledger", portfolio_ledger, ["GET"], brokerage=False),
        r("/portfolio/{account}/positions/{page}", portfolio_positions, ["GET"], brokerage=False),
        r("/iserver/secdef/search", secdef_search, ["GET", "POST"]),
        r("/trsrv/stocks", trsrv_stocks, ["GET"], brokerage=False),
        r("/iserver/contract/{conid}/info", contract_info, ["GET"]),
        r("/iserver/account/{account}/orders", place_orders, ["POST"]),
        r("/iserver/reply/{reply_id}", reply, ["POST"]),
        r("/iserver/questions/suppress", suppress, ["POST"]),
        r("/iserver/questions/suppress/reset", suppress_reset, ["POST"]),
        r("/iserver/account/{account}/order/{order_id}", modify_order, ["POST"]),
        r("/iserver/account/{account}/order/{order_id}", cancel_order, ["DELETE"]),
        r("/iserver/account/orders", live_orders, ["GET"]),
        r("/iserver/account/order/status/{order_id}", order_status, ["GET"]),
        r("/iserver/account/trades", trades, ["GET"]),
        r("/iserver/marketdata/snapshot", snapshot, ["GET"]),
        r("/iserver/marketdata/history", history, ["GET"]),
        r("/iserver/marketdata/unsubscribeall", unsubscribe_all, ["GET"]),
    ]
