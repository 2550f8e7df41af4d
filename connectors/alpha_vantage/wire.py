"""Alpha Vantage wire models: the vendor's JSON bodies as pydantic models, keyed exactly as the vendor keys them.

Every value Alpha Vantage sends is a string (``"112.6300"``, ``"-0.5852%"``, ``"None"``); these models keep
the vendor's field names as aliases and parse numbers as Decimal. They stay inside this connector;
:mod:`portico.connectors.alpha_vantage.mapping` turns them into canonical models.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "ERROR_KEYS",
    "FUNCTION_DATA_KEYS",
    "WireAdjustedBar",
    "WireBar",
    "WireEarnings",
    "WireExchangeRate",
    "WireGlobalQuote",
    "WireOverview",
    "WireSearchMatch",
    "WireStatements",
    "WireTimeSeries",
    "series_key",
]

ERROR_KEYS = ("Error Message", "Information", "Note")
"""Top-level keys under which Alpha Vantage reports errors and throttling, always with HTTP 200."""

FUNCTION_DATA_KEYS: dict[str, str] = {
    "TIME_SERIES_DAILY": "Time Series (Daily)",
    "TIME_SERIES_DAILY_ADJUSTED": "Time Series (Daily)",
    "TIME_SERIES_WEEKLY": "Weekly Time Series",
    "TIME_SERIES_WEEKLY_ADJUSTED": "Weekly Adjusted Time Series",
    "TIME_SERIES_MONTHLY": "Monthly Time Series",
    "TIME_SERIES_MONTHLY_ADJUSTED": "Monthly Adjusted Time Series",
    "GLOBAL_QUOTE": "Global Quote",
    "SYMBOL_SEARCH": "bestMatches",
    "CURRENCY_EXCHANGE_RATE": "Realtime Currency Exchange Rate",
    "FX_DAILY": "Time Series FX (Daily)",
    "FX_WEEKLY": "Time Series FX (Weekly)",
    "FX_MONTHLY": "Time Series FX (Monthly)",
}
"""The data key of each function whose key does not depend on a parameter (intraday ones carry the interval)."""


def series_key(function: str, interval: str | None = None) -> str:
    """The top-level key holding the series of ``function`` (``Time Series (5min)`` for intraday)."""
    if function == "TIME_SERIES_INTRADAY":
        return f"Time Series ({interval})"
    if function == "FX_INTRADAY":
        return f"Time Series FX ({interval})"
    return FUNCTION_DATA_KEYS[function]


def _number(value: Any) -> Any:
    # Alpha Vantage writes missing figures as "None", "-" or "" rather than omitting them
    if isinstance(value, str):
        text = value.strip().rstrip("%")
        if text in {"", "None", "-", "null"}:
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    return value


Num = Annotated[Decimal | None, BeforeValidator(_number)]
"""A vendor number string (``"112.6300"``, ``"-0.5852%"``) as Decimal; ``"None"`` and ``"-"`` become None."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class WireBar(_Wire):
    """One row of a plain time series (``1. open`` .. ``5. volume``); FX rows have no volume."""

    open: Decimal = Field(alias="1. open")
    high: Decimal = Field(alias="2. high")
    low: Decimal = Field(alias="3. low")
    close: Decimal = Field(alias="4. close")
    volume: Num = Field(default=None, alias="5. volume")


class WireAdjustedBar(_Wire):
    """One row of an adjusted series; weekly and monthly adjusted rows have no split coefficient."""

    open: Decimal = Field(alias="1. open")
    high: Decimal = Field(alias="2. high")
    low: Decimal = Field(alias="3. low")
    close: Decimal = Field(alias="4. close")
    adjusted_close: Decimal = Field(alias="5. adjusted close")
    volume: Num = Field(default=None, alias="6. volume")
    dividend_amount: Num = Field(default=None, alias="7. dividend amount")
    split_coefficient: Num = Field(default=None, alias="8. split coefficient")


class WireTimeSeries(_Wire):
    """A time series body: ``Meta Data`` plus the series under its function's key, newest first."""

    meta: dict[str, str] = Field(alias="Meta Data")
    rows: dict[str, dict[str, str]]

    @classmethod
    def from_body(cls, body: dict[str, Any], key: str) -> WireTimeSeries:
        """Split a body into its meta data and the rows under ``key``."""
        return cls.model_validate({"Meta Data": body.get("Meta Data", {}), "rows": body[key]})

    def meta_value(self, name: str) -> str | None:
        """A meta data value by its name without the ``N. `` prefix (``Time Zone``)."""
        for key, value in self.meta.items():
            if key.split(". ", 1)[-1] == name:
                return value
        return None


class WireGlobalQuote(_Wire):
    """The ``Global Quote`` object."""

    symbol: str = Field(alias="01. symbol")
    open: Num = Field(default=None, alias="02. open")
    high: Num = Field(default=None, alias="03. high")
    low: Num = Field(default=None, alias="04. low")
    price: Num = Field(default=None, alias="05. price")
    volume: Num = Field(default=None, alias="06. volume")
    latest_trading_day: str = Field(alias="07. latest trading day")
    previous_close: Num = Field(default=None, alias="08. previous close")
    change: Num = Field(default=None, alias="09. change")
    change_percent: Num = Field(default=None, alias="10. change percent")


class WireSearchMatch(_Wire):
    """One item of ``bestMatches``."""

    symbol: str = Field(alias="1. symbol")
    name: str = Field(alias="2. name")
    type: str = Field(alias="3. type")
    region: str = Field(alias="4. region")
    market_open: str = Field(alias="5. marketOpen")
    market_close: str = Field(alias="6. marketClose")
    timezone: str = Field(alias="7. timezone")
    currency: str = Field(alias="8. currency")
    match_score: Num = Field(default=None, alias="9. matchScore")


class WireExchangeRate(_Wire):
    """The ``Realtime Currency Exchange Rate`` object."""

    from_code: str = Field(alias="1. From_Currency Code")
    from_name: str | None = Field(default=None, alias="2. From_Currency Name")
    to_code: str = Field(alias="3. To_Currency Code")
    to_name: str | None = Field(default=None, alias="4. To_Currency Name")
    rate: Decimal = Field(alias="5. Exchange Rate")
    last_refreshed: str = Field(alias="6. Last Refreshed")
    time_zone: str = Field(default="UTC", alias="7. Time Zone")
    bid: Num = Field(default=None, alias="8. Bid Price")
    ask: Num = Field(default=None, alias="9. Ask Price")


class WireOverview(_Wire):
    """The flat ``OVERVIEW`` object (only the fields portico maps; the rest stay in the body)."""

    symbol: str = Field(alias="Symbol")
    asset_type: str | None = Field(default=None, alias="AssetType")
    name: str | None = Field(default=None, alias="Name")
    description: str | None = Field(default=None, alias="Description")
    exchange: str | None = Field(default=None, alias="Exchange")
    currency: str | None = Field(default=None, alias="Currency")
    country: str | None = Field(default=None, alias="Country")
    sector: str | None = Field(default=None, alias="Sector")
    industry: str | None = Field(default=None, alias="Industry")
    fiscal_year_end: str | None = Field(default=None, alias="FiscalYearEnd")
    latest_quarter: str | None = Field(default=None, alias="LatestQuarter")
    market_capitalization: Num = Field(default=None, alias="MarketCapitalization")
    pe_ratio: Num = Field(default=None, alias="PERatio")
    eps: Num = Field(default=None, alias="EPS")
    dividend_yield: Num = Field(default=None, alias="DividendYield")
    beta: Num = Field(default=None, alias="Beta")
    shares_outstanding: Num = Field(default=None, alias="SharesOutstanding")


class WireStatements(_Wire):
    """``INCOME_STATEMENT`` / ``BALANCE_SHEET`` / ``CASH_FLOW``: per-period reports of string figures."""

    symbol: str
    annual_reports: list[dict[str, str]] = Field(default_factory=list, alias="annualReports")
    quarterly_reports: list[dict[str, str]] = Field(default_factory=list, alias="quarterlyReports")


class WireEarnings(_Wire):
    """``EARNINGS``: annual and quarterly reported EPS."""

    symbol: str
    annual_earnings: list[dict[str, str]] = Field(default_factory=list, alias="annualEarnings")
    quarterly_earnings: list[dict[str, str]] = Field(default_factory=list, alias="quarterlyEarnings")


class WireDividend(_Wire):
    """One row of ``DIVIDENDS`` (dates ``YYYY-MM-DD`` or ``"None"``)."""

    ex_dividend_date: str
    declaration_date: str | None = None
    record_date: str | None = None
    payment_date: str | None = None
    amount: Num = None


class WireSplit(_Wire):
    """One row of ``SPLITS``: ``split_factor`` new shares per old share (``0.1000`` for a 1:10 reverse split)."""

    effective_date: str
    split_factor: Num = None


class WireEvents(_Wire):
    """A ``DIVIDENDS`` or ``SPLITS`` body: ``symbol`` and its rows under ``data``, newest first."""

    symbol: str
    data: list[dict[str, Any]] = Field(default_factory=list)


class WireTickerSentiment(_Wire):
    ticker: str
    relevance_score: Num = None
    ticker_sentiment_score: Num = None
    ticker_sentiment_label: str | None = None


class WireTopic(_Wire):
    topic: str
    relevance_score: Num = None


class WireNewsItem(_Wire):
    """One article of ``NEWS_SENTIMENT``'s ``feed``."""

    title: str
    url: str
    time_published: str
    authors: list[str] = Field(default_factory=list)
    summary: str | None = None
    source: str | None = None
    topics: list[WireTopic] = Field(default_factory=list)
    overall_sentiment_score: Num = None
    overall_sentiment_label: str | None = None
    ticker_sentiment: list[WireTickerSentiment] = Field(default_factory=list)


class WireNewsFeed(_Wire):
    """A ``NEWS_SENTIMENT`` body."""

    items: str | None = None
    feed: list[WireNewsItem] = Field(default_factory=list)
