"""Yahoo Finance wire bodies to canonical models.

Conventions (written down here because Yahoo leaves them implicit):

* Chart prices are split-adjusted, never dividend-adjusted; ``adjclose`` (daily and longer bars only) also
  removes dividends. Yahoo serves no split-unadjusted prices. ``adjusted=True`` multiplies open, high, low
  and close by ``adjclose / close`` (what yfinance's ``auto_adjust`` does), so the bar is fully adjusted.
* Timestamps are Unix seconds of each bar's start. Daily bars are stamped at midnight of their trading date
  in the exchange's zone (``meta.exchangeTimezoneName``), weekly ones at the Monday, monthly ones at the 1st,
  as every portico bar is stamped with the start of its period. Intraday bars keep their instant.
* A minute without trades comes as ``null`` in every array; such rows are left out. A null volume is 0.
* ``30min`` bars are asked for as ``15m`` and joined in pairs: Yahoo answers ``30m`` with hourly bars (the
  bug yfinance works around the same way).
* Dividends and splits come from ``events``; a split ``numerator:denominator`` of ``4:1`` gives four new
  shares for one (``ratio_from=1, ratio_to=4``); a numerator below the denominator is a reverse split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from portico.connectors.yahoo_finance.wire import (
    WireChart,
    WireChartResult,
    WireQuote,
    WireSearchNews,
    WireSearchQuote,
    WireSummary,
)
from portico.errors import NotFound, PayloadRejected, VenueRejected
from portico.models import (
    AssetClass,
    Bar,
    BarInterval,
    CorporateAction,
    CorporateActionType,
    Fundamentals,
    Instrument,
    NewsItem,
    Quote,
)
from portico.models._iso import CURRENCY_CODES

__all__ = [
    "INTERVALS",
    "SOURCE",
    "actions_from_chart",
    "bars_from_chart",
    "chart_result",
    "fundamentals_from_summary",
    "instruments_from_search",
    "join_bars",
    "news_from_search",
    "quotes_from_body",
]

SOURCE = "yahoo_finance"

INTERVALS: dict[BarInterval, tuple[str, int]] = {
    BarInterval.MIN_1: ("1m", 1),
    BarInterval.MIN_5: ("5m", 1),
    BarInterval.MIN_15: ("15m", 1),
    BarInterval.MIN_30: ("15m", 2),
    BarInterval.HOUR_1: ("60m", 1),
    BarInterval.DAY: ("1d", 1),
    BarInterval.WEEK: ("1wk", 1),
    BarInterval.MONTH: ("1mo", 1),
}
"""Each canonical interval: the ``interval`` Yahoo is asked for, and how many of its bars make one."""

_QUOTE_TYPES = {
    "EQUITY": AssetClass.EQUITY,
    "ETF": AssetClass.ETF,
    "MUTUALFUND": AssetClass.FUND,
    "INDEX": AssetClass.INDEX,
    "CURRENCY": AssetClass.FX,
    "CRYPTOCURRENCY": AssetClass.CRYPTO,
    "FUTURE": AssetClass.FUTURE,
    "OPTION": AssetClass.OPTION,
}
_SIX = Decimal("0.000001")


def _currency(code: str | None) -> str | None:
    # Yahoo quotes London listings in pence ("GBp"): not an ISO code, so left out rather than mislabelled
    return code if code in CURRENCY_CODES else None


def chart_result(body: Any, symbol: str) -> WireChartResult:
    """The single result of a chart answer.

    Raises:
        NotFound: Yahoo says it has no data for the symbol.
        VenueRejected: another ``chart.error``.
        PayloadRejected: the body is not a chart envelope.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("chart"), Mapping):
        raise PayloadRejected("Yahoo's chart answer has no 'chart' object", field="chart")
    try:
        chart = WireChart.model_validate(body["chart"])
    except ValidationError as exc:
        raise PayloadRejected(
            f"Yahoo's chart answer for {symbol} is malformed: {exc.errors()[0]['msg']}"
        ) from None
    if chart.error is not None and (chart.error.code or chart.error.description):
        description = chart.error.description or chart.error.code or "no reason given"
        if chart.error.code == "Not Found":
            raise NotFound(f"Yahoo has no chart for {symbol}: {description}", venue_code=chart.error.code)
        raise VenueRejected(
            f"Yahoo refused the chart of {symbol}: {description}", venue_code=chart.error.code
        )
    if not chart.result:
        raise NotFound(f"Yahoo returned no chart for {symbol}")
    return chart.result[0]


def _zone(result: WireChartResult) -> ZoneInfo:
    try:
        return ZoneInfo(result.meta.exchange_timezone)
    except (KeyError, ValueError):
        raise PayloadRejected(
            f"unknown exchange time zone {result.meta.exchange_timezone!r} in Yahoo's chart meta",
            field="exchangeTimezoneName",
        ) from None


def _period_start(day: date, interval: BarInterval) -> date:
    if interval is BarInterval.WEEK:
        return day - timedelta(days=day.weekday())
    if interval is BarInterval.MONTH:
        return day.replace(day=1)
    return day


def _stamp(seconds: int, interval: BarInterval, zone: ZoneInfo) -> datetime:
    key = (seconds, interval, zone)
    stamp = _stamps.get(key)
    if stamp is None:
        if len(_stamps) > _STAMPS_KEPT:
            _stamps.clear()
        stamp = _stamps[key] = _period_stamp(seconds, interval, zone)
    return stamp


def _period_stamp(seconds: int, interval: BarInterval, zone: ZoneInfo) -> datetime:
    instant = datetime.fromtimestamp(seconds, UTC)
    if interval not in (BarInterval.DAY, BarInterval.WEEK, BarInterval.MONTH):
        return instant
    start = _period_start(instant.astimezone(zone).date(), interval)
    return datetime(start.year, start.month, start.day, tzinfo=zone)


# each bar's stamp by (seconds, interval, zone): many series share their days, and a datetime is
# immutable, so one object serves them all (cleared when it grows past _STAMPS_KEPT)
_stamps: dict[tuple[int, BarInterval, ZoneInfo], datetime] = {}
_STAMPS_KEPT = 100_000


def _event_days(result: WireChartResult, zone: ZoneInfo) -> tuple[dict[date, Decimal], dict[date, Decimal]]:
    dividends: dict[date, Decimal] = {}
    for dividend in result.events.dividends.values():
        if dividend.amount is not None:
            day = datetime.fromtimestamp(dividend.date, UTC).astimezone(zone).date()
            dividends[day] = dividends.get(day, Decimal(0)) + dividend.amount
    splits: dict[date, Decimal] = {}
    for split in result.events.splits.values():
        if split.numerator and split.denominator:
            day = datetime.fromtimestamp(split.date, UTC).astimezone(zone).date()
            splits[day] = split.numerator / split.denominator
    return dividends, splits


def _pick(values: list[Decimal | None], i: int) -> Decimal | None:
    return values[i] if i < len(values) else None


def bars_from_chart(
    result: WireChartResult | Any,
    *,
    interval: BarInterval,
    adjusted: bool = False,
    make: Callable[..., Bar] = Bar,
) -> list[Bar]:
    """The bars of a chart result, oldest first (see the module's conventions).

    ``result`` is the wire model, or the fast path's result of the same shape
    (:mod:`portico.connectors.yahoo_finance._chart`, whose values are already checked: it passes a ``make``
    that does not validate them again).

    Raises:
        PayloadRejected: the arrays do not line up with the timestamps, or a price is not positive.
    """
    symbol = result.meta.symbol.upper()
    zone = _zone(result)
    arrays = result.indicators.quote[0] if result.indicators.quote else None
    stamps = result.timestamp
    if arrays is None or not stamps:
        return []
    for name in ("open", "high", "low", "close"):
        if len(getattr(arrays, name)) != len(stamps):
            raise PayloadRejected(
                f"Yahoo's chart of {symbol} has {len(getattr(arrays, name))} {name} values for {len(stamps)} timestamps",
                field=f"indicators.quote.{name}",
            )
    adjcloses = result.indicators.adjclose[0].adjclose if result.indicators.adjclose else []
    currency = _currency(result.meta.currency)
    dividends, splits = _event_days(result, zone) if interval is BarInterval.DAY else ({}, {})
    bars: list[Bar] = []
    for i, seconds in enumerate(stamps):
        o, h, low, c = arrays.open[i], arrays.high[i], arrays.low[i], arrays.close[i]
        if o is None or h is None or low is None or c is None:
            continue
        adj = _pick(adjcloses, i)
        if adjusted and adj is not None and c:
            factor = adj / c
            o, h, low, c = ((v * factor).quantize(_SIX) for v in (o, h, low, c))
            adj = c
        stamp = _stamp(seconds, interval, zone)
        try:
            bars.append(
                make(
                    symbol=symbol,
                    timestamp=stamp,
                    interval=interval,
                    open=o,
                    high=h,
                    low=low,
                    close=c,
                    volume=_pick(arrays.volume, i) or Decimal(0),
                    adjusted_close=adj,
                    dividend=dividends.get(stamp.date()) if dividends else None,
                    split_coefficient=splits.get(stamp.date()) if splits else None,
                    currency=currency,
                    source=SOURCE,
                )
            )
        except ValidationError as exc:
            raise PayloadRejected(
                f"Yahoo's bar of {symbol} at {stamp.isoformat()} is invalid: {exc.errors()[0]['msg']}",
                field="indicators.quote",
            ) from None
    return bars


def join_bars(bars: list[Bar], count: int, interval: BarInterval) -> list[Bar]:
    """Bars of ``count`` times the size, aligned on multiples of the new size (``15m`` pairs into ``30m``)."""
    if count == 1:
        return bars
    size = {BarInterval.MIN_30: 1800}[interval]
    groups: dict[int, list[Bar]] = {}
    for bar in bars:
        groups.setdefault(int(bar.timestamp.timestamp()) // size * size, []).append(bar)
    out = []
    for start, group in sorted(groups.items()):
        out.append(
            group[0].model_copy(
                update={
                    "timestamp": datetime.fromtimestamp(start, UTC),
                    "interval": interval,
                    "high": max(b.high for b in group),
                    "low": min(b.low for b in group),
                    "close": group[-1].close,
                    "volume": sum((b.volume for b in group), Decimal(0)),
                    "adjusted_close": group[-1].adjusted_close,
                }
            )
        )
    return out


def actions_from_chart(result: WireChartResult) -> list[CorporateAction]:
    """The dividends and splits in a chart result's ``events``, by ex date."""
    zone = _zone(result)
    symbol = result.meta.symbol.upper()
    currency = _currency(result.meta.currency)
    out: list[CorporateAction] = []
    for dividend in result.events.dividends.values():
        if dividend.amount is None:
            continue
        out.append(
            CorporateAction(
                symbol=symbol,
                action_type=CorporateActionType.CASH_DIVIDEND,
                ex_date=datetime.fromtimestamp(dividend.date, UTC).astimezone(zone).date(),
                cash_amount=dividend.amount,
                currency=_currency(dividend.currency) or currency,
                source=SOURCE,
            )
        )
    for split in result.events.splits.values():
        if not split.numerator or not split.denominator:
            raise PayloadRejected(f"Yahoo's split of {symbol} has no ratio", field="events.splits")
        kind = (
            CorporateActionType.SPLIT
            if split.numerator >= split.denominator
            else CorporateActionType.REVERSE_SPLIT
        )
        out.append(
            CorporateAction(
                symbol=symbol,
                action_type=kind,
                ex_date=datetime.fromtimestamp(split.date, UTC).astimezone(zone).date(),
                ratio_from=split.denominator,
                ratio_to=split.numerator,
                source=SOURCE,
            )
        )
    return sorted(out, key=lambda a: (a.ex_date, a.action_type.value))


def quotes_from_body(body: Any) -> dict[str, Quote]:
    """``quoteResponse.result`` as Quotes by symbol (Yahoo leaves unknown symbols out).

    Raises:
        PayloadRejected: the body is not a quote envelope, or an item lacks a price time.
    """
    envelope = body.get("quoteResponse") if isinstance(body, Mapping) else None
    if not isinstance(envelope, Mapping):
        raise PayloadRejected("Yahoo's quote answer has no 'quoteResponse' object", field="quoteResponse")
    out: dict[str, Quote] = {}
    for item in envelope.get("result") or []:
        try:
            wire = WireQuote.model_validate(item)
        except ValidationError as exc:
            raise PayloadRejected(
                f"Yahoo's quote is malformed: {exc.errors()[0]['msg']}", field="quoteResponse"
            ) from None
        if wire.time is None:
            raise PayloadRejected(
                f"Yahoo's quote of {wire.symbol} has no regularMarketTime", field="regularMarketTime"
            )
        out[wire.symbol.upper()] = Quote(
            symbol=wire.symbol.upper(),
            timestamp=datetime.fromtimestamp(wire.time, UTC),
            bid_price=wire.bid or None,
            bid_size=wire.bid_size,
            ask_price=wire.ask or None,
            ask_size=wire.ask_size,
            last_price=wire.price,
            volume=wire.volume,
            change=wire.change,
            change_percent=wire.change_percent,
            previous_close=wire.previous_close,
            currency=_currency(wire.currency),
            source=SOURCE,
        )
    return out


def _figure(module: Mapping[str, Any], key: str) -> Decimal | None:
    value = module.get(key)
    if isinstance(value, Mapping):
        value = value.get("raw")
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise PayloadRejected(f"Yahoo's {key} is not a number: {value!r}", field=key) from None


def _text(module: Mapping[str, Any], key: str) -> str | None:
    value = module.get(key)
    return value if isinstance(value, str) and value else None


def fundamentals_from_summary(symbol: str, body: Any) -> Fundamentals:
    """``quoteSummary.result[0]`` (modules price, summaryDetail, assetProfile, defaultKeyStatistics) as Fundamentals.

    Raises:
        NotFound: Yahoo has no summary for the symbol.
        PayloadRejected: the body is not a quoteSummary envelope.
    """
    envelope = body.get("quoteSummary") if isinstance(body, Mapping) else None
    if not isinstance(envelope, Mapping):
        raise PayloadRejected(
            "Yahoo's quoteSummary answer has no 'quoteSummary' object", field="quoteSummary"
        )
    results = envelope.get("result") or []
    if not results:
        raise NotFound(f"Yahoo has no quote summary for {symbol}")
    summary = WireSummary.model_validate(results[0])
    price, detail, profile, stats = (
        summary.price,
        summary.summary_detail,
        summary.asset_profile,
        summary.key_statistics,
    )
    shares = _figure(stats, "sharesOutstanding")
    return Fundamentals(
        symbol=symbol,
        name=_text(price, "longName") or _text(price, "shortName"),
        description=_text(profile, "longBusinessSummary"),
        exchange=_text(price, "exchangeName"),
        currency=_currency(_text(price, "currency") or _text(detail, "currency")),
        country=_text(profile, "country"),
        sector=_text(profile, "sector"),
        industry=_text(profile, "industry"),
        market_capitalization=_figure(price, "marketCap") or _figure(detail, "marketCap"),
        pe_ratio=_figure(detail, "trailingPE"),
        eps=_figure(stats, "trailingEps"),
        dividend_yield=_figure(detail, "dividendYield"),
        beta=_figure(detail, "beta") or _figure(stats, "beta"),
        shares_outstanding=shares,
        source=SOURCE,
    )


def instruments_from_search(body: Any) -> list[Instrument]:
    """The ``quotes`` of a search answer as Instruments, best match first (Yahoo's order)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("quotes", []), list):
        raise PayloadRejected("Yahoo's search answer has no 'quotes' list", field="quotes")
    out: list[Instrument] = []
    for item in body.get("quotes", []):
        if not isinstance(item, Mapping) or "symbol" not in item:
            continue  # news and navigation entries share the list in some answers
        wire = WireSearchQuote.model_validate(item)
        out.append(
            Instrument(
                symbol=wire.symbol,
                asset_class=_QUOTE_TYPES.get((wire.quote_type or "").upper(), AssetClass.OTHER),
                name=wire.long_name or wire.short_name,
                exchange=wire.exchange,
                venue_ids={SOURCE: wire.symbol},
                tradable=False,
            )
        )
    return out


def news_from_search(body: Any) -> list[NewsItem]:
    """The ``news`` items of a ``/v1/finance/search`` answer (Yahoo gives no summary and no sentiment)."""
    if not isinstance(body, dict):
        raise PayloadRejected("the search answer is not an object", field="news")
    out = []
    for index, row in enumerate(body.get("news") or []):
        try:
            wire = WireSearchNews.model_validate(row)
        except ValidationError as exc:
            raise PayloadRejected(
                f"search news[{index}]: {exc.errors()[0]['msg']}", field=f"news[{index}]"
            ) from None
        out.append(
            NewsItem(
                id=wire.uuid,
                published_at=datetime.fromtimestamp(wire.provider_publish_time, tz=UTC),
                headline=wire.title,
                url=wire.link or None,
                source=wire.publisher,
                provider=SOURCE,
                symbols=tuple(wire.related_tickers),
            )
        )
    return out
