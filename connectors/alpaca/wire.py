"""Alpaca's wire models: what the Trading and Market Data APIs send, parsed strictly enough to trust.

Decimal fields arrive as strings (prices in market data as numbers); unknown fields are ignored so a new
field from Alpaca never breaks parsing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "WireAccount",
    "WireActivity",
    "WireAsset",
    "WireBar",
    "WireOrder",
    "WirePosition",
    "WireQuote",
    "WireSnapshot",
    "WireTrade",
    "WireTradeUpdate",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class WireOrder(_Wire):
    """The Order entity."""

    id: str
    client_order_id: str
    created_at: datetime
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    asset_id: str | None = None
    symbol: str
    asset_class: str = "us_equity"
    notional: Decimal | None = None
    qty: Decimal | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    order_class: str = "simple"
    type: str = Field(validation_alias="type")
    side: str
    time_in_force: str
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    status: str
    extended_hours: bool = False
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    hwm: Decimal | None = None
    position_intent: str | None = None


class WireAccount(_Wire):
    """The TradeAccount entity."""

    id: str
    account_number: str
    status: str
    currency: str = "USD"
    cash: Decimal
    buying_power: Decimal | None = None
    equity: Decimal | None = None
    portfolio_value: Decimal | None = None
    long_market_value: Decimal | None = None
    short_market_value: Decimal | None = None
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None
    pattern_day_trader: bool | None = None


class WirePosition(_Wire):
    """The Position entity."""

    asset_id: str
    symbol: str
    exchange: str | None = None
    asset_class: str = "us_equity"
    qty: Decimal
    side: str = "long"
    avg_entry_price: Decimal | None = None
    market_value: Decimal | None = None
    cost_basis: Decimal | None = None
    unrealized_pl: Decimal | None = None
    current_price: Decimal | None = None


class WireAsset(_Wire):
    """The Asset entity (``class`` on the wire)."""

    id: str
    asset_class: str = Field(default="us_equity", validation_alias="class")
    exchange: str = ""
    symbol: str
    name: str | None = None
    status: str = "active"
    tradable: bool = True
    fractionable: bool = False


class WireActivity(_Wire):
    """A FILL trade activity."""

    id: str
    activity_type: str
    transaction_time: datetime
    type: str | None = None
    price: Decimal
    qty: Decimal
    side: str
    symbol: str
    order_id: str
    leaves_qty: Decimal | None = None
    cum_qty: Decimal | None = None


class WireBar(_Wire):
    """A bar in data v2 letters."""

    t: datetime
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - Alpaca's field name
    c: Decimal
    v: Decimal = Decimal(0)
    n: int | None = None
    vw: Decimal | None = None


class WireQuote(_Wire):
    """A quote in data v2 letters."""

    t: datetime
    ap: Decimal | None = None
    as_: Decimal | None = Field(default=None, validation_alias="as")
    ax: str | None = None
    bp: Decimal | None = None
    bs: Decimal | None = None
    bx: str | None = None
    c: list[str] = Field(default_factory=list)
    z: str | None = None


class WireTrade(_Wire):
    """A trade in data v2 letters."""

    t: datetime
    p: Decimal
    s: Decimal
    x: str | None = None
    i: int | str | None = None
    c: list[str] = Field(default_factory=list)
    z: str | None = None


class WireSnapshot(_Wire):
    """A snapshot: latest trade and quote, minute, daily and previous daily bars."""

    latest_trade: WireTrade | None = Field(default=None, validation_alias="latestTrade")
    latest_quote: WireQuote | None = Field(default=None, validation_alias="latestQuote")
    minute_bar: WireBar | None = Field(default=None, validation_alias="minuteBar")
    daily_bar: WireBar | None = Field(default=None, validation_alias="dailyBar")
    prev_daily_bar: WireBar | None = Field(default=None, validation_alias="prevDailyBar")


class WireTradeUpdate(_Wire):
    """The ``data`` of a ``trade_updates`` stream message."""

    event: str
    order: WireOrder
    timestamp: datetime | None = None
    execution_id: str | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None

    @classmethod
    def parse(cls, data: Any) -> WireTradeUpdate:
        """Validate a stream payload."""
        return cls.model_validate(data)


class WireNonTradeActivity(_Wire):
    """A non-trade account activity (``DIV``, ``CSD``, ``CSW``, ``INT``, ``FEE``, ``JNLC``, ``SSP``...)."""

    id: str
    activity_type: str
    date: str
    net_amount: Decimal = Decimal(0)
    symbol: str | None = None
    qty: Decimal | None = None
    per_share_amount: Decimal | None = None
    description: str | None = None
    status: str | None = None


class WireAnnouncement(_Wire):
    """A corporate action announcement."""

    id: str
    corporate_action_id: str | None = None
    ca_type: str
    ca_sub_type: str | None = None
    initiating_symbol: str | None = None
    target_symbol: str | None = None
    declaration_date: str | None = None
    ex_date: str | None = None
    record_date: str | None = None
    payable_date: str | None = None
    cash: Decimal | None = None
    old_rate: Decimal | None = None
    new_rate: Decimal | None = None


class WireNews(_Wire):
    """An article of ``/v1beta1/news``."""

    id: int
    headline: str
    author: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    summary: str | None = None
    url: str | None = None
    symbols: list[str] = Field(default_factory=list)
    source: str | None = None
