"""The market data service's held daily history: bars ingested from elsewhere (a scheduled import),
split adjustments, and answering daily ``bars`` requests from them without calling the provider.

:class:`HeldHistory` is that part of :class:`~portico.marketdata.MarketDataService`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.errors import ConfigurationError
from portico.marketdata._calendar import NEW_YORK
from portico.marketdata._quality import QualityReport, check_bars
from portico.marketdata._requests import Request
from portico.marketdata._result import MarketDataResult
from portico.models import Bar, BarInterval

if TYPE_CHECKING:
    from portico.clock import Clock
    from portico.marketdata._cache import MarketDataCache
    from portico.marketdata._calendar import TradingCalendar
    from portico.marketdata._config import MarketDataConfig
    from portico.marketdata._history import BarHistory

__all__ = ["HeldHistory"]


class HeldHistory:
    """Ingested daily bars and reads of them (a part of :class:`~portico.marketdata.MarketDataService`)."""

    if TYPE_CHECKING:
        clock: Clock
        config: MarketDataConfig
        cache: MarketDataCache | None
        history: BarHistory | None
        calendar: TradingCalendar
        counters: Counter[str]

        def _emit(
            self, event: str, *, system: str | None = None, severity: str = "info", **data: Any
        ) -> None: ...

        def _check(self, symbol: str, value: Any, request: Request) -> QualityReport: ...

        def _held_reason(self, report: QualityReport) -> str | None: ...

    # -- ingested bars -------------------------------------------------------------------------------

    def ingest_bars(self, bars: Iterable[Bar], *, source: str | None = None) -> int:
        """Make daily bars obtained another way (a scheduled import) part of what the service answers.

        Each bar is kept per (system, symbol, interval, trading day) for the cache's ``historical_ttl``, so
        a later ``bars`` request to that system whose whole window those days cover is answered from them
        without calling the provider. The quality checks run on each symbol's ingested series; bars with
        error-level findings (non-positive prices, inconsistent OHLC) are not kept. Ingesting the same bars
        again keeps one copy (and renews their time to live); a bar whose content changed replaces the
        earlier one, and cached answers for that symbol are dropped so the correction is what is served.
        Daily bars are stamped at the start of their trading day in New York, as the providers stamp them.

        Args:
            bars: daily bars (other intervals are counted as ``unsupported`` and skipped).
            source: the system id the bars belong to; by default each bar's ``source``.

        Returns:
            How many bars changed what is held (new or corrected ones); 0 when every bar was already held.

        Raises:
            ConfigurationError: a bar names no system and ``source`` is not given.
        """
        received = list(bars)
        now = self.clock.now()
        series: defaultdict[tuple[str, str], dict[date, Bar]] = defaultdict(dict)
        unsupported = 0
        for index, bar in enumerate(received):
            system = source or bar.source
            if not system:
                raise ConfigurationError(
                    f"bar {index} ({bar.symbol} {bar.timestamp.isoformat()}) names no system: pass source=",
                    path=f"bars.{index}.source",
                )
            if bar.interval is not BarInterval.DAY:
                unsupported += 1
                continue
            day = _day_of(bar)
            symbol = bar.symbol.strip().upper()
            # a later bar for the same day in one batch is the newer word on it
            series[(system, symbol)][day] = bar.model_copy(
                update={
                    "symbol": symbol,
                    "timestamp": datetime.combine(day, time(0), NEW_YORK),
                    "source": bar.source or system,
                }
            )
        if self.history is None:
            self._emit("market_data.ingested", system=source, severity="warning", received=len(received),
                       stored=0, replaced=0, unchanged=0, rejected=0, unsupported=unsupported,
                       reason="the market data cache is disabled")  # fmt: skip
            return 0
        rows: dict[tuple[str, str, str, str], Any] = {}
        rejected = 0
        checks: Counter[str] = Counter()
        for (system, symbol), by_day in series.items():
            ordered = [by_day[d] for d in sorted(by_day)]
            report = check_bars(symbol, ordered, BarInterval.DAY, now=now, config=self.config.quality,
                                calendar=self.calendar)  # fmt: skip
            checks.update(i.check for i in report.issues)
            bad = {i.timestamp for i in report.issues if i.severity == "error" and i.timestamp is not None}
            problems = [i for i in report.issues if i.severity != "info"]
            if problems:
                reason = "; ".join(sorted({f"{i.check}: {i.detail}" for i in problems})[:3])
                self._emit("market_data.quality_failed", system=system, severity="warning", symbol=symbol,
                           reason=reason, checks=sorted({i.check for i in problems}))  # fmt: skip
            for bar in ordered:
                if bar.timestamp in bad:
                    rejected += 1
                    continue
                key = (system, symbol, BarInterval.DAY.value, _day_of(bar).isoformat())
                rows[key] = bar.model_dump(mode="json")
        outcome = self.history.store(rows, ttl=self.config.cache.historical_ttl)
        changed = outcome.added + outcome.replaced
        if self.cache is not None:
            for system, symbol in sorted({(k[0], k[1]) for k in changed}):
                self.cache.forget("bars", symbol, systems={system})
        for check, n in checks.items():
            self.counters[f"quality.{check}"] += n
        self.counters["ingested_bars"] += len(changed)
        systems = sorted({k[0] for k in rows} | {s for s, _ in series})
        self._emit(
            "market_data.ingested",
            system=systems[0] if len(systems) == 1 else source,
            severity="warning" if rejected else "info",
            received=len(received),
            stored=len(outcome.added),
            replaced=len(outcome.replaced),
            unchanged=len(outcome.unchanged),
            rejected=rejected,
            unsupported=unsupported,
            symbols=sorted({s for _, s in series}),
            systems=systems,
            quality=dict(checks),
        )
        return len(changed)

    def adjust_history_for_split(self, symbol: str, ex_date: date, factor: Decimal) -> int:
        """Rescale the held daily history of ``symbol`` before ``ex_date`` for a split of ``factor`` new
        shares per old one (``1 / factor`` undoes it) and drop its cached answers; returns bars changed."""
        if self.history is None:
            return 0
        symbol = symbol.strip().upper()
        changed = self.history.rescale(symbol, ex_date, factor)
        if self.cache is not None and changed:
            self.cache.forget("bars", symbol, systems={k[0] for k in changed})
        return len(changed)

    def _history_days(self, request: Request) -> list[date]:
        """The trading days a daily ``bars`` request's answer consists of, when the history could hold them
        all: a bounded window (``start`` or ``limit``) whose newest session has closed. Empty otherwise."""
        params = request.params
        start, end, limit = params.get("start"), params.get("end"), params.get("limit")
        if start is None and limit is None:
            return []  # the provider's whole history: never known to be held in full
        now = self.clock.now()

        def stamp(day: date) -> datetime:
            return datetime.combine(day, time(0), NEW_YORK)

        if end is None:
            last = self.calendar.last_session_day(now)
        else:
            last = end.astimezone(NEW_YORK).date()
            # the provider's window keeps bars stamped at or before ``end`` (a day's stamp is its start)
            for _ in range(30):
                if self.calendar.is_trading_day(last) and stamp(last) <= end:
                    break
                last -= timedelta(days=1)
        if self.calendar.session(last)[1] > now:
            return []  # the newest day is still trading (or to come): only the provider knows it
        if start is not None:
            first = start.astimezone(NEW_YORK).date()
            if stamp(first) < start:
                first += timedelta(days=1)
            days = self.calendar.trading_days(first, last)
            return days[-limit:] if limit is not None else days
        assert limit is not None
        span = limit * 2 + 10
        days = self.calendar.trading_days(last - timedelta(days=span), last)
        while len(days) < limit:
            span *= 2
            days = self.calendar.trading_days(last - timedelta(days=span), last)
        return days[-limit:]

    def _from_history(
        self, system: str, request: Request, symbols: list[str], result: MarketDataResult
    ) -> list[str]:
        history = self.history
        params = request.params
        if (
            history is None
            or not symbols
            or not request.use_cache
            or request.kind.name != "bars"
            or params.get("interval") is not BarInterval.DAY
            or params.get("adjusted")
        ):
            return symbols
        days = self._history_days(request)
        if not days:
            return symbols
        now = self.clock.now().timestamp()
        pending: list[str] = []
        for symbol in symbols:
            held = history.bars(system, symbol, BarInterval.DAY.value, days)
            if len(held) != len(days) or (
                request.max_age is not None and any(now - at > request.max_age for at, _ in held.values())
            ):
                pending.append(symbol)
                continue
            value = [Bar.model_validate(held[d][1]) for d in days]
            report = self._check(symbol, value, request) if request.quality else QualityReport()
            if self._held_reason(report) is not None:
                pending.append(symbol)  # the provider may do better than held data the checks reject
                continue
            self.counters["history_hits"] += 1
            result.data[symbol] = value
            result.providers[symbol] = system
            result.cached.add(symbol)
            result.quality.extend(report)
        return pending


def _day_of(bar: Bar) -> date:
    """The trading day of a daily bar, as the quality checks read it (UTC stamps: their own date)."""
    stamp = bar.timestamp
    return stamp.astimezone(NEW_YORK).date() if stamp.utcoffset() else stamp.date()
