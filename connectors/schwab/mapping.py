"""Schwab wire models <-> portico's canonical models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from portico.connectors.schwab.wire import (
    WireCandle,
    WireInstrument,
    WireOrder,
    WirePosition,
    WireQuoteBlock,
    WireSecuritiesAccount,
    WireTransaction,
)
from portico.errors import NotSupported, PayloadRejected
from portico.models import (
    Account,
    AssetClass,
    Bar,
    BarInterval,
    Execution,
    Instrument,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    TimeInForce,
)

__all__ = [
    "BAR_FREQUENCIES",
    "STATUS_MAP",
    "TAG_PREFIX",
    "account_from_wire",
    "bar_from_wire",
    "client_id_from_tag",
    "execution_from_transaction",
    "instrument_from_wire",
    "order_from_wire",
    "order_request_to_wire",
    "parse",
    "position_from_wire",
    "quote_from_wire",
]

W = TypeVar("W", bound=BaseModel)

TAG_PREFIX = "portico:"
"""How portico marks the ``tag`` of orders it placed (when ``order_tag`` is on)."""

STATUS_MAP: dict[str, OrderStatus] = {
    "AWAITING_PARENT_ORDER": OrderStatus.ACCEPTED,
    "AWAITING_CONDITION": OrderStatus.ACCEPTED,
    "AWAITING_STOP_CONDITION": OrderStatus.ACCEPTED,
    "AWAITING_MANUAL_REVIEW": OrderStatus.ACCEPTED,
    "ACCEPTED": OrderStatus.ACCEPTED,
    "AWAITING_UR_OUT": OrderStatus.ACCEPTED,
    "PENDING_ACTIVATION": OrderStatus.ACCEPTED,
    "QUEUED": OrderStatus.ACCEPTED,
    "AWAITING_RELEASE_TIME": OrderStatus.ACCEPTED,
    "PENDING_ACKNOWLEDGEMENT": OrderStatus.ACCEPTED,
    "NEW": OrderStatus.NEW,
    "REJECTED": OrderStatus.REJECTED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "PENDING_RECALL": OrderStatus.PENDING_CANCEL,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_REPLACE": OrderStatus.PENDING_REPLACE,
    "REPLACED": OrderStatus.REPLACED,
    "FILLED": OrderStatus.FILLED,
    "EXPIRED": OrderStatus.EXPIRED,
    "UNKNOWN": OrderStatus.UNKNOWN,
}
"""Schwab order statuses with a fixed canonical status; ``WORKING`` depends on the fill (see
:func:`order_from_wire`)."""

BAR_FREQUENCIES: dict[BarInterval, tuple[str, str, int]] = {
    # interval: (periodType, frequencyType, frequency)
    BarInterval.MIN_1: ("day", "minute", 1),
    BarInterval.MIN_5: ("day", "minute", 5),
    BarInterval.MIN_15: ("day", "minute", 15),
    BarInterval.MIN_30: ("day", "minute", 30),
    BarInterval.DAY: ("year", "daily", 1),
    BarInterval.WEEK: ("year", "weekly", 1),
    BarInterval.MONTH: ("year", "monthly", 1),
}

_ORDER_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOP",
    OrderType.STOP_LIMIT: "STOP_LIMIT",
}
_FROM_ORDER_TYPE = {v: k for k, v in _ORDER_TYPES.items()}
_DURATIONS = {
    TimeInForce.DAY: "DAY",
    TimeInForce.GTC: "GOOD_TILL_CANCEL",
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
}
_FROM_DURATION = {v: k for k, v in _DURATIONS.items()}
_INSTRUCTIONS = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL", OrderSide.SELL_SHORT: "SELL_SHORT"}
_SIDE_OF = {
    "BUY": OrderSide.BUY,
    "BUY_TO_COVER": OrderSide.BUY,
    "SELL": OrderSide.SELL,
    "SELL_SHORT": OrderSide.SELL_SHORT,
}
_SESSIONS = ("NORMAL", "AM", "PM", "SEAMLESS")
_ASSET_CLASSES = {"EQUITY": AssetClass.EQUITY, "ETF": AssetClass.ETF, "COLLECTIVE_INVESTMENT": AssetClass.ETF}


def parse(model: type[W], data: Any, *, what: str, system: str | None = None) -> W:
    """Validate one vendor payload; a malformed one is a ``PayloadRejected`` naming what it was."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PayloadRejected(
            f"Schwab sent an unreadable {what}: {where}: {first['msg']}", system=system
        ) from None


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def order_request_to_wire(request: OrderRequest, tag: str | None = None) -> dict[str, Any]:
    """An order request as Schwab's order JSON (a single equity leg).

    ``request.params`` may set ``session`` (``NORMAL``, ``AM``, ``PM``, ``SEAMLESS``) and
    ``instruction`` (``BUY_TO_COVER`` for a buy that closes a short).

    Raises:
        NotSupported: order types, time in force, notional or asset classes Schwab's API (or this
            connector) does not take.
        PayloadRejected: a quantity that is missing, not positive or fractional, or a missing price.
    """
    if request.asset_class not in (AssetClass.EQUITY, AssetClass.ETF):
        raise NotSupported(f"the Schwab connector trades equities and ETFs, not {request.asset_class.value}")
    if request.notional is not None:
        raise NotSupported("Schwab takes no notional (dollar amount) orders: give a quantity of shares")
    order_type = _ORDER_TYPES.get(request.order_type)
    if order_type is None:
        raise NotSupported(f"the Schwab connector does not place {request.order_type.value} orders")
    duration = _DURATIONS.get(request.time_in_force)
    if duration is None:
        raise NotSupported(f"Schwab has no time in force {request.time_in_force.value!r} for equities")
    quantity = request.quantity
    if quantity is None or quantity <= 0:
        raise PayloadRejected("a Schwab order needs a positive quantity of shares", field="quantity")
    if quantity != quantity.to_integral_value():
        raise PayloadRejected(f"Schwab trades whole shares through its API, not {quantity}", field="quantity")
    if order_type in ("LIMIT", "STOP_LIMIT") and request.limit_price is None:
        raise PayloadRejected(f"a {request.order_type.value} order needs limit_price", field="limit_price")
    if order_type in ("STOP", "STOP_LIMIT") and request.stop_price is None:
        raise PayloadRejected(f"a {request.order_type.value} order needs stop_price", field="stop_price")
    session = str(request.params.get("session", "SEAMLESS" if request.extended_hours else "NORMAL")).upper()
    if session not in _SESSIONS:
        raise PayloadRejected(
            f"session must be one of {', '.join(_SESSIONS)}, not {session!r}", field="params.session"
        )
    instruction = str(request.params.get("instruction", _INSTRUCTIONS[request.side])).upper()
    if _SIDE_OF.get(instruction) is not request.side:
        raise PayloadRejected(
            f"instruction {instruction!r} does not match side {request.side.value}",
            field="params.instruction",
        )
    body: dict[str, Any] = {
        "session": session,
        "duration": duration,
        "orderType": order_type,
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {
                "instruction": instruction,
                "quantity": int(quantity),
                "instrument": {"symbol": request.symbol.upper(), "assetType": "EQUITY"},
            }
        ],
    }
    if request.limit_price is not None and order_type in ("LIMIT", "STOP_LIMIT"):
        body["price"] = _text(request.limit_price)
    if request.stop_price is not None and order_type in ("STOP", "STOP_LIMIT"):
        body["stopPrice"] = _text(request.stop_price)
    if tag:
        body["tag"] = tag
    return body


def client_id_from_tag(tag: str | None) -> str | None:
    """The client order id portico put in an order's tag, if it did."""
    if tag and tag.startswith(TAG_PREFIX):
        return tag[len(TAG_PREFIX) :] or None
    return None


def order_from_wire(
    wire: WireOrder, *, system: str | None, account_id: str | None, client_order_id: str | None = None
) -> Order:
    """A Schwab order (its first leg) as a canonical order."""
    if not wire.order_leg_collection:
        raise PayloadRejected(f"Schwab order {wire.order_id} has no legs", system=system)
    leg = wire.order_leg_collection[0]
    filled = wire.filled_quantity
    if wire.status == "WORKING":
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    else:
        status = STATUS_MAP.get(wire.status, OrderStatus.UNKNOWN)
    executed = [x for activity in wire.order_activity_collection for x in activity.execution_legs]
    shares = sum((x.quantity for x in executed), Decimal(0))
    average = (
        (sum((x.quantity * x.price for x in executed), Decimal(0)) / shares).quantize(Decimal("0.0001"))
        if shares
        else None
    )
    replaced_by = (
        wire.replacing_order_collection[0].get("orderId") if wire.replacing_order_collection else None
    )
    return Order(
        order_id=str(wire.order_id),
        client_order_id=client_order_id or client_id_from_tag(wire.tag),
        system=system,
        account_id=account_id,
        symbol=leg.instrument.symbol,
        side=_SIDE_OF.get(leg.instruction, OrderSide.BUY),
        order_type=_FROM_ORDER_TYPE.get(wire.order_type, OrderType.MARKET),
        time_in_force=_FROM_DURATION.get(wire.duration, TimeInForce.DAY),
        status=status,
        quantity=wire.quantity if wire.quantity is not None else leg.quantity,
        filled_quantity=filled,
        average_fill_price=average.normalize() if average is not None else None,
        limit_price=wire.price,
        stop_price=wire.stop_price,
        asset_class=_ASSET_CLASSES.get(leg.instrument.asset_type, AssetClass.EQUITY),
        created_at=wire.entered_time,
        updated_at=wire.close_time or wire.entered_time,
        replaced_by=str(replaced_by) if replaced_by is not None else None,
    )


def account_from_wire(wire: WireSecuritiesAccount, *, system: str | None) -> Account:
    """A securities account's current balances."""
    balances = wire.current_balances
    if balances.cash_balance is None:
        raise PayloadRejected("Schwab account has no currentBalances.cashBalance", system=system)
    return Account(
        account_id=wire.account_number,
        system=system,
        currency="USD",
        cash=balances.cash_balance,
        buying_power=balances.buying_power,
        equity=balances.equity if balances.equity is not None else balances.liquidation_value,
        portfolio_value=balances.liquidation_value,
        long_market_value=balances.long_market_value,
        short_market_value=balances.short_market_value,
        maintenance_margin=balances.maintenance_requirement,
        pattern_day_trader=wire.is_day_trader,
        status="CLOSING_ONLY" if wire.is_closing_only_restricted else "ACTIVE",
    )


def position_from_wire(wire: WirePosition, *, system: str | None, account_id: str | None) -> Position:
    """A position: long minus short quantity."""
    quantity = wire.long_quantity - wire.short_quantity
    pnl = wire.long_open_pnl if quantity > 0 else wire.short_open_pnl
    price = (
        (wire.market_value / quantity).quantize(Decimal("0.0001")).normalize()
        if wire.market_value is not None and quantity
        else None
    )
    return Position(
        account_id=account_id,
        symbol=wire.instrument.symbol,
        quantity=quantity,
        asset_class=_ASSET_CLASSES.get(wire.instrument.asset_type, AssetClass.EQUITY),
        currency="USD",
        average_cost=wire.average_price,
        cost_basis=(wire.average_price * quantity) if wire.average_price is not None else None,
        market_price=price,
        market_value=wire.market_value,
        unrealized_pnl=pnl,
        venue_instrument_id=wire.instrument.cusip,
        system=system,
    )


def execution_from_transaction(
    wire: WireTransaction, *, system: str | None, account_id: str | None, client_order_id: str | None = None
) -> Execution | None:
    """A ``TRADE`` transaction as an execution (its fee items summed as fees); None for other types."""
    if wire.type != "TRADE" or wire.order_id is None:
        return None
    security = next(
        (i for i in wire.transfer_items if i.instrument.asset_type != "CURRENCY" and i.fee_type is None), None
    )
    if security is None or security.price is None or security.amount == 0:
        return None
    fees = -sum(
        (i.cost for i in wire.transfer_items if i.fee_type is not None and i.fee_type != "COMMISSION"),
        Decimal(0),
    )
    commission = -sum((i.cost for i in wire.transfer_items if i.fee_type == "COMMISSION"), Decimal(0))
    return Execution(
        execution_id=str(wire.activity_id),
        order_id=str(wire.order_id),
        client_order_id=client_order_id,
        system=system,
        account_id=account_id,
        symbol=security.instrument.symbol,
        side=OrderSide.BUY if security.amount > 0 else OrderSide.SELL,
        quantity=abs(security.amount),
        price=security.price,
        currency="USD",
        commission=commission,
        fees=fees,
        executed_at=wire.time,
    )


def quote_from_wire(wire: WireQuoteBlock) -> Quote:
    """A quote block of ``/marketdata/v1/quotes``."""
    q = wire.quote
    timestamp = q.quote_time or q.trade_time
    if timestamp is None:
        raise PayloadRejected(f"Schwab quote of {wire.symbol} has no quoteTime")
    return Quote(
        symbol=wire.symbol,
        timestamp=timestamp,
        bid_price=q.bid_price,
        bid_size=q.bid_size,
        ask_price=q.ask_price,
        ask_size=q.ask_size,
        last_price=q.last_price,
        volume=q.total_volume,
        change=q.net_change,
        change_percent=q.net_percent_change,
        previous_close=q.close_price,
        currency="USD",
        source="schwab",
    )


def bar_from_wire(wire: WireCandle, symbol: str, interval: BarInterval) -> Bar:
    """A candle of ``/marketdata/v1/pricehistory``."""
    return Bar(
        symbol=symbol,
        timestamp=wire.datetime,
        interval=interval,
        open=wire.open,
        high=wire.high,
        low=wire.low,
        close=wire.close,
        volume=wire.volume,
        currency="USD",
        source="schwab",
    )


def instrument_from_wire(wire: WireInstrument) -> Instrument:
    """An instrument of ``/marketdata/v1/instruments``."""
    return Instrument(
        symbol=wire.symbol,
        name=wire.description,
        asset_class=_ASSET_CLASSES.get(wire.asset_type, AssetClass.EQUITY),
        exchange=wire.exchange,
        currency="USD",
        cusip=wire.cusip if wire.cusip and len(wire.cusip) == 9 and wire.cusip.isalnum() else None,
        venue_ids={"schwab": wire.symbol},
    )
