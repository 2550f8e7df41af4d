"""E*TRADE wire <-> portico's canonical models."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from portico.connectors.etrade.wire import WireBalance, WireOrder, WirePosition, WireQuote
from portico.errors import NotSupported, PayloadRejected
from portico.models import (
    Account,
    AssetClass,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    TimeInForce,
)

__all__ = [
    "EVENT_NAMES",
    "ORDER_STATUS",
    "account_from_wire",
    "epoch_ms",
    "order_body",
    "order_event",
    "order_from_wire",
    "parse",
    "position_from_wire",
    "quote_from_wire",
    "wire_client_order_id",
]

W = TypeVar("W", bound=BaseModel)

ORDER_STATUS: dict[str, OrderStatus] = {
    "OPEN": OrderStatus.NEW,
    "PARTIAL": OrderStatus.PARTIALLY_FILLED,
    "INDIVIDUAL_FILLS": OrderStatus.PARTIALLY_FILLED,
    "EXECUTED": OrderStatus.FILLED,
    "DONE_TRADE_EXECUTED": OrderStatus.FILLED,
    "CANCEL_REQUESTED": OrderStatus.PENDING_CANCEL,
    "CANCELLED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    "REJECTED": OrderStatus.REJECTED,
}
_PRICE_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOP",
    OrderType.STOP_LIMIT: "STOP_LIMIT",
}
_TERMS = {
    TimeInForce.DAY: "GOOD_FOR_DAY",
    TimeInForce.GTC: "GOOD_UNTIL_CANCEL",
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
}
_ACTIONS = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL", OrderSide.SELL_SHORT: "SELL_SHORT"}
_SIDES = {
    "BUY": OrderSide.BUY,
    "BUY_TO_COVER": OrderSide.BUY,
    "SELL": OrderSide.SELL,
    "SELL_SHORT": OrderSide.SELL_SHORT,
}
EVENT_NAMES: dict[OrderStatus, str] = {
    OrderStatus.NEW: "new",
    OrderStatus.PARTIALLY_FILLED: "partial_fill",
    OrderStatus.FILLED: "fill",
    OrderStatus.PENDING_CANCEL: "pending_cancel",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
}
_WIRE_ID = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


def parse(model: type[W], data: Any, *, what: str, system: str) -> W:
    """Validate one wire object; a clear :class:`PayloadRejected` when E*TRADE sent something else."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PayloadRejected(
            f"E*TRADE sent an unreadable {what}: {where}: {first['msg']}", system=system
        ) from None


def epoch_ms(value: int | None) -> datetime | None:
    """E*TRADE's millisecond timestamps as aware UTC datetimes (0 and None mean "not yet")."""
    if not value:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def wire_client_order_id(client_order_id: str) -> str:
    """The client order id E*TRADE gets: the caller's own when it fits E*TRADE's 20 characters, else a
    stable 20-character digest of it (the same id always maps to the same wire id, so a lookup after a
    lost answer finds the order)."""
    if _WIRE_ID.match(client_order_id):
        return client_order_id
    return "p" + hashlib.sha256(client_order_id.encode()).hexdigest()[:19]


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None


def account_from_wire(balance: WireBalance, account_id_key: str, *, system: str) -> Account:
    """``BalanceResponse`` as an :class:`Account` (identified by its ``accountIdKey``)."""
    computed = balance.computed
    real = computed.real_time_values
    cash = (
        computed.cash_balance if computed.cash_balance is not None else computed.cash_available_for_investment
    )
    if cash is None:
        raise PayloadRejected("E*TRADE balance has no cashBalance", system=system)
    return Account(
        account_id=account_id_key,
        system=system,
        currency="USD",
        cash=cash,
        buying_power=computed.margin_buying_power
        if computed.margin_buying_power is not None
        else computed.cash_buying_power,
        equity=real.total_account_value if real else None,
        portfolio_value=real.total_account_value if real else None,
        long_market_value=real.net_mv_long if real else None,
        short_market_value=real.net_mv_short if real else None,
        pattern_day_trader=(balance.day_trader_status or "NO_PDT") != "NO_PDT",
        status="ACTIVE",
    )


def position_from_wire(position: WirePosition, account_id_key: str, *, system: str) -> Position:
    """``Position`` as a canonical :class:`Position` (short positions negative)."""
    quantity = -abs(position.quantity) if position.position_type == "SHORT" else abs(position.quantity)
    return Position(
        account_id=account_id_key,
        symbol=position.product.symbol.upper(),
        quantity=quantity,
        asset_class=AssetClass.EQUITY,
        average_cost=position.cost_per_share,
        cost_basis=abs(position.total_cost) if position.total_cost is not None else None,
        market_price=position.quick.last_trade if position.quick else None,
        market_value=position.market_value,
        unrealized_pnl=position.total_gain,
        system=system,
    )


def order_from_wire(
    order: WireOrder, *, system: str, account_id: str | None, client_order_id: str | None = None
) -> Order:
    """``OrdersResponse.Order`` as a canonical :class:`Order`.

    Args:
        client_order_id: the caller's id when E*TRADE holds a digest of it (see :func:`wire_client_order_id`).
    """
    if not order.details or not order.details[0].instruments:
        raise PayloadRejected(f"E*TRADE order {order.order_id} has no OrderDetail/Instrument", system=system)
    detail = order.details[0]
    instrument = detail.instruments[0]
    status = ORDER_STATUS.get(detail.status)
    if status is None:
        raise PayloadRejected(
            f"E*TRADE order {order.order_id} has an unknown status {detail.status!r}", system=system
        )
    filled = instrument.filled_quantity
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    order_type = {v: k for k, v in _PRICE_TYPES.items()}.get(detail.price_type)
    tif = {v: k for k, v in _TERMS.items()}.get(detail.order_term)
    side = _SIDES.get(instrument.order_action)
    if order_type is None or tif is None or side is None:
        raise PayloadRejected(
            f"E*TRADE order {order.order_id} has a priceType/orderTerm/orderAction portico does not know "
            f"({detail.price_type}/{detail.order_term}/{instrument.order_action})",
            system=system,
        )
    created = epoch_ms(detail.placed_time)
    return Order(
        order_id=str(order.order_id),
        client_order_id=client_order_id or order.client_order_id,
        system=system,
        account_id=account_id,
        symbol=instrument.product.symbol.upper(),
        side=side,
        order_type=order_type,
        time_in_force=tif,
        status=status,
        quantity=instrument.ordered_quantity or instrument.quantity,
        filled_quantity=filled,
        average_fill_price=_positive(instrument.average_execution_price),
        limit_price=_positive(detail.limit_price),
        stop_price=_positive(detail.stop_price),
        created_at=created,
        updated_at=epoch_ms(detail.executed_time) or created,
    )


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def order_body(request: OrderRequest, wire_id: str, *, system: str) -> dict[str, Any]:
    """The ``PreviewOrderRequest``/``PlaceOrderRequest`` content of an equity order.

    Raises:
        NotSupported: an order type, time in force or asset class E*TRADE's equity API does not take.
        PayloadRejected: a field E*TRADE would refuse (fractional or missing quantity, IOC on a market order...).
    """
    if request.order_type not in _PRICE_TYPES:
        raise NotSupported(
            f"E*TRADE has no {request.order_type.value} orders", capability="place_order", system=system
        )
    if request.time_in_force not in _TERMS:
        raise NotSupported(
            f"E*TRADE has no {request.time_in_force.value} time in force",
            capability="place_order",
            system=system,
        )
    if request.asset_class not in (AssetClass.EQUITY, AssetClass.ETF):
        raise NotSupported(
            f"the E*TRADE connector trades equities, not {request.asset_class.value}", system=system
        )
    if request.notional is not None or request.quantity is None:
        raise PayloadRejected(
            "E*TRADE orders need a quantity of shares (no notional orders)", field="quantity", system=system
        )
    if request.quantity <= 0 or request.quantity != request.quantity.to_integral_value():
        raise PayloadRejected(
            "E*TRADE takes whole shares only: quantity must be a positive integer",
            field="quantity",
            system=system,
        )
    if (
        request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        and request.order_type is not OrderType.LIMIT
    ):
        raise PayloadRejected(
            "E*TRADE takes IOC and FOK on limit orders only", field="time_in_force", system=system
        )
    if request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and request.limit_price is None:
        raise PayloadRejected("a limit order needs limit_price", field="limit_price", system=system)
    if request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and request.stop_price is None:
        raise PayloadRejected("a stop order needs stop_price", field="stop_price", system=system)
    order: dict[str, Any] = {
        "allOrNone": False,
        "priceType": _PRICE_TYPES[request.order_type],
        "orderTerm": _TERMS[request.time_in_force],
        "marketSession": "EXTENDED" if request.extended_hours else "REGULAR",
        "Instrument": [
            {
                "Product": {"securityType": "EQ", "symbol": request.symbol.upper()},
                "orderAction": _ACTIONS[request.side],
                "quantityType": "QUANTITY",
                "quantity": _number(request.quantity),
            }
        ],
    }
    if request.limit_price is not None and request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        order["limitPrice"] = _number(request.limit_price)
    if request.stop_price is not None and request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        order["stopPrice"] = _number(request.stop_price)
    return {"orderType": "EQ", "clientOrderId": wire_id, "Order": [order]}


def quote_from_wire(quote: WireQuote) -> Quote:
    """``QuoteData`` as a canonical :class:`Quote`."""
    data = quote.all
    return Quote(
        symbol=quote.product.symbol.upper(),
        timestamp=datetime.fromtimestamp(quote.date_time_utc, UTC),
        bid_price=data.bid,
        bid_size=data.bid_size,
        ask_price=data.ask,
        ask_size=data.ask_size,
        last_price=data.last_trade,
        volume=data.total_volume,
        change=data.change_close,
        change_percent=data.change_close_percentage,
        previous_close=data.previous_close,
        currency="USD",
        source="etrade",
    )


def order_event(order: Order, now: datetime, *, system: str) -> OrderEvent:
    """An order's current state as the event a streaming broker would send for it."""
    return OrderEvent(
        event=EVENT_NAMES.get(order.status, "status"),
        order=order,
        timestamp=order.updated_at or now,
        event_id=f"{order.order_id}:{order.status.value}:{order.filled_quantity}",
        system=system,
        source="poll",
    )
