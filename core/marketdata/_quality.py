"""Data quality checks run on every series the market data service returns.

Checks, each a small function over one symbol's series:

* ``gap``: a trading day (or an intraday interval inside a regular session) with no bar
* ``off_calendar``: a bar on a day the calendar has no session (information only)
* ``stale``: the newest point is older than the thresholds allow
* ``non_positive``: a price at or below zero
* ``ohlc``: high below low, or open/close outside [low, high]
* ``outlier``: a close-to-close jump beyond the threshold for the bar size (split days excepted)
* ``order``: timestamps repeating or going backwards
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from portico.marketdata._calendar import NEW_YORK, TradingCalendar
from portico.marketdata._config import QualityConfig
from portico.models import Bar, BarInterval, Quote

__all__ = ["QualityIssue", "QualityReport", "check_bars", "check_quote"]

Severity = Literal["info", "warning", "error"]

_MINUTES = {
    BarInterval.MIN_1: 1,
    BarInterval.MIN_5: 5,
    BarInterval.MIN_15: 15,
    BarInterval.MIN_30: 30,
    BarInterval.HOUR_1: 60,
}
_SEVERITY: dict[str, Severity] = {
    "gap": "warning",
    "off_calendar": "info",
    "stale": "warning",
    "non_positive": "error",
    "ohlc": "error",
    "outlier": "warning",
    "order": "error",
}


@dataclass(frozen=True)
class QualityIssue:
    """One finding of one check on one symbol."""

    symbol: str
    check: str
    detail: str
    timestamp: datetime | None = None
    severity: Severity = "warning"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return {
            "symbol": self.symbol,
            "check": self.check,
            "severity": self.severity,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "detail": self.detail,
        }


@dataclass
class QualityReport:
    """Every issue found in one answer, and how many series were checked."""

    issues: list[QualityIssue] = field(default_factory=list)
    series_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when no error-level issue was found."""
        return not any(i.severity == "error" for i in self.issues)

    @property
    def counts(self) -> dict[str, int]:
        """Issues per check."""
        return dict(Counter(i.check for i in self.issues))

    def stale_symbols(self) -> set[str]:
        """Symbols whose series is stale."""
        return {i.symbol for i in self.issues if i.check == "stale"}

    def for_symbol(self, symbol: str) -> list[QualityIssue]:
        """The issues of one symbol."""
        return [i for i in self.issues if i.symbol == symbol]

    def extend(self, other: QualityReport) -> None:
        """Add another report's findings."""
        self.issues.extend(other.issues)
        self.series_checked += other.series_checked

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return {
            "ok": self.ok,
            "series_checked": self.series_checked,
            "counts": self.counts,
            "issues": [i.to_dict() for i in self.issues],
        }


def _issue(symbol: str, check: str, detail: str, when: datetime | None = None) -> QualityIssue:
    return QualityIssue(symbol, check, detail, when, _SEVERITY[check])


def _prices(bar: Bar, symbol: str) -> list[QualityIssue]:
    out: list[QualityIssue] = []
    values = {"open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close}
    bad = [name for name, v in values.items() if v <= 0]
    if bad:
        out.append(_issue(symbol, "non_positive", f"{', '.join(bad)} not positive", bar.timestamp))
    if bar.high < bar.low:
        out.append(_issue(symbol, "ohlc", f"high {bar.high} below low {bar.low}", bar.timestamp))
    else:
        for name in ("open", "close"):
            v = values[name]
            if not bar.low <= v <= bar.high:
                out.append(
                    _issue(symbol, "ohlc", f"{name} {v} outside [{bar.low}, {bar.high}]", bar.timestamp)
                )
    return out


def _outliers(bars: list[Bar], symbol: str, threshold: float) -> list[QualityIssue]:
    out: list[QualityIssue] = []
    for prev, bar in itertools.pairwise(bars):
        if prev.close <= 0 or bar.close <= 0:
            continue
        if bar.split_coefficient is not None and bar.split_coefficient != 1:
            continue  # an as-traded series jumps on a split's ex date by design
        move = float(bar.close / prev.close) - 1.0
        if abs(move) > threshold:
            out.append(_issue(symbol, "outlier", f"close moved {move:+.1%} in one bar (limit {threshold:.0%})",
                              bar.timestamp))  # fmt: skip
    return out


def _daily_gaps(bars: list[Bar], symbol: str, calendar: TradingCalendar) -> list[QualityIssue]:
    out: list[QualityIssue] = []
    days = [
        b.timestamp.astimezone(NEW_YORK).date() if b.timestamp.utcoffset() else b.timestamp.date()
        for b in bars
    ]
    present = set(days)
    for day in sorted(present):
        if not calendar.is_trading_day(day):
            out.append(_issue(symbol, "off_calendar", f"bar on {day}, which has no session", None))
    if len(days) < 2:
        return out
    missing = [d for d in calendar.trading_days(min(days), max(days)) if d not in present]
    for day in missing:
        out.append(_issue(symbol, "gap", f"no bar for trading day {day}"))
    return out


def _intraday_gaps(
    bars: list[Bar], symbol: str, minutes: int, calendar: TradingCalendar
) -> list[QualityIssue]:
    out: list[QualityIssue] = []
    step = timedelta(minutes=minutes)
    for prev, bar in itertools.pairwise(bars):
        day = bar.timestamp.astimezone(NEW_YORK).date()
        if prev.timestamp.astimezone(NEW_YORK).date() != day or not calendar.is_trading_day(day):
            continue
        open_, close = calendar.session(day)
        if prev.timestamp < open_ or bar.timestamp > close:
            continue  # extended hours are sparse by nature
        missing = round((bar.timestamp - prev.timestamp) / step) - 1
        if missing > 0:
            out.append(_issue(symbol, "gap", f"{missing} bar(s) missing after {prev.timestamp.isoformat()}",
                              bar.timestamp))  # fmt: skip
    return out


def _stale_bars(
    bars: list[Bar],
    symbol: str,
    interval: BarInterval,
    now: datetime,
    calendar: TradingCalendar,
    cfg: QualityConfig,
) -> list[QualityIssue]:
    last = bars[-1].timestamp
    if interval in _MINUTES:
        if not calendar.in_session(now):
            # outside a session, the newest bar must belong to the last session
            last_day = calendar.last_session_day(now)
            if last.astimezone(NEW_YORK).date() < last_day:
                return [
                    _issue(
                        symbol,
                        "stale",
                        f"newest bar {last.isoformat()} predates the session of {last_day}",
                        last,
                    )
                ]
            return []
        age = (now - last).total_seconds()
        limit = max(cfg.stale_intraday_seconds, 3 * _MINUTES[interval] * 60)
        if age > limit:
            return [_issue(symbol, "stale", f"newest bar is {age:.0f}s old (limit {limit:.0f}s)", last)]
        return []
    last_day = last.astimezone(NEW_YORK).date() if last.utcoffset() else last.date()
    expected = calendar.last_session_day(now)
    if interval is BarInterval.DAY:
        sessions = len(calendar.trading_days(last_day + timedelta(days=1), expected))
        if sessions > cfg.stale_sessions:
            return [_issue(symbol, "stale", f"newest bar is {sessions} sessions old ({last_day})", last)]
        return []
    period = timedelta(days=7 if interval is BarInterval.WEEK else 31)
    if expected - last_day > 2 * period:
        return [_issue(symbol, "stale", f"newest {interval.value} bar starts {last_day}", last)]
    return []


def check_bars(
    symbol: str,
    bars: list[Bar],
    interval: BarInterval,
    *,
    now: datetime,
    config: QualityConfig,
    calendar: TradingCalendar | None = None,
    fx: bool = False,
) -> QualityReport:
    """Run every bar check on one symbol's series (oldest first)."""
    report = QualityReport(series_checked=1)
    if not bars:
        return report
    calendar = calendar or TradingCalendar("weekdays" if fx else config.calendar)
    issues = report.issues
    stamps = [b.timestamp for b in bars]
    for prev, cur in itertools.pairwise(stamps):
        if cur <= prev:
            issues.append(
                _issue(
                    symbol, "order", f"timestamp {cur.isoformat()} does not follow {prev.isoformat()}", cur
                )
            )
    for bar in bars:
        issues.extend(_prices(bar, symbol))
    key = (
        "intraday"
        if interval in _MINUTES
        else {"1day": "day", "1week": "week", "1month": "month"}[interval.value]
    )
    issues.extend(_outliers(bars, symbol, config.outlier_threshold.get(key, 0.25)))
    if interval is BarInterval.DAY:
        issues.extend(_daily_gaps(bars, symbol, calendar))
    elif interval in _MINUTES:
        issues.extend(_intraday_gaps(bars, symbol, _MINUTES[interval], calendar))
    issues.extend(_stale_bars(bars, symbol, interval, now, calendar, config))
    return report


def check_quote(symbol: str, quote: Quote, *, now: datetime, config: QualityConfig) -> QualityReport:
    """Prices and staleness of one latest quote."""
    report = QualityReport(series_checked=1)
    for name in ("bid_price", "ask_price", "last_price"):
        value = getattr(quote, name)
        if value is not None and value <= 0:
            report.issues.append(
                _issue(symbol, "non_positive", f"{name} {value} not positive", quote.timestamp)
            )
    if quote.bid_price is not None and quote.ask_price is not None and quote.bid_price > quote.ask_price > 0:
        report.issues.append(
            _issue(symbol, "ohlc", f"bid {quote.bid_price} above ask {quote.ask_price}", quote.timestamp)
        )
    calendar = TradingCalendar(config.calendar)
    if calendar.in_session(now):
        age = (now - quote.timestamp).total_seconds()
        if age > config.stale_quote_seconds:
            report.issues.append(
                _issue(
                    symbol,
                    "stale",
                    f"quote is {age:.0f}s old (limit {config.stale_quote_seconds:.0f}s)",
                    quote.timestamp,
                )
            )
    elif quote.timestamp.astimezone(NEW_YORK).date() < calendar.last_session_day(now):
        report.issues.append(_issue(symbol, "stale", "quote predates the last session", quote.timestamp))
    return report
