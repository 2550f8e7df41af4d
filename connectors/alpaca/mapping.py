"""Alpaca wire models <-> portico's canonical models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from portico.connectors.alpaca.wire import (
    WireAccount,
    WireActivity,
    WireAnnouncement,
    WireAsset,
    WireBar,
    WireNews,
    WireNonTradeActivity,
    WireOrder,
    WirePosition,
    WireQuote,
    WireSnapshot,
    WireTrade,
    WireTradeUpdate,
)
from portico.errors import NotSupported, PayloadRejected
from portico.models import (
    Account,
    AssetClass,
    Bar,
    BarInterval,
    CashMovement,
    CashMovementType,
    CorporateAction,
    CorporateActionType,
    Execution,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
    Trade,
)

__all__ = [
    "CASH_ACTIVITY_TYPES",
    "EVENT_NAMES",
    "STATUS_MAP",
    "TIMEFRAMES",
    "account_from_wire",
    "action_from_announcement",
    "bar_from_wire",
    "cash_movement_from_activity",
    "event_from_trade_update",
    "execution_from_activity",
    "instrument_from_wire",
    "news_from_wire",
    "order_from_wire",
    "order_request_to_wire",
    "parse",
    "position_from_wire",
    "quote_from_wire",
    "snapshot_from_wire",
    "trade_from_wire",
]

W = TypeVar("W", bound=BaseModel)

STATUS_MAP: dict[str, OrderStatus] = {
    "new": OrderStatus.NEW,
    "accepted": OrderStatus.ACCEPTED,
    "pending_new": OrderStatus.ACCEPTED,
    "accepted_for_bidding": OrderStatus.ACCEPTED,
    "pending_review": OrderStatus.ACCEPTED,
    "held": OrderStatus.ACCEPTED,
    "suspended": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "replaced": OrderStatus.REPLACED,
    "pending_cancel": OrderStatus.PENDING_CANCEL,
    "pending_replace": OrderStatus.PENDING_REPLACE,
    "rejected": OrderStatus.REJECTED,
}
"""Alpaca order statuses with a fixed canonical status; ``done_for_day``, ``stopped`` and ``calculated``
depend on the fill (see :func:`order_from_wire`)."""

EVENT_NAMES: dict[str, str] = {
    "new": "new",
    "fill": "fill",
    "partial_fill": "partial_fill",
    "canceled": "canceled",
    "expired": "expired",
    "done_for_day": "done_for_day",
    "replaced": "replaced",
    "rejected": "rejected",
    "pending_new": "accepted",
    "accepted": "accepted",
    "pending_cancel": "pending_cancel",
    "pending_replace": "pending_replace",
}
"""Trade update events by canonical event name; any other event is reported as ``status``."""

TIMEFRAMES: dict[BarInterval, str] = {
    BarInterval.MIN_1: "1Min",
    BarInterval.MIN_5: "5Min",
    BarInterval.MIN_15: "15Min",
    BarInterval.MIN_30: "30Min",
    BarInterval.HOUR_1: "1Hour",
    BarInterval.DAY: "1Day",
    BarInterval.WEEK: "1Week",
    BarInterval.MONTH: "1Month",
}

_ASSET_CLASSES = {
    "us_equity": AssetClass.EQUITY,
    "crypto": AssetClass.CRYPTO,
    "crypto_perp": AssetClass.CRYPTO,
    "us_option": AssetClass.OPTION,
}
_TO_ASSET_CLASS = {AssetClass.EQUITY: "us_equity", AssetClass.ETF: "us_equity"}
_ORDER_TYPES = {t.value: t for t in (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)}
_TIFS = {t.value: t for t in (TimeInForce.DAY, TimeInForce.GTC, TimeInForce.OPG, TimeInForce.CLS, TimeInForce.IOC, TimeInForce.FOK)}


def parse(model: type[W], data: Any, *, what: str, system: str | None = None) -> W:
    """Validate a payload, or raise :class:`PayloadRejected` naming the field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PayloadRejected(f"Alpaca sent an invalid {what}: {field}: {first['msg']}", field=field, system=system) from None


def _status(wire: WireOrder) -> OrderStatus:
    fixed = STATUS_MAP.get(wire.status)
    if fixed is not None:
        return fixed
    filled = wire.filled_qty or Decimal(0)
    if wire.status == "calculated" and wire.qty is not None and filled >= wire.qty:
        return OrderStatus.FILLED
    # done_for_day, stopped, calculated: still standing, possibly partly filled
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW


def order_from_wire(wire: WireOrder, *, system: str | None = None, account_id: str | None = None) -> Order:
    """A canonical :class:`Order` from Alpaca's Order."""
    try:
        order_type = _ORDER_TYPES[wire.type]
        tif = _TIFS[wire.time_in_force]
        side = OrderSide(wire.side)
    except (KeyError, ValueError) as exc:
        raise PayloadRejected(f"Alpaca sent an order with an unknown value: {exc}", field="order", system=system) from None
    return Order(
        order_id=wire.id,
        client_order_id=wire.client_order_id,
        system=system,
        account_id=account_id,
        symbol=wire.symbol.strip(),
        side=side,
        order_type=order_type,
        time_in_force=tif,
        status=_status(wire),
        quantity=wire.qty if wire.notional is None or wire.qty else None,
        notional=wire.notional,
        filled_quantity=wire.filled_qty,
        average_fill_price=wire.filled_avg_price,
        limit_price=wire.limit_price,
        stop_price=wire.stop_price,
        asset_class=_ASSET_CLASSES.get(wire.asset_class, AssetClass.OTHER),
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        replaced_by=wire.replaced_by,
        replaces=wire.replaces,
        reject_reason="rejected by Alpaca" if wire.status == "rejected" else None,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def order_request_to_wire(request: OrderRequest, client_order_id: str) -> dict[str, Any]:
    """The POST /v2/orders body for a canonical request.

    Raises:
        NotSupported: an order type, time in force or asset class Alpaca does not take.
    """
    if request.order_type.value not in _ORDER_TYPES:
        raise NotSupported(f"Alpaca does not take {request.order_type.value} orders", capability="place_order")
    if request.time_in_force.value not in _TIFS:
        raise NotSupported(f"Alpaca does not take time in force {request.time_in_force.value}", capability="place_order")
    asset_class = _TO_ASSET_CLASS.get(request.asset_class)
    if asset_class is None:
        raise NotSupported(f"Alpaca does not trade {request.asset_class.value}", capability="place_order")
    body: dict[str, Any] = {
        "symbol": request.symbol,
        "side": "buy" if request.side is OrderSide.BUY else "sell",
        "type": request.order_type.value,
        "time_in_force": request.time_in_force.value,
        "client_order_id": client_order_id,
    }
    optional = {
        "qty": _text(request.quantity),
        "notional": _text(request.notional),
        "limit_price": _text(request.limit_price),
        "stop_price": _text(request.stop_price),
        "trail_price": _text(request.trail_price),
        "trail_percent": _text(request.trail_percent),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.extended_hours:
        body["extended_hours"] = True
    for key in ("position_intent", "order_class", "take_profit", "stop_loss"):
        if key in request.params:
            body[key] = request.params[key]
    unknown = sorted(set(request.params) - {"position_intent", "order_class", "take_profit", "stop_loss"})
    if unknown:
        raise PayloadRejected(f"unknown Alpaca order params: {', '.join(unknown)}", field="params")
    return body


def account_from_wire(wire: WireAccount, *, system: str | None = None) -> Account:
    """A canonical :class:`Account`."""
    return Account(
        account_id=wire.id,
        system=system,
        currency=wire.currency or "USD",
        cash=wire.cash,
        buying_power=wire.buying_power,
        equity=wire.equity,
        portfolio_value=wire.portfolio_value,
        long_market_value=wire.long_market_value,
        short_market_value=wire.short_market_value,
        initial_margin=wire.initial_margin,
        maintenance_margin=wire.maintenance_margin,
        pattern_day_trader=wire.pattern_day_trader,
        status=wire.status,
    )


def position_from_wire(wire: WirePosition, *, system: str | None = None, account_id: str | None = None) -> Position:
    """A canonical :class:`Position`; short positions get a negative quantity whatever sign Alpaca used."""
    quantity = abs(wire.qty) * (-1 if wire.side == "short" else 1)
    return Position(
        account_id=account_id,
        symbol=wire.symbol.strip(),
        quantity=quantity,
        asset_class=_ASSET_CLASSES.get(wire.asset_class, AssetClass.OTHER),
        average_cost=wire.avg_entry_price,
        cost_basis=wire.cost_basis,
        market_price=wire.current_price,
        market_value=wire.market_value,
        unrealized_pnl=wire.unrealized_pl,
        venue_instrument_id=wire.asset_id,
        system=system,
    )


def execution_from_activity(wire: WireActivity, *, system: str | None = None, account_id: str | None = None) -> Execution:
    """A canonical :class:`Execution` from a FILL activity."""
    return Execution(
        execution_id=wire.id,
        order_id=wire.order_id,
        system=system,
        account_id=account_id,
        symbol=wire.symbol,
        side=OrderSide.BUY if wire.side == "buy" else OrderSide.SELL,
        quantity=wire.qty,
        price=wire.price,
        executed_at=wire.transaction_time,
    )


def instrument_from_wire(wire: WireAsset, *, system: str = "alpaca") -> Instrument:
    """A canonical :class:`Instrument` from an Asset."""
    return Instrument(
        symbol=wire.symbol,
        asset_class=_ASSET_CLASSES.get(wire.asset_class, AssetClass.OTHER),
        name=wire.name,
        exchange=wire.exchange or None,
        currency="USD",
        venue_ids={system: wire.id},
        tradable=wire.tradable and wire.status == "active",
        fractionable=wire.fractionable,
    )


def bar_from_wire(wire: WireBar, symbol: str, interval: BarInterval) -> Bar:
    """A canonical :class:`Bar`."""
    return Bar(
        symbol=symbol,
        timestamp=wire.t,
        interval=interval,
        open=wire.o,
        high=wire.h,
        low=wire.l,
        close=wire.c,
        volume=wire.v,
        vwap=wire.vw,
        trade_count=wire.n,
        currency="USD",
        source="alpaca",
    )


def quote_from_wire(wire: WireQuote, symbol: str) -> Quote:
    """A canonical :class:`Quote` (sizes as Alpaca reports them)."""
    return Quote(
        symbol=symbol,
        timestamp=wire.t,
        bid_price=wire.bp,
        bid_size=wire.bs,
        ask_price=wire.ap,
        ask_size=wire.as_,
        currency="USD",
        source="alpaca",
    )


def trade_from_wire(wire: WireTrade, symbol: str) -> Trade:
    """A canonical :class:`Trade`."""
    return Trade(
        symbol=symbol,
        timestamp=wire.t,
        price=wire.p,
        size=wire.s,
        exchange=wire.x,
        trade_id=None if wire.i is None else str(wire.i),
        conditions=list(wire.c),
        source="alpaca",
    )


def snapshot_from_wire(wire: WireSnapshot, symbol: str) -> Snapshot:
    """A canonical :class:`Snapshot`."""
    return Snapshot(
        symbol=symbol,
        latest_trade=trade_from_wire(wire.latest_trade, symbol) if wire.latest_trade else None,
        latest_quote=quote_from_wire(wire.latest_quote, symbol) if wire.latest_quote else None,
        minute_bar=bar_from_wire(wire.minute_bar, symbol, BarInterval.MIN_1) if wire.minute_bar else None,
        daily_bar=bar_from_wire(wire.daily_bar, symbol, BarInterval.DAY) if wire.daily_bar else None,
        previous_daily_bar=bar_from_wire(wire.prev_daily_bar, symbol, BarInterval.DAY) if wire.prev_daily_bar else None,
    )


def event_from_trade_update(
    wire: WireTradeUpdate, *, system: str | None = None, account_id: str | None = None, source: str = "stream"
) -> OrderEvent:
    """A canonical :class:`OrderEvent` from a ``trade_updates`` message (with its execution for fills)."""
    order = order_from_wire(wire.order, system=system, account_id=account_id)
    timestamp = wire.timestamp or wire.order.updated_at or wire.order.created_at
    execution = None
    if wire.event in ("fill", "partial_fill") and wire.qty is not None and wire.price is not None:
        execution = Execution(
            execution_id=wire.execution_id or f"{order.order_id}:{order.filled_quantity}",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            system=system,
            account_id=account_id,
            symbol=order.symbol,
            side=order.side,
            quantity=wire.qty,
            price=wire.price,
            executed_at=timestamp,
        )
    event_id = wire.execution_id if execution is not None else None
    if event_id is None:
        event_id = f"{order.order_id}:{wire.event}:{order.filled_quantity}"
    return OrderEvent(
        event=EVENT_NAMES.get(wire.event, "status"),
        order=order,
        execution=execution,
        timestamp=timestamp,
        event_id=event_id,
        system=system,
        source=source,
    )


CASH_ACTIVITY_TYPES: dict[str, CashMovementType] = {
    "DIV": CashMovementType.DIVIDEND,
    "DIVCGL": CashMovementType.DIVIDEND,
    "DIVCGS": CashMovementType.DIVIDEND,
    "DIVROC": CashMovementType.DIVIDEND,
    "CSD": CashMovementType.DEPOSIT,
    "CSW": CashMovementType.WITHDRAWAL,
    "INT": CashMovementType.INTEREST,
    "FEE": CashMovementType.FEE,
    "CFEE": CashMovementType.FEE,
    "DIVNRA": CashMovementType.TAX,
    "DIVTW": CashMovementType.TAX,
    "JNLC": CashMovementType.TRANSFER,
}
"""The non-trade activity types that move cash, as canonical movement types."""


def cash_movement_from_activity(
    wire: WireNonTradeActivity, *, system: str, account_id: str, currency: str = "USD"
) -> CashMovement:
    """A cash activity as a movement; its id is the activity's own (the part after ``::``)."""
    return CashMovement(
        movement_id=wire.id,
        account_id=account_id,
        movement_type=CASH_ACTIVITY_TYPES.get(wire.activity_type, CashMovementType.OTHER),
        amount=wire.net_amount,
        currency=currency,
        date=date.fromisoformat(wire.date[:10]),
        symbol=wire.symbol,
        quantity=wire.qty,
        per_share=wire.per_share_amount,
        description=wire.description,
        status=wire.status,
        source=system,
    )


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def action_from_announcement(wire: WireAnnouncement, *, system: str) -> CorporateAction | None:
    """An announcement as a corporate action (None for types portico does not model, or no ex date).

    Alpaca's rates are old -> new shares for splits; ``cash`` is per share for cash dividends.
    """
    ex = _day(wire.ex_date)
    symbol = (wire.initiating_symbol or wire.target_symbol or "").upper()
    if ex is None or not symbol:
        return None
    common: dict[str, Any] = {
        "symbol": symbol,
        "ex_date": ex,
        "record_date": _day(wire.record_date),
        "pay_date": _day(wire.payable_date),
        "declaration_date": _day(wire.declaration_date),
        "action_id": wire.id,
        "source": system,
    }
    sub = (wire.ca_sub_type or "").lower()
    if wire.ca_type == "split":
        kind = CorporateActionType.REVERSE_SPLIT if sub == "reverse_split" else CorporateActionType.SPLIT
        return CorporateAction(action_type=kind, ratio_from=wire.old_rate, ratio_to=wire.new_rate, **common)
    if wire.ca_type == "dividend" and sub == "stock":
        return CorporateAction(
            action_type=CorporateActionType.STOCK_DIVIDEND,
            ratio_from=wire.old_rate,
            ratio_to=wire.new_rate,
            **common,
        )
    if wire.ca_type == "dividend":
        return CorporateAction(
            action_type=CorporateActionType.CASH_DIVIDEND, cash_amount=wire.cash, currency="USD", **common
        )
    if wire.ca_type in ("merger", "spinoff"):
        kind = CorporateActionType.MERGER if wire.ca_type == "merger" else CorporateActionType.SPINOFF
        target = (wire.target_symbol or "").upper() or None
        return CorporateAction(
            action_type=kind, ratio_from=wire.old_rate, ratio_to=wire.new_rate, new_symbol=target, **common
        )
    return None


def news_from_wire(wire: WireNews, *, system: str) -> NewsItem:
    """An article as a news item (Alpaca gives no sentiment)."""
    return NewsItem(
        id=str(wire.id),
        published_at=wire.created_at,
        updated_at=wire.updated_at,
        headline=wire.headline,
        summary=wire.summary or None,
        url=wire.url or None,
        source=wire.source,
        provider=system,
        symbols=tuple(wire.symbols),
        authors=(wire.author,) if wire.author else (),
    )
