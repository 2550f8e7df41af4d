"""Market data and reference data: bars, quotes, trades, FX, fundamentals, corporate actions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from portico.models._common import AwareDatetime, CanonicalModel, CurrencyCode, Money, Quantity

__all__ = [
    "Bar",
    "BarInterval",
    "CorporateAction",
    "CorporateActionStatus",
    "CorporateActionType",
    "Fundamentals",
    "FxRate",
    "Quote",
    "Snapshot",
    "Trade",
]


class BarInterval(StrEnum):
    """Bar sizes every connector understands; connectors declare which they support."""

    MIN_1 = "1min"
    MIN_5 = "5min"
    MIN_15 = "15min"
    MIN_30 = "30min"
    HOUR_1 = "1hour"
    DAY = "1day"
    WEEK = "1week"
    MONTH = "1month"


class Bar(CanonicalModel):
    """An OHLCV bar. ``timestamp`` is the start of the bar's period."""

    symbol: str
    timestamp: AwareDatetime
    interval: BarInterval = BarInterval.DAY
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Quantity = Decimal(0)
    vwap: Money | None = None
    trade_count: int | None = None
    adjusted_close: Money | None = None
    dividend: Money | None = None
    split_coefficient: Decimal | None = None
    currency: CurrencyCode | None = None
    source: str | None = None


class Quote(CanonicalModel):
    """Best bid and offer at a moment."""

    symbol: str
    timestamp: AwareDatetime
    bid_price: Money | None = None
    bid_size: Quantity | None = None
    ask_price: Money | None = None
    ask_size: Quantity | None = None
    last_price: Money | None = None
    volume: Quantity | None = None
    change: Money | None = None
    change_percent: Decimal | None = None
    previous_close: Money | None = None
    currency: CurrencyCode | None = None
    source: str | None = None

    @property
    def mid(self) -> Decimal | None:
        """The mid price, when both sides are present."""
        if self.bid_price is None or self.ask_price is None:
            return None
        return (self.bid_price + self.ask_price) / 2


class Trade(CanonicalModel):
    """One print on the tape."""

    symbol: str
    timestamp: AwareDatetime
    price: Money
    size: Quantity
    exchange: str | None = None
    trade_id: str | None = None
    conditions: list[str] = Field(default_factory=list)
    source: str | None = None


class Snapshot(CanonicalModel):
    """Latest trade, quote, and the current and previous daily bars of one symbol."""

    symbol: str
    latest_trade: Trade | None = None
    latest_quote: Quote | None = None
    minute_bar: Bar | None = None
    daily_bar: Bar | None = None
    previous_daily_bar: Bar | None = None


class FxRate(CanonicalModel):
    """The price of one unit of ``base`` in ``quote`` currency."""

    base: CurrencyCode
    quote: CurrencyCode
    rate: Decimal
    timestamp: AwareDatetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _positive(self) -> FxRate:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        return self


class Fundamentals(CanonicalModel):
    """Company overview figures and, when asked for, financial statements.

    Statements are lists of per-period dicts keyed by the canonical line item names the connector
    documents; values are Decimal or None.
    """

    symbol: str
    name: str | None = None
    description: str | None = None
    exchange: str | None = None
    currency: CurrencyCode | None = None
    country: str | None = None
    sector: str | None = None
    industry: str | None = None
    market_capitalization: Money | None = None
    pe_ratio: Decimal | None = None
    eps: Money | None = None
    dividend_yield: Decimal | None = None
    beta: Decimal | None = None
    shares_outstanding: Quantity | None = None
    fiscal_year_end: str | None = None
    latest_quarter: date | None = None
    income_statements: list[dict[str, Any]] = Field(default_factory=list)
    balance_sheets: list[dict[str, Any]] = Field(default_factory=list)
    cash_flows: list[dict[str, Any]] = Field(default_factory=list)
    earnings: list[dict[str, Any]] = Field(default_factory=list)
    source: str | None = None


class CorporateActionType(StrEnum):
    """What a corporate action does to holders."""

    CASH_DIVIDEND = "cash_dividend"
    STOCK_DIVIDEND = "stock_dividend"
    SPLIT = "split"
    REVERSE_SPLIT = "reverse_split"
    MERGER = "merger"
    SPINOFF = "spinoff"
    SYMBOL_CHANGE = "symbol_change"


class CorporateActionStatus(StrEnum):
    """Whether a provider stands by an action: ``active``, or ``cancelled`` (withdrawn or corrected away)."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


_SHARE_ACTIONS = frozenset({"split", "reverse_split", "stock_dividend"})


class CorporateAction(CanonicalModel):
    """A corporate action affecting holders of ``symbol``.

    Splits, reverse splits and stock dividends carry ``ratio_from`` old shares becoming ``ratio_to``
    new ones (a 1:4 split is 1 -> 4, a 2:1 reverse split 2 -> 1); cash dividends carry ``cash_amount``
    per share and ``pay_date``; symbol changes, mergers and spin-offs name ``new_symbol``.

    Two reports of one action (from two providers, or a correction from one) share :attr:`key`: the
    symbol, the type and the ex date. ``action_id`` is the provider's own id when it gives one.
    """

    symbol: str
    action_type: CorporateActionType
    ex_date: date
    record_date: date | None = None
    pay_date: date | None = None
    declaration_date: date | None = None
    cash_amount: Money | None = None
    currency: CurrencyCode | None = None
    ratio_from: Decimal | None = None
    ratio_to: Decimal | None = None
    new_symbol: str | None = None
    action_id: str | None = None
    status: CorporateActionStatus = CorporateActionStatus.ACTIVE
    source: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CorporateAction:
        ratios = [r for r in (self.ratio_from, self.ratio_to) if r is not None]
        if self.action_type.value in _SHARE_ACTIONS and any(r <= 0 for r in ratios):
            raise ValueError("ratio_from and ratio_to must be positive")
        if self.cash_amount is not None and self.cash_amount < 0:
            raise ValueError("cash_amount must not be negative")
        return self

    @property
    def key(self) -> str:
        """The action's identity across providers and corrections: ``SYMBOL:type:ex_date``."""
        return f"{self.symbol.strip().upper()}:{self.action_type.value}:{self.ex_date.isoformat()}"

    @property
    def share_factor(self) -> Decimal | None:
        """New shares per old share for splits, reverse splits and stock dividends (None otherwise)."""
        if self.action_type.value not in _SHARE_ACTIONS or not self.ratio_from or not self.ratio_to:
            return None
        return self.ratio_to / self.ratio_from
