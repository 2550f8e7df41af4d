"""Alpha Vantage wire bodies to canonical models.

Conventions (documented here because the vendor leaves them implicit):

* Daily keys are dates in the series' ``Time Zone`` (``US/Eastern`` for US equities, ``UTC`` for FX); a
  daily bar's timestamp is midnight of that date in that zone, the way other providers stamp daily bars.
* Weekly and monthly keys are the *last* trading day of the period; the canonical bar is stamped with the
  period's start (the Monday, the 1st of the month), since :class:`~portico.models.Bar` timestamps are
  period starts.
* Intraday keys are local wall-clock times in the series' zone, taken as the bar's start.
* Statements keep Alpha Vantage's line item names (``totalRevenue``, ``netIncome``...) with Decimal values
  (``"None"`` becomes None), plus ``period`` (``annual``/``quarterly``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from portico.connectors.alpha_vantage.wire import (
    WireAdjustedBar,
    WireBar,
    WireDividend,
    WireEarnings,
    WireEvents,
    WireExchangeRate,
    WireGlobalQuote,
    WireNewsFeed,
    WireOverview,
    WireSearchMatch,
    WireSplit,
    WireStatements,
    WireTimeSeries,
    series_key,
)
from portico.errors import PayloadRejected
from portico.models import (
    AssetClass,
    Bar,
    BarInterval,
    CorporateAction,
    CorporateActionType,
    Fundamentals,
    FxRate,
    Instrument,
    NewsItem,
    Quote,
)
from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

__all__ = [
    "INTERVALS",
    "SOURCE",
    "bars_from_body",
    "dividends_from_body",
    "function_for",
    "fundamentals_from_bodies",
    "fx_rate_from_body",
    "instruments_from_body",
    "news_from_body",
    "parse_timezone",
    "quote_from_body",
    "splits_from_body",
]

SOURCE = "alpha_vantage"

INTERVALS: dict[BarInterval, str] = {
    BarInterval.MIN_1: "1min",
    BarInterval.MIN_5: "5min",
    BarInterval.MIN_15: "15min",
    BarInterval.MIN_30: "30min",
    BarInterval.HOUR_1: "60min",
}
"""Canonical intraday intervals and Alpha Vantage's ``interval`` values."""

_EQUITY_FUNCTIONS = {
    BarInterval.DAY: ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED"),
    BarInterval.WEEK: ("TIME_SERIES_WEEKLY", "TIME_SERIES_WEEKLY_ADJUSTED"),
    BarInterval.MONTH: ("TIME_SERIES_MONTHLY", "TIME_SERIES_MONTHLY_ADJUSTED"),
}
_FX_FUNCTIONS = {BarInterval.DAY: "FX_DAILY", BarInterval.WEEK: "FX_WEEKLY", BarInterval.MONTH: "FX_MONTHLY"}

_ASSET_TYPES = {
    "equity": AssetClass.EQUITY,
    "common stock": AssetClass.EQUITY,
    "etf": AssetClass.ETF,
    "mutual fund": AssetClass.FUND,
    "index": AssetClass.INDEX,
    "bond": AssetClass.BOND,
}

_REGIONS = {
    "United States": "US",
    "United Kingdom": "GB",
    "Hong Kong": "HK",
    "Frankfurt": "DE",
    "XETRA": "DE",
    "Germany": "DE",
    "Toronto": "CA",
    "Toronto Venture": "CA",
    "Canada": "CA",
    "India/Bombay": "IN",
    "Brazil/Sao Paolo": "BR",
    "Amsterdam": "NL",
    "Paris": "FR",
    "Japan": "JP",
    "Shanghai": "CN",
    "Shenzhen": "CN",
    "Australia": "AU",
}

_OFFSET = re.compile(r"^(?:UTC|GMT)\s*([+-])(\d{1,2})(?::?(\d{2}))?$")


def parse_timezone(name: str | None) -> tzinfo:
    """An Alpha Vantage time zone text (``US/Eastern``, ``UTC``, ``GMT+8``, ``UTC-04``) as a tzinfo."""
    if not name:
        return UTC
    text = name.strip()
    if text in {"UTC", "GMT"}:
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return timezone(sign * delta)
    try:
        return ZoneInfo(text)
    except (KeyError, ValueError):
        raise PayloadRejected(
            f"unknown time zone {name!r} in Alpha Vantage meta data", field="Time Zone"
        ) from None


def function_for(
    interval: BarInterval, *, adjusted: bool = False, fx: bool = False
) -> tuple[str, str | None]:
    """The Alpha Vantage function and ``interval`` parameter serving bars of ``interval``."""
    if interval in INTERVALS:
        return ("FX_INTRADAY" if fx else "TIME_SERIES_INTRADAY"), INTERVALS[interval]
    if fx:
        return _FX_FUNCTIONS[interval], None
    plain, adj = _EQUITY_FUNCTIONS[interval]
    return (adj if adjusted else plain), None


def _period_start(day: date, interval: BarInterval) -> date:
    if interval is BarInterval.WEEK:
        return day - timedelta(days=day.weekday())
    if interval is BarInterval.MONTH:
        return day.replace(day=1)
    return day


def _stamp(key: str, interval: BarInterval, zone: tzinfo) -> datetime:
    try:
        if interval in INTERVALS:
            return datetime.strptime(key, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
        day = date.fromisoformat(key[:10])
    except ValueError:
        raise PayloadRejected(f"{key!r} is not an Alpha Vantage timestamp", field=key) from None
    start = _period_start(day, interval)
    return datetime(start.year, start.month, start.day, tzinfo=zone)


def _decimal(text: Any) -> Decimal | None:
    if text in ("None", "-", ""):
        return None
    return Decimal(text)


def _row(row: Mapping[str, str], adjusted: bool) -> dict[str, Any]:
    # the fast path for well-formed rows: ten thousand rows a request are common with outputsize=full
    out: dict[str, Any] = {
        "open": Decimal(row["1. open"]),
        "high": Decimal(row["2. high"]),
        "low": Decimal(row["3. low"]),
        "close": Decimal(row["4. close"]),
    }
    if adjusted:
        out["adjusted_close"] = Decimal(row["5. adjusted close"])
        out["volume"] = _decimal(row.get("6. volume")) or Decimal(0)
        out["dividend"] = _decimal(row.get("7. dividend amount"))
        out["split_coefficient"] = _decimal(row.get("8. split coefficient"))
    else:
        out["volume"] = _decimal(row.get("5. volume")) or Decimal(0)
    return out


def bars_from_body(
    body: Mapping[str, Any],
    *,
    function: str,
    symbol: str,
    interval: BarInterval,
    av_interval: str | None = None,
    currency: str | None = None,
) -> list[Bar]:
    """The bars of a time series body, oldest first.

    Raises:
        PayloadRejected: the body lacks the series key or a row is malformed (names the row's key).
    """
    key = series_key(function, av_interval)
    if key not in body:
        raise PayloadRejected(f"Alpha Vantage answer to {function} has no {key!r}", field=key)
    rows = body[key]
    if not isinstance(rows, Mapping):
        raise PayloadRejected(f"{key!r} of the {function} answer is not an object", field=key)
    meta = WireTimeSeries.model_validate({"Meta Data": body.get("Meta Data", {}), "rows": {}})
    zone = parse_timezone(meta.meta_value("Time Zone"))
    adjusted = function.endswith("_ADJUSTED")
    row_model: type[WireBar] | type[WireAdjustedBar] = WireAdjustedBar if adjusted else WireBar
    bars: list[Bar] = []
    for stamp in sorted(rows):
        try:
            row = _row(rows[stamp], adjusted)
        except (InvalidOperation, KeyError, TypeError, ValueError):
            # the slow path names exactly what is wrong with the row
            try:
                wire = row_model.model_validate(rows[stamp])
            except ValidationError as exc:
                raise PayloadRejected(
                    f"malformed {function} row {stamp}: {exc.errors()[0]['msg']}", field=f"{key}.{stamp}"
                ) from None
            row = {"open": wire.open, "high": wire.high, "low": wire.low, "close": wire.close,
                   "volume": wire.volume or Decimal(0)}  # fmt: skip
            if isinstance(wire, WireAdjustedBar):
                row.update(adjusted_close=wire.adjusted_close, dividend=wire.dividend_amount,
                           split_coefficient=wire.split_coefficient)  # fmt: skip
        bars.append(
            Bar(
                symbol=symbol,
                timestamp=_stamp(stamp, interval, zone),
                interval=interval,
                currency=currency,
                source=SOURCE,
                **row,
            )
        )
    return bars


def quote_from_body(body: Mapping[str, Any], *, now: datetime | None = None) -> Quote:
    """The ``GLOBAL_QUOTE`` body as a Quote (last price, day change, previous close).

    Alpha Vantage gives no bid/ask and no time of day, only the latest trading day: the quote is stamped
    at that day's 16:00 US/Eastern close, or at ``now`` while that day's session is still running.
    """
    try:
        wire = WireGlobalQuote.model_validate(body["Global Quote"])
    except KeyError:
        raise PayloadRejected(
            "Alpha Vantage GLOBAL_QUOTE answer has no 'Global Quote'", field="Global Quote"
        ) from None
    except ValidationError as exc:
        raise PayloadRejected(
            f"malformed Global Quote: {exc.errors()[0]['msg']}", field="Global Quote"
        ) from None
    day = date.fromisoformat(wire.latest_trading_day)
    when = datetime(day.year, day.month, day.day, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    if now is not None and now < when:
        when = now
    return Quote(
        symbol=wire.symbol,
        timestamp=when,
        last_price=wire.price,
        volume=wire.volume,
        change=wire.change,
        change_percent=wire.change_percent,
        previous_close=wire.previous_close,
        source=SOURCE,
    )


def _search_currency(reported: str) -> str | None:
    """A search match's ``8. currency`` as an ISO 4217 code, or None when it is not one.

    Alpha Vantage names London listings' currency ``GBX`` (pence), and the market convention writes
    minor units in mixed case (``GBp``, ``ZAc``): upper-casing those into ``GBP`` or ``ZAC`` would
    misread every price a hundredfold, so only a code that is already one case is taken.
    """
    code = reported.strip()
    if not (code.isupper() or code.islower()):
        return None
    code = code.upper()
    return code if code in CURRENCY_CODES else None


def instruments_from_body(body: Mapping[str, Any]) -> list[Instrument]:
    """``bestMatches`` as Instruments, best match first (the vendor's order)."""
    if "bestMatches" not in body:
        raise PayloadRejected("Alpha Vantage SYMBOL_SEARCH answer has no 'bestMatches'", field="bestMatches")
    out: list[Instrument] = []
    for index, item in enumerate(body["bestMatches"]):
        try:
            wire = WireSearchMatch.model_validate(item)
        except ValidationError as exc:
            raise PayloadRejected(
                f"malformed search match {index}: {exc.errors()[0]['msg']}", field=f"bestMatches[{index}]"
            ) from None
        out.append(
            Instrument(
                symbol=wire.symbol,
                asset_class=_ASSET_TYPES.get(wire.type.lower(), AssetClass.OTHER),
                name=wire.name,
                currency=_search_currency(wire.currency),
                country=_REGIONS.get(wire.region),
                venue_ids={SOURCE: wire.symbol},
            )
        )
    return out


def fx_rate_from_body(body: Mapping[str, Any]) -> FxRate:
    """``CURRENCY_EXCHANGE_RATE`` as an FxRate.

    Raises:
        PayloadRejected: the body is malformed, or names a code that is not ISO 4217 (a crypto asset).
    """
    try:
        wire = WireExchangeRate.model_validate(body["Realtime Currency Exchange Rate"])
    except KeyError:
        raise PayloadRejected(
            "Alpha Vantage answer has no 'Realtime Currency Exchange Rate'",
            field="Realtime Currency Exchange Rate",
        ) from None
    except ValidationError as exc:
        raise PayloadRejected(f"malformed exchange rate: {exc.errors()[0]['msg']}") from None
    for code in (wire.from_code, wire.to_code):
        if code.upper() not in CURRENCY_CODES:
            raise PayloadRejected(f"{code!r} is not an ISO 4217 currency code", field="1. From_Currency Code")
    zone = parse_timezone(wire.time_zone)
    when = datetime.strptime(wire.last_refreshed, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    return FxRate(
        base=wire.from_code,
        quote=wire.to_code,
        rate=wire.rate,
        timestamp=when,
        bid=wire.bid,
        ask=wire.ask,
        source=SOURCE,
    )


def _report(report: Mapping[str, str], period: str) -> dict[str, Any]:
    out: dict[str, Any] = {"period": period}
    for name, value in report.items():
        if name in {"fiscalDateEnding", "reportedDate", "reportedCurrency", "reportTime"}:
            out[name] = None if value in {"None", ""} else value
            continue
        text = value.strip().rstrip("%") if isinstance(value, str) else value
        try:
            out[name] = None if text in {"None", "", "-"} else Decimal(text)
        except Exception:
            out[name] = value
    return out


def _statements(body: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not body:
        return []
    wire = WireStatements.model_validate(body)
    return [_report(r, "annual") for r in wire.annual_reports] + [
        _report(r, "quarterly") for r in wire.quarterly_reports
    ]


def fundamentals_from_bodies(
    overview: Mapping[str, Any],
    *,
    income: Mapping[str, Any] | None = None,
    balance: Mapping[str, Any] | None = None,
    cash_flow: Mapping[str, Any] | None = None,
    earnings: Mapping[str, Any] | None = None,
) -> Fundamentals:
    """``OVERVIEW`` plus, when given, the statement and earnings bodies, as one Fundamentals."""
    try:
        wire = WireOverview.model_validate(overview)
    except ValidationError as exc:
        raise PayloadRejected(f"malformed OVERVIEW: {exc.errors()[0]['msg']}", field="Symbol") from None
    currency = (wire.currency or "").upper()
    latest = None
    if wire.latest_quarter and wire.latest_quarter != "None":
        latest = date.fromisoformat(wire.latest_quarter)
    earnings_rows: list[dict[str, Any]] = []
    if earnings:
        ew = WireEarnings.model_validate(earnings)
        earnings_rows = [_report(r, "annual") for r in ew.annual_earnings] + [
            _report(r, "quarterly") for r in ew.quarterly_earnings
        ]
    country = wire.country if wire.country not in {None, "None"} else None
    return Fundamentals(
        symbol=wire.symbol,
        name=wire.name,
        description=wire.description,
        exchange=wire.exchange,
        currency=currency if currency in CURRENCY_CODES else None,
        country=country if country is None or country.upper() not in COUNTRY_CODES else country.upper(),
        sector=wire.sector,
        industry=wire.industry,
        market_capitalization=wire.market_capitalization,
        pe_ratio=wire.pe_ratio,
        eps=wire.eps,
        dividend_yield=wire.dividend_yield,
        beta=wire.beta,
        shares_outstanding=wire.shares_outstanding,
        fiscal_year_end=wire.fiscal_year_end,
        latest_quarter=latest,
        income_statements=_statements(income),
        balance_sheets=_statements(balance),
        cash_flows=_statements(cash_flow),
        earnings=earnings_rows,
        source=SOURCE,
    )


def _day(text: str | None, where: str) -> date | None:
    if text is None or text.strip() in {"", "None", "-"}:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PayloadRejected(f"{where}: {text!r} is not a YYYY-MM-DD date", field=where) from None


def _events(body: Mapping[str, Any], function: str) -> WireEvents:
    try:
        return WireEvents.model_validate(body)
    except ValidationError as exc:
        raise PayloadRejected(f"malformed {function}: {exc.errors()[0]['msg']}", field="data") from None


def dividends_from_body(body: Mapping[str, Any], *, currency: str | None = "USD") -> list[CorporateAction]:
    """``DIVIDENDS`` as cash dividends, oldest first (the vendor lists them newest first).

    Amounts are per share as paid; ``currency`` is the listing's (the body does not say it).
    """
    wire = _events(body, "DIVIDENDS")
    out = []
    for index, raw in enumerate(wire.data):
        where = f"DIVIDENDS data[{index}]"
        try:
            row = WireDividend.model_validate(raw)
        except ValidationError as exc:
            raise PayloadRejected(f"{where}: {exc.errors()[0]['msg']}", field=where) from None
        ex = _day(row.ex_dividend_date, f"{where}.ex_dividend_date")
        if ex is None or row.amount is None:
            continue  # an announced row without its ex date or amount yet says nothing to apply
        out.append(
            CorporateAction(
                symbol=wire.symbol.upper(),
                action_type=CorporateActionType.CASH_DIVIDEND,
                ex_date=ex,
                record_date=_day(row.record_date, f"{where}.record_date"),
                pay_date=_day(row.payment_date, f"{where}.payment_date"),
                declaration_date=_day(row.declaration_date, f"{where}.declaration_date"),
                cash_amount=row.amount,
                currency=currency,
                source=SOURCE,
            )
        )
    return sorted(out, key=lambda a: a.ex_date)


def splits_from_body(body: Mapping[str, Any]) -> list[CorporateAction]:
    """``SPLITS`` as splits (factor above 1) and reverse splits (below 1), oldest first.

    The factor is new shares per old share; it becomes ``ratio_from`` 1 -> ``ratio_to`` factor, or, for a
    reverse split, ``1 / factor`` -> 1 when that is whole (a 0.1 factor is 10 -> 1).
    """
    wire = _events(body, "SPLITS")
    out = []
    for index, raw in enumerate(wire.data):
        where = f"SPLITS data[{index}]"
        try:
            row = WireSplit.model_validate(raw)
        except ValidationError as exc:
            raise PayloadRejected(f"{where}: {exc.errors()[0]['msg']}", field=where) from None
        ex = _day(row.effective_date, f"{where}.effective_date")
        factor = row.split_factor
        if ex is None or factor is None or factor <= 0:
            raise PayloadRejected(
                f"{where}: a split needs an effective_date and a positive split_factor", field=where
            )
        if factor >= 1:
            kind, ratio_from, ratio_to = CorporateActionType.SPLIT, Decimal(1), factor.normalize()
        else:
            inverse = (1 / factor).quantize(Decimal("0.0001"))
            kind, ratio_from, ratio_to = CorporateActionType.REVERSE_SPLIT, inverse.normalize(), Decimal(1)
        out.append(
            CorporateAction(
                symbol=wire.symbol.upper(),
                action_type=kind,
                ex_date=ex,
                ratio_from=ratio_from,
                ratio_to=ratio_to,
                source=SOURCE,
            )
        )
    return sorted(out, key=lambda a: a.ex_date)


def _published(text: str) -> datetime:
    for fmt in ("%Y%m%dT%H%M%S", "%Y%m%dT%H%M"):
        try:
            # Alpha Vantage stamps articles in US/Eastern wall time
            return datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
        except ValueError:
            continue
    raise PayloadRejected(
        f"NEWS_SENTIMENT time_published {text!r} is not YYYYMMDDTHHMMSS", field="time_published"
    )


def news_from_body(body: Mapping[str, Any]) -> list[NewsItem]:
    """``NEWS_SENTIMENT``'s feed as news items with the overall and per-ticker sentiment scores."""
    try:
        wire = WireNewsFeed.model_validate(body)
    except ValidationError as exc:
        raise PayloadRejected(f"malformed NEWS_SENTIMENT: {exc.errors()[0]['msg']}", field="feed") from None
    out = []
    for item in wire.feed:
        scores = {t.ticker.upper(): t.ticker_sentiment_score for t in item.ticker_sentiment
                  if t.ticker_sentiment_score is not None}  # fmt: skip
        out.append(
            NewsItem(
                id=item.url,
                published_at=_published(item.time_published),
                headline=item.title,
                summary=item.summary or None,
                url=item.url,
                source=item.source,
                provider=SOURCE,
                symbols=tuple(t.ticker for t in item.ticker_sentiment),
                authors=tuple(item.authors),
                sentiment=item.overall_sentiment_score,
                sentiment_label=item.overall_sentiment_label,
                symbol_sentiment=scores,
                topics=tuple(t.topic for t in item.topics),
            )
        )
    return out
