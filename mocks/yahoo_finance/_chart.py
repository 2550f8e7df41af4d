"""The v8 chart API of the Yahoo Finance mock: intervals, ranges, windows, events and ``meta``.

Yahoo's answer to ``/v8/finance/chart/{symbol}``::

    {"chart": {"result": [{"meta": {...}, "timestamp": [...], "events": {"dividends": {...}, "splits": {...}},
                           "indicators": {"quote": [{"open", "high", "low", "close", "volume"}],
                                          "adjclose": [{"adjclose": [...]}]}}],
               "error": null}}

Timestamps are Unix seconds of each bar's start; daily and longer bars start at the session open. Intraday
answers carry no ``adjclose`` and add ``meta.tradingPeriods``. Errors replace ``result`` with null and fill
``error`` (``{"code": "Not Found", "description": "No data found, symbol may be delisted"}``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from portico.mocks._kit import is_trading_day, session_bounds
from portico.mocks.yahoo_finance._series import Candle, PriceSeries
from portico.mocks.yahoo_finance._universe import Listing

__all__ = ["INTRADAY_MINUTES", "VALID_INTERVALS", "VALID_RANGES", "ChartError", "ChartRequest", "build_chart"]

NEW_YORK = ZoneInfo("America/New_York")

INTRADAY_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
"""Minutes per bar of Yahoo's intraday intervals."""

VALID_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
VALID_RANGES = ("1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max")

# how far back each intraday interval reaches, and (1m only) how wide one request may be
_LOOKBACK_DAYS = {1: 30, 60: 730}
_DEFAULT_LOOKBACK_DAYS = 60
_ONE_MINUTE_SPAN_DAYS = 8


class ChartError(Exception):
    """A request Yahoo refuses: the HTTP status and the ``chart.error`` object."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def body(self) -> dict[str, Any]:
        """The envelope Yahoo answers with."""
        return {"chart": {"result": None, "error": {"code": self.code, "description": self.description}}}


@dataclass(frozen=True)
class ChartRequest:
    """The parameters of one chart call, checked."""

    interval: str
    start: datetime
    end: datetime
    range: str | None
    events: frozenset[str]
    include_prepost: bool

    @property
    def intraday(self) -> bool:
        return self.interval in INTRADAY_MINUTES


def _months_back(day: date, months: int) -> date:
    month = day.month - 1 - months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _last_sessions(today: date, count: int, now: datetime) -> date:
    """The first of the last ``count`` trading days up to ``today`` (a session not yet open does not count)."""
    day = today
    found = 0
    while True:
        if is_trading_day(day) and (day != today or now >= session_bounds(day)[0]):
            found += 1
            if found == count:
                return day
        day -= timedelta(days=1)


def _range_start(name: str, now: datetime, history_start: date) -> datetime:
    today = now.astimezone(NEW_YORK).date()
    if name == "1d":
        first = _last_sessions(today, 1, now)
    elif name == "5d":
        first = _last_sessions(today, 5, now)
    elif name == "ytd":
        first = date(today.year, 1, 1)
    elif name == "max":
        first = history_start
    elif name.endswith("mo"):
        first = _months_back(today, int(name[:-2]))
    else:
        first = _months_back(today, 12 * int(name[:-1]))
    return datetime.combine(first, datetime.min.time(), NEW_YORK).astimezone(UTC)


def parse_request(params: Mapping[str, str], now: datetime, history_start: date) -> ChartRequest:
    """The chart parameters Yahoo takes (``interval``, ``range`` or ``period1``/``period2``, ``events``,
    ``includePrePost``), or the :class:`ChartError` Yahoo answers for them."""
    interval = params.get("interval", "1d")
    if interval not in VALID_INTERVALS:
        raise ChartError(
            422, "Unprocessable Entity",
            f"Invalid input - interval={interval} is not supported. Valid intervals: [{', '.join(VALID_INTERVALS)}]",
        )  # fmt: skip
    chosen_range: str | None = None
    if "period1" in params or "period2" in params:
        try:
            start = datetime.fromtimestamp(int(params.get("period1", "0")), UTC)
            end = datetime.fromtimestamp(int(params["period2"]), UTC) if "period2" in params else now
        except (ValueError, OverflowError, OSError):
            raise ChartError(
                400, "Bad Request", "Invalid input - period1 and period2 must be integers"
            ) from None
        if start > end:
            raise ChartError(
                400, "Bad Request",
                f"Invalid input - start date cannot be after end date. startDate = {int(start.timestamp())}, "
                f"endDate = {int(end.timestamp())}",
            )  # fmt: skip
    else:
        chosen_range = params.get("range", "1d")
        if chosen_range not in VALID_RANGES:
            raise ChartError(
                422, "Unprocessable Entity",
                f"Invalid input - range={chosen_range} is not supported. Valid ranges: [{', '.join(VALID_RANGES)}]",
            )  # fmt: skip
        start, end = _range_start(chosen_range, now, history_start), now
    end = min(end, now)
    minutes = INTRADAY_MINUTES.get(interval)
    if minutes is not None:
        lookback = _LOOKBACK_DAYS.get(minutes, _DEFAULT_LOOKBACK_DAYS) if interval != "60m" else 730
        if interval == "1m" and end - start > timedelta(days=_ONE_MINUTE_SPAN_DAYS) and chosen_range is None:
            raise ChartError(
                422, "Unprocessable Entity",
                f"1m data not available for startTime={int(start.timestamp())} and endTime={int(end.timestamp())}. "
                "Only 8 days worth of 1m granularity data are allowed to be fetched per request.",
            )  # fmt: skip
        if start < now - timedelta(days=lookback):
            raise ChartError(
                422, "Unprocessable Entity",
                f"{interval} data not available for startTime={int(start.timestamp())} and "
                f"endTime={int(end.timestamp())}. The requested range must be within the last {lookback} days.",
            )  # fmt: skip
    events = frozenset(
        {"splits" if e == "split" else e for e in params.get("events", "").replace("|", ",").split(",") if e}
    )
    prepost = params.get("includePrePost", "false").lower() == "true"
    return ChartRequest(interval, start, end, chosen_range, events, prepost)


def _group(candles: list[Candle], interval: str) -> list[Candle]:
    if interval == "1d":
        return candles
    groups: OrderedDict[Any, list[Candle]] = OrderedDict()
    for i, candle in enumerate(candles):
        day = candle.start.astimezone(NEW_YORK).date()
        if interval == "5d":
            key: Any = i // 5
        elif interval == "1wk":
            key = day.isocalendar()[:2]
        elif interval == "1mo":
            key = (day.year, day.month)
        else:
            key = (day.year, (day.month - 1) // 3)
        groups.setdefault(key, []).append(candle)
    return [
        Candle(
            start=g[0].start,
            open=g[0].open,
            high=max(c.high for c in g),
            low=min(c.low for c in g),
            close=g[-1].close,
            volume=sum(c.volume for c in g),
            last_session=g[-1].close_day,
        )
        for g in groups.values()
    ]


def _zone_fields(when: datetime) -> tuple[str, int]:
    local = when.astimezone(NEW_YORK)
    offset = local.utcoffset()
    return local.tzname() or "EST", int(offset.total_seconds()) if offset else 0


def _period(start: datetime, end: datetime) -> dict[str, Any]:
    name, offset = _zone_fields(start)
    return {
        "timezone": name,
        "start": int(start.timestamp()),
        "end": int(end.timestamp()),
        "gmtoffset": offset,
    }


def _sessions(first: date, last: date) -> list[date]:
    out = []
    day = first
    while day <= last:
        if is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def build_chart(
    series: PriceSeries, listing: Listing, request: ChartRequest, now: datetime
) -> dict[str, Any]:
    """The ``chart.result[0]`` object for ``request``."""
    symbol = listing.symbol
    today = now.astimezone(NEW_YORK).date()
    first = request.start.astimezone(NEW_YORK).date()
    last = request.end.astimezone(NEW_YORK).date()
    if request.intraday:
        minutes = INTRADAY_MINUTES[request.interval]
        candles = [c for d in _sessions(first, last) for c in series.intraday(symbol, d, minutes, now)]
    else:
        candles = _group(series.days(symbol, first, last, now), request.interval)
    candles = [c for c in candles if request.start <= c.start < request.end]
    result: dict[str, Any] = {"meta": _meta(series, listing, request, now, candles)}
    if candles:
        result["timestamp"] = [int(c.start.timestamp()) for c in candles]
    events = _events(series, symbol, request, first, min(last, today))
    if events:
        result["events"] = events
    quote = {
        "open": [c.open for c in candles],
        "high": [c.high for c in candles],
        "low": [c.low for c in candles],
        "close": [c.close for c in candles],
        "volume": [c.volume for c in candles],
    }
    indicators: dict[str, Any] = {"quote": [quote if candles else {}]}
    if not request.intraday:
        indicators["adjclose"] = [
            {
                "adjclose": [
                    round(c.close * series.dividend_factor(symbol, c.close_day, today), 6) for c in candles
                ]
            }
        ]
    result["indicators"] = indicators
    return result


def _events(
    series: PriceSeries, symbol: str, request: ChartRequest, first: date, last: date
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "div" in request.events:
        dividends = {}
        for ex, amount in series.dividends(symbol, first, last):
            stamp = int(session_bounds(ex)[0].timestamp())
            dividends[str(stamp)] = {"amount": amount, "date": stamp}
        if dividends:
            out["dividends"] = dividends
    if "splits" in request.events:
        splits = {}
        for ex, numerator, denominator in series.splits(symbol, first, last):
            stamp = int(session_bounds(ex)[0].timestamp())
            splits[str(stamp)] = {
                "date": stamp,
                "numerator": float(numerator),
                "denominator": float(denominator),
                "splitRatio": f"{numerator}:{denominator}",
            }
        if splits:
            out["splits"] = splits
    return out


def _last_trade(latest: Candle | None, now: datetime) -> datetime:
    """When the last regular-session trade happened: now while a session trades, else its close."""
    if latest is None:
        return now
    return min(now, session_bounds(latest.start.astimezone(NEW_YORK).date())[1])


def _meta(
    series: PriceSeries, listing: Listing, request: ChartRequest, now: datetime, candles: list[Candle]
) -> dict[str, Any]:
    symbol = listing.symbol
    today = now.astimezone(NEW_YORK).date()
    recent = series.days(symbol, today - timedelta(days=366), today, now)
    latest = recent[-1] if recent else None
    before = [c for c in recent if c.start < request.start]
    if not before:
        earlier = series.days(symbol, request.start.date() - timedelta(days=10), request.start.date(), now)
        before = [c for c in earlier if c.start < request.start]
    zone, offset = _zone_fields(now)
    session = today if is_trading_day(today) else _last_sessions(today, 1, now)
    open_, close = session_bounds(session)
    meta: dict[str, Any] = {
        "currency": listing.currency,
        "symbol": symbol,
        "exchangeName": listing.exchange,
        "fullExchangeName": listing.full_exchange_name,
        "instrumentType": listing.quote_type,
        "firstTradeDate": int(series.first_trade().timestamp()),
        "regularMarketTime": int(_last_trade(latest, now).timestamp()),
        "hasPrePostMarketData": True,
        "gmtoffset": offset,
        "timezone": zone,
        "exchangeTimezoneName": "America/New_York",
        "regularMarketPrice": latest.close if latest else None,
        "fiftyTwoWeekHigh": max((c.high for c in recent), default=None),
        "fiftyTwoWeekLow": min((c.low for c in recent), default=None),
        "regularMarketDayHigh": latest.high if latest else None,
        "regularMarketDayLow": latest.low if latest else None,
        "regularMarketVolume": latest.volume if latest else None,
        "longName": listing.long_name,
        "shortName": listing.short_name,
        "chartPreviousClose": before[-1].close if before else (candles[0].open if candles else None),
        "priceHint": 2,
        "currentTradingPeriod": {
            "pre": _period(open_ - timedelta(hours=5, minutes=30), open_),
            "regular": _period(open_, close),
            "post": _period(close, close + timedelta(hours=4)),
        },
        "dataGranularity": request.interval,
        "range": request.range or "",
        "validRanges": list(VALID_RANGES),
    }
    if request.range is not None and len(recent) >= 2:
        meta["previousClose"] = recent[-2].close
        meta["scale"] = 3
    if request.intraday:
        days = [
            d
            for d in _sessions(
                request.start.astimezone(NEW_YORK).date(), request.end.astimezone(NEW_YORK).date()
            )
            if session_bounds(d)[0] <= request.end
        ]
        regular = [[_period(*session_bounds(d))] for d in days]
        if request.include_prepost:
            meta["tradingPeriods"] = {
                "pre": [[_period(session_bounds(d)[0] - timedelta(hours=5, minutes=30), session_bounds(d)[0])] for d in days],
                "regular": regular,
                "post": [[_period(session_bounds(d)[1], session_bounds(d)[1] + timedelta(hours=4))] for d in days],
            }  # fmt: skip
        else:
            meta["tradingPeriods"] = regular
    return meta
