"""Polygon (Massive) wire models: the vendor's JSON as pydantic models, keyed exactly as the vendor keys them.

Bodies are parsed with ``parse_float=Decimal`` (see :mod:`portico.connectors.polygon.client`), so prices
arrive here as the exact decimals the vendor wrote. Aggregates and the ``last``/snapshot objects use the
vendor's one-letter keys (``o``, ``h``, ``P``...), kept as aliases; the v3 lists use long names. These models
stay inside the connector; :mod:`portico.connectors.polygon.mapping` turns them into canonical models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "WireAgg",
    "WireAggsPage",
    "WireDividend",
    "WireLastQuote",
    "WireLastTrade",
    "WireMarketStatus",
    "WireNews",
    "WireQuote",
    "WireSnapshot",
    "WireSplit",
    "WireStreamAgg",
    "WireStreamQuote",
    "WireStreamTrade",
    "WireTicker",
    "WireTickerDetails",
    "WireTrade",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class WireAgg(_Wire):
    """One aggregate bar (``results[]`` of aggregates, grouped daily, previous close)."""

    open: Decimal = Field(alias="o")
    high: Decimal = Field(alias="h")
    low: Decimal = Field(alias="l")
    close: Decimal = Field(alias="c")
    volume: Decimal = Field(default=Decimal(0), alias="v")
    vwap: Decimal | None = Field(default=None, alias="vw")
    timestamp_ms: int = Field(alias="t")
    transactions: int | None = Field(default=None, alias="n")
    ticker: str | None = Field(default=None, alias="T")


class WireAggsPage(_Wire):
    """An aggregates answer: ``results`` is absent when there are none (unknown ticker, empty range)."""

    status: str
    ticker: str | None = None
    adjusted: bool | None = None
    results_count: int = Field(default=0, alias="resultsCount")
    results: list[WireAgg] = Field(default_factory=list)
    next_url: str | None = None


class WireTrade(_Wire):
    """One ``/v3/trades`` result (nanosecond timestamps, numeric exchange id)."""

    price: Decimal
    size: Decimal
    exchange: int | None = None
    id: str | None = None
    conditions: list[int] | None = None
    sip_timestamp: int
    participant_timestamp: int | None = None
    sequence_number: int | None = None
    tape: int | None = None


class WireQuote(_Wire):
    """One ``/v3/quotes`` result (the NBBO)."""

    bid_price: Decimal | None = None
    bid_size: Decimal | None = None
    bid_exchange: int | None = None
    ask_price: Decimal | None = None
    ask_size: Decimal | None = None
    ask_exchange: int | None = None
    sip_timestamp: int
    participant_timestamp: int | None = None
    sequence_number: int | None = None
    tape: int | None = None


class WireLastTrade(_Wire):
    """``/v2/last/trade`` ``results``."""

    ticker: str = Field(alias="T")
    price: Decimal = Field(alias="p")
    size: Decimal = Field(alias="s")
    exchange: int | None = Field(default=None, alias="x")
    id: str | None = Field(default=None, alias="i")
    conditions: list[int] | None = Field(default=None, alias="c")
    sip_timestamp: int = Field(alias="t")


class WireLastQuote(_Wire):
    """``/v2/last/nbbo`` ``results``: capital letters are the ask side, small letters the bid."""

    ticker: str = Field(alias="T")
    ask_price: Decimal | None = Field(default=None, alias="P")
    ask_size: Decimal | None = Field(default=None, alias="S")
    ask_exchange: int | None = Field(default=None, alias="X")
    bid_price: Decimal | None = Field(default=None, alias="p")
    bid_size: Decimal | None = Field(default=None, alias="s")
    bid_exchange: int | None = Field(default=None, alias="x")
    sip_timestamp: int = Field(alias="t")


class _Ohlc(_Wire):
    open: Decimal = Field(alias="o")
    high: Decimal = Field(alias="h")
    low: Decimal = Field(alias="l")
    close: Decimal = Field(alias="c")
    volume: Decimal = Field(default=Decimal(0), alias="v")
    vwap: Decimal | None = Field(default=None, alias="vw")


class _MinuteOhlc(_Ohlc):
    timestamp_ms: int = Field(alias="t")
    transactions: int | None = Field(default=None, alias="n")


class _SnapshotTrade(_Wire):
    price: Decimal = Field(alias="p")
    size: Decimal = Field(alias="s")
    exchange: int | None = Field(default=None, alias="x")
    id: str | None = Field(default=None, alias="i")
    conditions: list[int] | None = Field(default=None, alias="c")
    timestamp_ns: int = Field(alias="t")


class _SnapshotQuote(_Wire):
    ask_price: Decimal | None = Field(default=None, alias="P")
    ask_size: Decimal | None = Field(default=None, alias="S")
    bid_price: Decimal | None = Field(default=None, alias="p")
    bid_size: Decimal | None = Field(default=None, alias="s")
    timestamp_ns: int = Field(alias="t")


class WireSnapshot(_Wire):
    """One ticker of ``/v2/snapshot/locale/us/markets/stocks/tickers``."""

    ticker: str
    todays_change: Decimal | None = Field(default=None, alias="todaysChange")
    todays_change_percent: Decimal | None = Field(default=None, alias="todaysChangePerc")
    updated: int | None = None
    day: _Ohlc | None = None
    prev_day: _Ohlc | None = Field(default=None, alias="prevDay")
    minute: _MinuteOhlc | None = Field(default=None, alias="min")
    last_trade: _SnapshotTrade | None = Field(default=None, alias="lastTrade")
    last_quote: _SnapshotQuote | None = Field(default=None, alias="lastQuote")


class WireTicker(_Wire):
    """One ``/v3/reference/tickers`` result."""

    ticker: str
    name: str | None = None
    market: str | None = None
    locale: str | None = None
    primary_exchange: str | None = None
    type: str | None = None
    active: bool = True
    currency_name: str | None = None
    cik: str | None = None
    composite_figi: str | None = None
    share_class_figi: str | None = None


class WireTickerDetails(WireTicker):
    """``/v3/reference/tickers/{ticker}`` ``results``."""

    market_cap: Decimal | None = None
    description: str | None = None
    sic_code: str | None = None
    sic_description: str | None = None
    homepage_url: str | None = None
    total_employees: int | None = None
    list_date: str | None = None
    share_class_shares_outstanding: Decimal | None = None
    weighted_shares_outstanding: Decimal | None = None
    address: dict[str, Any] | None = None
    round_lot: int | None = None


class WireDividend(_Wire):
    """One ``/v3/reference/dividends`` result."""

    ticker: str
    cash_amount: Decimal
    currency: str | None = None
    declaration_date: str | None = None
    dividend_type: str | None = None
    ex_dividend_date: str
    frequency: int | None = None
    pay_date: str | None = None
    record_date: str | None = None


class WireSplit(_Wire):
    """One ``/v3/reference/splits`` result: ``split_to`` new shares for every ``split_from`` old ones."""

    ticker: str
    execution_date: str
    split_from: Decimal
    split_to: Decimal


class WireNews(_Wire):
    """One ``/v2/reference/news`` result."""

    id: str
    title: str
    published_utc: str
    article_url: str
    tickers: list[str] = Field(default_factory=list)
    author: str | None = None
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    publisher: dict[str, Any] = Field(default_factory=dict)
    insights: list[dict[str, Any]] = Field(default_factory=list)


class WireMarketStatus(_Wire):
    """``/v1/marketstatus/now`` (no envelope)."""

    market: str
    server_time: str = Field(alias="serverTime")
    early_hours: bool = Field(default=False, alias="earlyHours")
    after_hours: bool = Field(default=False, alias="afterHours")
    exchanges: dict[str, str] = Field(default_factory=dict)
    currencies: dict[str, str] = Field(default_factory=dict)


class WireStreamTrade(_Wire):
    """A ``T`` event of the stocks stream (millisecond timestamp)."""

    symbol: str = Field(alias="sym")
    price: Decimal = Field(alias="p")
    size: Decimal = Field(alias="s")
    exchange: int | None = Field(default=None, alias="x")
    id: str | None = Field(default=None, alias="i")
    conditions: list[int] | None = Field(default=None, alias="c")
    timestamp_ms: int = Field(alias="t")


class WireStreamQuote(_Wire):
    """A ``Q`` event of the stocks stream."""

    symbol: str = Field(alias="sym")
    bid_price: Decimal | None = Field(default=None, alias="bp")
    bid_size: Decimal | None = Field(default=None, alias="bs")
    ask_price: Decimal | None = Field(default=None, alias="ap")
    ask_size: Decimal | None = Field(default=None, alias="as")
    timestamp_ms: int = Field(alias="t")


class WireStreamAgg(_Wire):
    """An ``A`` (second) or ``AM`` (minute) aggregate event; ``s``/``e`` are the window's start and end."""

    event: str = Field(alias="ev")
    symbol: str = Field(alias="sym")
    open: Decimal = Field(alias="o")
    high: Decimal = Field(alias="h")
    low: Decimal = Field(alias="l")
    close: Decimal = Field(alias="c")
    volume: Decimal = Field(default=Decimal(0), alias="v")
    vwap: Decimal | None = Field(default=None, alias="vw")
    start_ms: int = Field(alias="s")
    end_ms: int = Field(alias="e")
