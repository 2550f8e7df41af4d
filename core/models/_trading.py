"""Accounts, positions, orders and executions, with the one order state machine."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from portico.models._common import AwareDatetime, CanonicalModel, CurrencyCode, Money, Quantity
from portico.models._instrument import AssetClass

__all__ = [
    "TERMINAL_STATUSES",
    "Account",
    "Execution",
    "Order",
    "OrderEvent",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "TimeInForce",
    "can_transition",
]


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"
    SELL_SHORT = "sell_short"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"
    MARKET_ON_CLOSE = "market_on_close"
    LIMIT_ON_CLOSE = "limit_on_close"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"
    GTD = "gtd"


class OrderStatus(StrEnum):
    """Canonical order status. Every broker's statuses map onto these.

    ``PENDING_SUBMIT`` is an intent stored but not yet acknowledged; ``UNKNOWN`` is a sent order whose
    outcome is not known (see :class:`portico.errors.OutcomeUnknown`) and must be resolved by lookup.
    """

    PENDING_SUBMIT = "pending_submit"
    UNKNOWN = "unknown"
    ACCEPTED = "accepted"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"


TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REPLACED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

_S = OrderStatus
_LIVE = {_S.ACCEPTED, _S.NEW, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.PENDING_REPLACE}
_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING_SUBMIT: frozenset({_S.UNKNOWN, _S.REJECTED, *_LIVE, *TERMINAL_STATUSES}),
    _S.UNKNOWN: frozenset({_S.REJECTED, *_LIVE, *TERMINAL_STATUSES}),
    _S.ACCEPTED: frozenset({*_LIVE, *TERMINAL_STATUSES}),
    _S.NEW: frozenset({*_LIVE, *TERMINAL_STATUSES} - {_S.ACCEPTED}),
    _S.PARTIALLY_FILLED: frozenset(
        {_S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.PENDING_REPLACE, _S.CANCELED, _S.REPLACED, _S.EXPIRED}
    ),
    _S.PENDING_CANCEL: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.NEW, _S.EXPIRED}),
    _S.PENDING_REPLACE: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.REPLACED, _S.NEW, _S.CANCELED, _S.EXPIRED}),
}


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether an order may move from ``current`` to ``new``.

    Terminal statuses never move. Staying in the same status is allowed (a repeated event, or a
    further partial fill) and is for the caller to treat as a no-op or an update.
    """
    if current == new:
        return True
    return new in _TRANSITIONS.get(current, frozenset())


class Account(CanonicalModel):
    """A brokerage account's balances."""

    account_id: str
    system: str | None = None
    currency: CurrencyCode = "USD"
    cash: Money
    buying_power: Money | None = None
    equity: Money | None = None
    portfolio_value: Money | None = None
    long_market_value: Money | None = None
    short_market_value: Money | None = None
    initial_margin: Money | None = None
    maintenance_margin: Money | None = None
    pattern_day_trader: bool | None = None
    status: str | None = None
    updated_at: AwareDatetime | None = None


class Position(CanonicalModel):
    """A holding in one account. ``quantity`` is negative for a short position."""

    account_id: str | None = None
    symbol: str
    quantity: Quantity
    asset_class: AssetClass = AssetClass.EQUITY
    currency: CurrencyCode = "USD"
    average_cost: Money | None = None
    cost_basis: Money | None = None
    market_price: Money | None = None
    market_value: Money | None = None
    unrealized_pnl: Money | None = None
    isin: str | None = None
    venue_instrument_id: str | None = None
    system: str | None = None


class OrderRequest(CanonicalModel):
    """What a caller asks a broker to do.

    ``client_order_id`` is the idempotency key sent to the venue; the runtime fills one in when the
    caller gives none, and the same key never produces a second order.
    """

    symbol: str = Field(min_length=1)
    side: OrderSide
    quantity: Quantity | None = None
    notional: Money | None = None
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Money | None = None
    stop_price: Money | None = None
    trail_price: Money | None = None
    trail_percent: Decimal | None = None
    asset_class: AssetClass = AssetClass.EQUITY
    account_id: str | None = None
    client_order_id: str | None = Field(default=None, max_length=128)
    extended_hours: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    """Connector-specific options, validated by the connector."""

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        symbol = value.strip().upper()
        if not symbol:
            # min_length ran before the strip: "  " would otherwise become an order for ""
            raise ValueError("symbol must not be blank")
        return symbol

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        if (self.quantity is None) == (self.notional is None):
            raise ValueError("give exactly one of quantity or notional")
        if self.quantity is not None and self.quantity <= 0:
            raise ValueError("quantity must be positive")
        if self.notional is not None and self.notional <= 0:
            raise ValueError("notional must be positive")
        needs_limit = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_ON_CLOSE}
        if self.order_type in needs_limit and self.limit_price is None:
            raise ValueError(f"a {self.order_type.value} order needs limit_price")
        if self.order_type in {OrderType.STOP, OrderType.STOP_LIMIT} and self.stop_price is None:
            raise ValueError(f"a {self.order_type.value} order needs stop_price")
        if self.limit_price is not None and self.order_type in {OrderType.MARKET, OrderType.STOP}:
            # the venue would execute at any price: almost always a forgotten order_type: limit / stop_limit
            raise ValueError(
                f"a {self.order_type.value} order takes no limit_price; use order_type "
                f"{'limit' if self.order_type is OrderType.MARKET else 'stop_limit'} for a price limit"
            )
        if self.order_type is OrderType.TRAILING_STOP and (self.trail_price is None) == (self.trail_percent is None):
            raise ValueError("a trailing_stop order needs exactly one of trail_price or trail_percent")
        for name in ("limit_price", "stop_price", "trail_price"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        return self


class Order(CanonicalModel):
    """An order as the venue knows it."""

    order_id: str
    """The venue's order id."""
    client_order_id: str | None = None
    system: str | None = None
    account_id: str | None = None
    symbol: str
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    status: OrderStatus
    quantity: Quantity | None = None
    notional: Money | None = None
    filled_quantity: Quantity = Decimal(0)
    average_fill_price: Money | None = None
    limit_price: Money | None = None
    stop_price: Money | None = None
    asset_class: AssetClass = AssetClass.EQUITY
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    reject_reason: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the order can no longer change."""
        return self.status in TERMINAL_STATUSES

    @property
    def remaining_quantity(self) -> Decimal | None:
        """Quantity still open, when the order was sized in units."""
        return None if self.quantity is None else self.quantity - self.filled_quantity


class Execution(CanonicalModel):
    """One fill (or partial fill) of an order."""

    execution_id: str
    order_id: str
    client_order_id: str | None = None
    system: str | None = None
    account_id: str | None = None
    symbol: str
    side: OrderSide
    quantity: Quantity
    price: Money
    currency: CurrencyCode = "USD"
    commission: Money | None = None
    fees: Money | None = None
    venue: str | None = None
    executed_at: AwareDatetime


class OrderEvent(CanonicalModel):
    """A change to an order reported by a venue: from a stream, a poll or a lookup.

    ``event_id`` identifies the event at the venue when it gives one, so repeats can be dropped.
    """

    event: str
    """The venue's event name mapped to the canonical vocabulary: new, accepted, partial_fill, fill,
    canceled, replaced, rejected, expired, pending_cancel, pending_replace, done_for_day, status."""
    order: Order
    execution: Execution | None = None
    timestamp: AwareDatetime
    event_id: str | None = None
    system: str | None = None
    source: str = "stream"
    """Where the event came from: stream, poll, lookup or reconciliation."""
