"""The Order API: preview then place (the place must carry the preview's id), change (preview + place),
cancel, and the order list paged by ``marker``, in JSON or XML bodies.

E*TRADE keeps an order's ``orderId`` across a change; the mock does too (the venue's replacement order
answers under the old number)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import NEW_YORK, OrderState, VenueError
from portico.mocks.etrade._accounts import epoch_ms, resolve_account
from portico.mocks.etrade._guard import Call, api
from portico.mocks.etrade._wire import BadRequest, as_list, parse_body, render

if TYPE_CHECKING:
    from portico.mocks.etrade._app import EtradeMockApp

__all__ = ["ORDER_STATUS", "order_routes", "parse_order"]

PRICE_TYPES = {"MARKET": "market", "LIMIT": "limit", "STOP": "stop", "STOP_LIMIT": "stop_limit"}
ORDER_TERMS = {
    "GOOD_FOR_DAY": "day",
    "GOOD_UNTIL_CANCEL": "gtc",
    "IMMEDIATE_OR_CANCEL": "ioc",
    "FILL_OR_KILL": "fok",
}
ACTIONS = {"BUY": "buy", "SELL": "sell", "BUY_TO_COVER": "buy", "SELL_SHORT": "sell"}
ORDER_STATUS = {
    "new": "OPEN",
    "accepted": "OPEN",
    "pending_new": "OPEN",
    "held": "OPEN",
    "partially_filled": "PARTIAL",
    "filled": "EXECUTED",
    "canceled": "CANCELLED",
    "expired": "EXPIRED",
    "rejected": "REJECTED",
    "pending_replace": "OPEN",
}
_CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_LIST_STATUSES = {
    "OPEN",
    "EXECUTED",
    "CANCELLED",
    "INDIVIDUAL_FILLS",
    "CANCEL_REQUESTED",
    "EXPIRED",
    "REJECTED",
    "PARTIAL",
}


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(1001, f"{name} must be a number") from None
    if not number.is_finite():
        raise BadRequest(1001, f"{name} must be a number")
    return number if number > 0 else None


def parse_order(payload: dict[str, Any], root: str) -> dict[str, Any]:
    """The one equity order of a ``PreviewOrderRequest``/``PlaceOrderRequest`` as a plain dict.

    Raises:
        BadRequest: a missing or invalid field, with E*TRADE's wording where it has one.
    """
    request = payload.get(root)
    if not isinstance(request, dict):
        raise BadRequest(101, f"The request body must hold {root}")
    if str(request.get("orderType", "EQ")) != "EQ":
        raise BadRequest(1001, "Only equity (EQ) orders are supported by this service")
    client_order_id = str(request.get("clientOrderId") or "")
    if not _CLIENT_ORDER_ID.match(client_order_id):
        raise BadRequest(1077, "clientOrderId is required: up to 20 letters, digits, '-' or '_'")
    orders = as_list(request.get("Order"))
    if len(orders) != 1 or not isinstance(orders[0], dict):
        raise BadRequest(1001, "Exactly one Order is required")
    order = orders[0]
    instruments = as_list(order.get("Instrument"))
    if len(instruments) != 1 or not isinstance(instruments[0], dict):
        raise BadRequest(1001, "Exactly one Instrument is required for an equity order")
    instrument = instruments[0]
    raw_product = instrument.get("Product")
    product: dict[str, Any] = raw_product if isinstance(raw_product, dict) else {}
    symbol = str(product.get("symbol") or "").strip().upper()
    if not symbol:
        raise BadRequest(1001, "Product.symbol is required")
    if str(product.get("securityType", "EQ")) != "EQ":
        raise BadRequest(1001, "Only securityType EQ is supported by this service")
    action = str(instrument.get("orderAction") or "")
    if action not in ACTIONS:
        raise BadRequest(1001, f"orderAction must be one of {', '.join(ACTIONS)}")
    if str(instrument.get("quantityType", "QUANTITY")) != "QUANTITY":
        raise BadRequest(1001, "quantityType must be QUANTITY")
    quantity = _decimal(instrument.get("quantity"), "quantity")
    if quantity is None:
        raise BadRequest(1001, "quantity must be greater than zero")
    price_type = str(order.get("priceType") or "")
    if price_type not in PRICE_TYPES:
        raise BadRequest(1001, f"priceType must be one of {', '.join(PRICE_TYPES)}")
    term = str(order.get("orderTerm") or "")
    if term not in ORDER_TERMS:
        raise BadRequest(1001, f"orderTerm must be one of {', '.join(ORDER_TERMS)}")
    session = str(order.get("marketSession") or "REGULAR")
    if session not in ("REGULAR", "EXTENDED"):
        raise BadRequest(1001, "marketSession must be REGULAR or EXTENDED")
    limit_price = _decimal(order.get("limitPrice"), "limitPrice")
    stop_price = _decimal(order.get("stopPrice"), "stopPrice")
    if price_type in ("LIMIT", "STOP_LIMIT") and limit_price is None:
        raise BadRequest(1001, "limitPrice is required for this priceType")
    if price_type in ("STOP", "STOP_LIMIT") and stop_price is None:
        raise BadRequest(1001, "stopPrice is required for this priceType")
    return {
        "client_order_id": client_order_id,
        "symbol": symbol,
        "action": action,
        "quantity": quantity,
        "price_type": price_type,
        "order_term": term,
        "market_session": session,
        "limit_price": limit_price if price_type in ("LIMIT", "STOP_LIMIT") else None,
        "stop_price": stop_price if price_type in ("STOP", "STOP_LIMIT") else None,
        "all_or_none": str(order.get("allOrNone", "false")).lower() == "true",
    }


def _preview_ids(payload: dict[str, Any], root: str) -> int:
    request = payload.get(root) or {}
    ids = as_list(request.get("PreviewIds")) if isinstance(request, dict) else []
    if not ids or not isinstance(ids[0], dict) or ids[0].get("previewId") in (None, ""):
        raise BadRequest(1031, "A previewId is required to place an order; preview the order first")
    try:
        return int(str(ids[0]["previewId"]))
    except ValueError:
        raise BadRequest(1031, "previewId must be a number") from None


def _detail(
    spec: dict[str, Any], *, status: str | None = None, order: OrderState | None = None, price: Decimal
) -> dict[str, Any]:
    qty = spec["quantity"]
    detail: dict[str, Any] = {
        "orderTerm": spec["order_term"],
        "priceType": spec["price_type"],
        "limitPrice": spec["limit_price"] or Decimal(0),
        "stopPrice": spec["stop_price"] or Decimal(0),
        "marketSession": spec["market_session"],
        "allOrNone": spec["all_or_none"],
        "netPrice": Decimal(0),
        "netBid": Decimal(0),
        "netAsk": Decimal(0),
        "gcd": 0,
        "ratio": "",
        "orderValue": (qty * (spec["limit_price"] or price)).quantize(Decimal("0.01")),
    }
    if status is not None:
        detail["status"] = status
    if order is not None:
        detail["placedTime"] = epoch_ms(order.submitted_at)
        detail["executedTime"] = epoch_ms(order.filled_at)
    instrument: dict[str, Any] = {
        "Product": {"symbol": spec["symbol"], "securityType": "EQ"},
        "symbolDescription": f"{spec['symbol']} COM",
        "orderAction": spec["action"],
        "quantityType": "QUANTITY",
        "quantity": qty,
        "cancelQuantity": Decimal(0),
        "reserveOrder": False,
        "reserveQuantity": Decimal(0),
        "estimatedCommission": Decimal(0),
        "estimatedFees": Decimal(0),
    }
    if order is not None:
        instrument["orderedQuantity"] = order.qty or qty
        instrument["filledQuantity"] = order.filled_qty
        instrument["averageExecutionPrice"] = order.filled_avg_price or Decimal(0)
    detail["Instrument"] = [instrument]
    return detail


def _spec_of(order: OrderState, client_order_id: str) -> dict[str, Any]:
    extra = order.extra
    return {
        "client_order_id": client_order_id,
        "symbol": order.symbol,
        "action": extra.get("etrade_action") or ("BUY" if order.side == "buy" else "SELL"),
        "quantity": order.qty or Decimal(0),
        "price_type": {v: k for k, v in PRICE_TYPES.items()}.get(order.order_type, "MARKET"),
        "order_term": {v: k for k, v in ORDER_TERMS.items()}.get(order.time_in_force, "GOOD_FOR_DAY"),
        "market_session": "EXTENDED" if order.extended_hours else "REGULAR",
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "all_or_none": bool(extra.get("all_or_none", False)),
    }


def order_wire(app: EtradeMockApp, order: OrderState, number: int) -> dict[str, Any]:
    """One order as ``OrdersResponse.Order`` holds it."""
    client_order_id = app.client_ids.get(number, order.client_order_id)
    spec = _spec_of(order, client_order_id)
    status = ORDER_STATUS.get(order.status, "OPEN")
    return {
        "orderId": number,
        "orderType": "EQ",
        "clientOrderId": client_order_id,
        "OrderDetail": [_detail(spec, status=status, order=order, price=app.venue.price(order.symbol))],
    }


def _check_unique(app: EtradeMockApp, account_id: str, client_order_id: str) -> None:
    try:
        app.venue.get_order_by_client_id(client_order_id, account_id)
    except VenueError:
        return
    raise VenueError("duplicate_client_order_id", "duplicate client order id")


def _preview_answer(
    app: EtradeMockApp, account_id: str, spec: dict[str, Any], preview_id: int
) -> dict[str, Any]:
    price = app.venue.price(spec["symbol"])
    estimate = (spec["quantity"] * (spec["limit_price"] or price)).quantize(Decimal("0.01"))
    return {
        "PreviewOrderResponse": {
            "orderType": "EQ",
            "Order": [
                {
                    **_detail(spec, price=price),
                    "estimatedCommission": Decimal(0),
                    "estimatedTotalAmount": estimate,
                }
            ],
            "totalOrderValue": estimate,
            "PreviewIds": [{"previewId": preview_id}],
            "previewTime": epoch_ms(app.clock.now()),
            "dstFlag": bool(app.clock.now().astimezone(NEW_YORK).dst()),
            "accountId": app.account_numbers[account_id],
            "optionLevelCd": 2,
            "marginLevelCd": "MARGIN_TRADING_ALLOWED",
            "clientOrderId": spec["client_order_id"],
        }
    }


async def _payload(request: Request, call: Call) -> dict[str, Any]:
    return parse_body(call.body, request.headers.get("content-type", "application/xml"))


async def preview(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    spec = parse_order(await _payload(request, call), "PreviewOrderRequest")
    _check_unique(app, account_id, spec["client_order_id"])
    app.venue.asset(spec["symbol"])
    preview_id = app.new_preview_id()
    app.previews[preview_id] = {"account_id": account_id, "spec": spec, "replaces": None}
    return render(_preview_answer(app, account_id, spec, preview_id), call.as_json)


def _matching_preview(
    app: EtradeMockApp, payload: dict[str, Any], account_id: str, replaces: int | None
) -> dict[str, Any]:
    spec = parse_order(payload, "PlaceOrderRequest")
    preview_id = _preview_ids(payload, "PlaceOrderRequest")
    stored = app.previews.get(preview_id)
    if stored is None or stored["account_id"] != account_id or stored["replaces"] != replaces:
        raise BadRequest(1031, "The previewId is not valid for this account; preview the order again")
    if stored["spec"] != spec:
        raise BadRequest(1033, "The order does not match its preview; preview the order again")
    return {**spec, "preview_id": preview_id}


def _place_answer(
    app: EtradeMockApp, account_id: str, spec: dict[str, Any], order: OrderState, number: int
) -> dict[str, Any]:
    price = app.venue.price(spec["symbol"])
    return {
        "PlaceOrderResponse": {
            "orderType": "EQ",
            "Order": [_detail(spec, price=price)],
            "totalOrderValue": (spec["quantity"] * (spec["limit_price"] or price)).quantize(Decimal("0.01")),
            "OrderIds": [{"orderId": number}],
            "PreviewIds": [{"previewId": spec["preview_id"]}],
            "placedTime": epoch_ms(order.submitted_at),
            "accountId": app.account_numbers[account_id],
            "clientOrderId": spec["client_order_id"],
        }
    }


def _venue_args(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "qty": spec["quantity"],
        "limit_price": spec["limit_price"],
        "stop_price": spec["stop_price"],
        "time_in_force": ORDER_TERMS[spec["order_term"]],
    }


async def place(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    spec = _matching_preview(app, await _payload(request, call), account_id, None)
    order = app.venue.place_order(
        symbol=spec["symbol"],
        side=ACTIONS[spec["action"]],
        order_type=PRICE_TYPES[spec["price_type"]],
        client_order_id=spec["client_order_id"],
        extended_hours=spec["market_session"] == "EXTENDED",
        account_id=account_id,
        extra={"etrade_action": spec["action"], "all_or_none": spec["all_or_none"]},
        **_venue_args(spec),
    )
    app.previews.pop(spec["preview_id"], None)
    number = app.order_number(order.id)
    app.client_ids[number] = spec["client_order_id"]
    return render(_place_answer(app, account_id, spec, order, number), call.as_json)


def _open_order(app: EtradeMockApp, account_id: str, raw: str) -> tuple[int, OrderState]:
    try:
        number = int(str(raw).removesuffix(".json"))
    except ValueError:
        raise BadRequest(5002, "The order number you entered does not exist.") from None
    venue_id = app.orders_by_number.get(number)
    if venue_id is None:
        raise VenueError("not_found", "order not found")
    order = app.venue.get_order(venue_id)
    if order.account_id != account_id:
        raise VenueError("not_found", "order not found")
    return number, order


async def change_preview(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    number, order = _open_order(app, account_id, request.path_params["order_id"])
    if not order.is_open:
        raise VenueError("not_replaceable", "order is not open")
    spec = parse_order(await _payload(request, call), "PreviewOrderRequest")
    if spec["symbol"] != order.symbol or ACTIONS[spec["action"]] != order.side:
        raise BadRequest(1001, "A change cannot alter the symbol or the order action")
    preview_id = app.new_preview_id()
    app.previews[preview_id] = {"account_id": account_id, "spec": spec, "replaces": number}
    return render(_preview_answer(app, account_id, spec, preview_id), call.as_json)


async def change_place(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    number, order = _open_order(app, account_id, request.path_params["order_id"])
    spec = _matching_preview(app, await _payload(request, call), account_id, number)
    if PRICE_TYPES[spec["price_type"]] != order.order_type:
        raise BadRequest(1001, "A change cannot alter the priceType")
    new = app.venue.replace_order(order.id, **_venue_args(spec))
    app.previews.pop(spec["preview_id"], None)
    # the changed order answers under the same orderId and client order id
    app.order_numbers[new.id] = number
    app.orders_by_number[number] = new.id
    app.client_ids[number] = spec["client_order_id"]
    return render(_place_answer(app, account_id, spec, new, number), call.as_json)


async def cancel(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    payload = await _payload(request, call)
    body = payload.get("CancelOrderRequest")
    if not isinstance(body, dict) or body.get("orderId") in (None, ""):
        raise BadRequest(101, "CancelOrderRequest.orderId is required")
    number, order = _open_order(app, account_id, body["orderId"])
    canceled = app.venue.cancel_order(order.id)
    data = {
        "CancelOrderResponse": {
            "accountId": app.account_numbers[account_id],
            "orderId": number,
            "cancelTime": epoch_ms(canceled.canceled_at),
            "Messages": {
                "Message": [
                    {
                        "description": "200|Your request to cancel your order is being processed.",
                        "code": 5011,
                        "type": "WARNING",
                    }
                ]
            },
        }
    }
    return render(data, call.as_json)


def _mmddyyyy(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%m%d%Y").date()
    except ValueError:
        raise BadRequest(101, f"{name} must be a date as MMDDYYYY") from None


async def list_orders(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    query = request.query_params
    try:
        count = int(query.get("count") or 25)
        marker = int(query["marker"]) if query.get("marker") else None
    except ValueError:
        raise BadRequest(101, "count and marker must be numbers") from None
    if not 1 <= count <= 100:
        raise BadRequest(101, "count must be between 1 and 100")
    status = query.get("status")
    if status is not None and status not in _LIST_STATUSES:
        raise BadRequest(101, f"status must be one of {', '.join(sorted(_LIST_STATUSES))}")
    symbols = {s.strip().upper() for s in query.get("symbol", "").split(",") if s.strip()}
    since, until = _mmddyyyy(query.get("fromDate"), "fromDate"), _mmddyyyy(query.get("toDate"), "toDate")
    selected: list[tuple[int, OrderState]] = []
    for order in app.venue.list_orders(account_id=account_id, status="all"):
        number = app.order_numbers.get(order.id)
        if number is None or app.orders_by_number.get(number) != order.id:
            continue  # replaced by a change: the replacement answers under this number
        if marker is not None and number > marker:
            continue
        if status is not None and ORDER_STATUS.get(order.status, "OPEN") != status:
            continue
        if symbols and order.symbol not in symbols:
            continue
        day = (order.submitted_at or order.created_at).astimezone(NEW_YORK).date()
        if (since is not None and day < since) or (until is not None and day > until):
            continue
        selected.append((number, order))
    selected.sort(key=lambda item: item[0], reverse=True)
    if not selected:
        return Response(status_code=204)
    page, rest = selected[:count], selected[count:]
    body: dict[str, Any] = {"Order": [order_wire(app, order, number) for number, order in page]}
    if rest:
        body["marker"] = str(rest[0][0])
        body["next"] = str(request.url.include_query_params(marker=rest[0][0]))
    return render({"OrdersResponse": body}, call.as_json)


def order_routes() -> list[Route]:
    """The Order API routes, each with and without ``.json``."""
    routes: list[Route] = []
    for path, handler, method in (
        ("/v1/accounts/{key}/orders", list_orders, "GET"),
        ("/v1/accounts/{key}/orders/preview", preview, "POST"),
        ("/v1/accounts/{key}/orders/place", place, "POST"),
        ("/v1/accounts/{key}/orders/cancel", cancel, "PUT"),
        ("/v1/accounts/{key}/orders/{order_id}/change/preview", change_preview, "PUT"),
        ("/v1/accounts/{key}/orders/{order_id}/change/place", change_place, "PUT"),
    ):
        guarded = api(handler)
        routes.append(Route(path, guarded, methods=[method]))
        routes.append(Route(path + ".json", guarded, methods=[method]))
    return routes
