"""Yahoo Finance wire models: the JSON of the chart, quote, quoteSummary and search endpoints, keyed as Yahoo
keys them.

Yahoo sends numbers as JSON floats (``184.2903594970703``) and, with ``formatted=true``, as ``{"raw", "fmt"}``
objects; these models take either and keep prices as Decimal (from the float's shortest text, never its
binary expansion). Missing values are ``null`` inside arrays (a minute without trades). The models stay in
this connector; :mod:`portico.connectors.yahoo_finance.mapping` turns them into canonical models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "WireChart",
    "WireChartMeta",
    "WireChartResult",
    "WireDividend",
    "WireError",
    "WireQuote",
    "WireSearch",
    "WireSearchQuote",
    "WireSplit",
    "WireSummary",
]


def _number(value: Any) -> Any:
    if isinstance(value, dict):
        value = value.get("raw")  # formatted=true
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


Num = Annotated[Decimal | None, BeforeValidator(_number)]
"""A Yahoo number as Decimal (``null``, raw and ``{"raw", "fmt"}`` accepted)."""


def _integer(value: Any) -> Any:
    if isinstance(value, dict):
        value = value.get("raw")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int | None, BeforeValidator(_integer)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class WireError(_Wire):
    """The ``error`` object of every Yahoo envelope."""

    code: str | None = None
    description: str | None = None


class WireChartMeta(_Wire):
    """``chart.result[0].meta``: the instrument and the exchange's time zone."""

    symbol: str
    currency: str | None = None
    exchange_name: str | None = Field(default=None, alias="exchangeName")
    instrument_type: str | None = Field(default=None, alias="instrumentType")
    exchange_timezone: str = Field(default="America/New_York", alias="exchangeTimezoneName")
    granularity: str | None = Field(default=None, alias="dataGranularity")
    regular_market_price: Num = Field(default=None, alias="regularMarketPrice")


class WireQuoteArrays(_Wire):
    """``indicators.quote[0]``: one array per field, aligned with ``timestamp``."""

    open: list[Num] = Field(default_factory=list)
    high: list[Num] = Field(default_factory=list)
    low: list[Num] = Field(default_factory=list)
    close: list[Num] = Field(default_factory=list)
    volume: list[Num] = Field(default_factory=list)


class WireAdjClose(_Wire):
    adjclose: list[Num] = Field(default_factory=list)


class WireIndicators(_Wire):
    quote: list[WireQuoteArrays] = Field(default_factory=list)
    adjclose: list[WireAdjClose] = Field(default_factory=list)


class WireDividend(_Wire):
    """One ``events.dividends`` entry: the ex date (Unix seconds) and the amount."""

    date: int
    amount: Num
    currency: str | None = None


class WireSplit(_Wire):
    """One ``events.splits`` entry: ``numerator`` new shares for ``denominator`` old ones."""

    date: int
    numerator: Num
    denominator: Num
    split_ratio: str | None = Field(default=None, alias="splitRatio")


class WireEvents(_Wire):
    dividends: dict[str, WireDividend] = Field(default_factory=dict)
    splits: dict[str, WireSplit] = Field(default_factory=dict)


class WireChartResult(_Wire):
    """``chart.result[0]``."""

    meta: WireChartMeta
    timestamp: list[int] = Field(default_factory=list)
    indicators: WireIndicators = WireIndicators()
    events: WireEvents = WireEvents()


class WireChart(_Wire):
    """The ``chart`` envelope: a result, or an error."""

    result: list[WireChartResult] | None = None
    error: WireError | None = None


class WireQuote(_Wire):
    """One ``quoteResponse.result`` item of ``/v7/finance/quote``."""

    symbol: str
    quote_type: str | None = Field(default=None, alias="quoteType")
    currency: str | None = None
    exchange: str | None = None
    short_name: str | None = Field(default=None, alias="shortName")
    long_name: str | None = Field(default=None, alias="longName")
    price: Num = Field(default=None, alias="regularMarketPrice")
    time: Int = Field(default=None, alias="regularMarketTime")
    change: Num = Field(default=None, alias="regularMarketChange")
    change_percent: Num = Field(default=None, alias="regularMarketChangePercent")
    volume: Num = Field(default=None, alias="regularMarketVolume")
    previous_close: Num = Field(default=None, alias="regularMarketPreviousClose")
    bid: Num = None
    ask: Num = None
    bid_size: Num = Field(default=None, alias="bidSize")
    ask_size: Num = Field(default=None, alias="askSize")


class WireSummary(_Wire):
    """``quoteSummary.result[0]``: the modules asked for, each a flat object of figures."""

    price: dict[str, Any] = Field(default_factory=dict)
    summary_detail: dict[str, Any] = Field(default_factory=dict, alias="summaryDetail")
    asset_profile: dict[str, Any] = Field(default_factory=dict, alias="assetProfile")
    key_statistics: dict[str, Any] = Field(default_factory=dict, alias="defaultKeyStatistics")
    quote_type: dict[str, Any] = Field(default_factory=dict, alias="quoteType")
    financial_data: dict[str, Any] = Field(default_factory=dict, alias="financialData")


class WireSearchQuote(_Wire):
    """One ``quotes`` item of ``/v1/finance/search``."""

    symbol: str
    short_name: str | None = Field(default=None, alias="shortname")
    long_name: str | None = Field(default=None, alias="longname")
    quote_type: str | None = Field(default=None, alias="quoteType")
    exchange: str | None = None
    exchange_display: str | None = Field(default=None, alias="exchDisp")


class WireSearch(_Wire):
    """The search answer (only ``quotes`` is read)."""

    quotes: list[dict[str, Any]] = Field(default_factory=list)


class WireSearchNews(_Wire):
    """One ``news`` item of ``/v1/finance/search``."""

    uuid: str
    title: str
    publisher: str | None = None
    link: str | None = None
    provider_publish_time: int = Field(alias="providerPublishTime")
    related_tickers: list[str] = Field(default_factory=list, alias="relatedTickers")
