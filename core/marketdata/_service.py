"""The market data service: one entry point over every data connector, with provider fallback, quality
checks, a local cache and live subscriptions."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.clock import Clock, system_clock
from portico.errors import (
    CircuitOpen,
    ConfigurationError,
    NotFound,
    NotSupported,
    PorticoError,
    RateLimited,
    VenueRejected,
)
from portico.marketdata._cache import MarketDataCache, cache_key
from portico.marketdata._calendar import NEW_YORK, TradingCalendar
from portico.marketdata._config import MarketDataConfig
from portico.marketdata._history import BarHistory
from portico.marketdata._quality import QualityReport, check_bars, check_quote
from portico.marketdata._requests import DataKind, Request, normalize_request
from portico.marketdata._result import FallbackAttempt, MarketDataResult
from portico.marketdata._subscriptions import Subscription
from portico.models import Bar, BarInterval, Quote
from portico.sdk import Capability, Connector, RateLimitPolicy

if TYPE_CHECKING:
    from portico.store import Database

__all__ = ["MarketDataService"]

_log = logging.getLogger("portico.marketdata")

_SUBSCRIPTION_TYPES = {
    "quotes": "latest_quote",
    "quote": "latest_quote",
    "latest_quote": "latest_quote",
    "latest_quotes": "latest_quote",
    "trades": "latest_trade",
    "latest_trade": "latest_trade",
    "latest_trades": "latest_trade",
    "bars": "bars",
    "minute_bars": "bars",
}
_STREAM_METHODS = {
    "latest_quote": "subscribe_quotes",
    "latest_trade": "subscribe_trades",
    "bars": "subscribe_bars",
}


def _reason(error: BaseException) -> str:
    if isinstance(error, RateLimited):
        return "throttled"
    if isinstance(error, NotSupported):
        return "unsupported"
    if isinstance(error, CircuitOpen):
        return "error"
    return "error"


def _pair(text: str) -> tuple[str, str]:
    cleaned = text.strip().upper().replace("-", "/")
    if "/" in cleaned:
        base, _, quote = cleaned.partition("/")
    elif len(cleaned) == 6:
        base, quote = cleaned[:3], cleaned[3:]
    else:
        raise ConfigurationError(f"{text!r} is not a currency pair (write EUR/USD)", path="symbols")
    return base, quote


class MarketDataService:
    """Market data from every data connector, through one call.

    Args:
        systems: the connected connectors by system id (a live view: systems may come and go).
        monitor: receives events (``marketdata.fallback``, ``marketdata.quality``...) through ``.emit``.
        db: the embedded store holding the cache (``None``: memory only).
        clock: the time source (cache expiry, staleness, polling).
        config: the ``market_data`` section (a dict or :class:`MarketDataConfig`).
        policies: the throttling in force per system (the runtime's, with config overrides); by default a
            connector's ``throttling_for(connection)`` or its manifest's throttling.
    """

    def __init__(
        self,
        systems: Mapping[str, Connector],
        *,
        monitor: Any = None,
        db: Database | None = None,
        clock: Clock | None = None,
        config: MarketDataConfig | Mapping[str, Any] | None = None,
        policies: Mapping[str, RateLimitPolicy] | Callable[[str], RateLimitPolicy | None] | None = None,
    ) -> None:
        self.systems = systems
        self.monitor = monitor
        self.clock = clock or system_clock
        self.config = (
            config
            if isinstance(config, MarketDataConfig)
            else MarketDataConfig.model_validate(dict(config or {}))
        )
        self.cache = (
            MarketDataCache(db, self.clock, memory_entries=self.config.cache.memory_entries)
            if self.config.cache.enabled
            else None
        )
        self.history = (
            BarHistory(db, self.clock)
            if self.config.cache.enabled and self.config.cache.historical_ttl > 0
            else None
        )
        self.calendar = TradingCalendar(self.config.quality.calendar)
        self.counters: Counter[str] = Counter()
        self._policies = policies
        self._subscriptions: dict[str, Subscription] = {}
        self._poll_cost: defaultdict[str, float] = defaultdict(float)
        self._ids = itertools.count(1)

    # -- helpers -----------------------------------------------------------------------------------

    def _emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        if self.monitor is None:
            return
        try:
            self.monitor.emit(event, system=system, severity=severity, **data)
        except Exception:
            _log.exception("monitor rejected event %s", event)

    def _connector(self, system: str) -> Connector:
        try:
            return self.systems[system]
        except KeyError:
            raise ConfigurationError(f"no connected system {system!r}", system=system) from None

    def policy_for(self, system: str) -> RateLimitPolicy:
        """The throttling in force for ``system``."""
        policies = self._policies
        if callable(policies):
            found = policies(system)
            if found is not None:
                return found
        elif policies is not None and system in policies:
            return policies[system]
        connector = self._connector(system)
        throttling_for = getattr(type(connector), "throttling_for", None)
        if throttling_for is not None:
            policy: RateLimitPolicy = throttling_for(connector.context.connection)
            return policy
        return connector.spec.throttling

    def stats(self) -> dict[str, Any]:
        """Counters: requests, cache hits and misses, fallbacks, quality issues by check, subscriptions."""
        return {
            **dict(self.counters),
            "subscriptions": {sid: sub.describe() for sid, sub in self._subscriptions.items()},
        }

    # -- one request -------------------------------------------------------------------------------

    async def get_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str = "bars",
        parameters: Mapping[str, Any] | None = None,
    ) -> MarketDataResult:
        """Market data as canonical models, served by ``system_id`` or, failing that, its fallbacks.

        Args:
            system_id: the system to ask first.
            symbols: symbols (``AAPL``), currency pairs for FX (``EUR/USD``), or a search text.
            data_type: ``bars``, ``latest_quote``, ``latest_trade``, ``snapshot``, ``quotes``, ``trades``,
                ``fundamentals``, ``fx_rate``, ``fx_series``, ``search``, ``corporate_actions``, ``news`` (aliases:
                ``daily_prices``, ``intraday_prices``, ``quote``...).
            parameters: ``interval``, ``start``, ``end``, ``limit``, ``adjusted``, ``statements``, and the
                controls ``cache`` (False: skip the cache), ``max_age`` (seconds an answer may be reused),
                ``fallback`` (False: the asked system only), ``quality`` (False: skip the checks).

        Returns:
            A :class:`MarketDataResult`; symbols no provider could serve are in ``errors``.

        Raises:
            ConfigurationError: unknown data type, parameter or system.
            PorticoError: the asked system's error when no symbol at all could be served.
        """
        request = normalize_request(data_type, parameters or {})
        wanted = [symbols] if isinstance(symbols, str) else list(symbols)
        wanted = list(dict.fromkeys(s.strip() for s in wanted if s and s.strip()))
        if not wanted:
            raise ConfigurationError("give at least one symbol", path="symbols")
        if request.kind.name != "search":
            wanted = [s.upper() for s in wanted]
        self.counters["requests"] += 1
        result = MarketDataResult(request.kind.name, system_id, parameters=request.cache_params())
        pending = self._from_cache(system_id, request, wanted, result)
        pending = self._from_history(system_id, request, pending, result)
        chain = [system_id, *(self.config.fallback.get(system_id, []) if request.fallback else [])]
        stale_held: dict[str, tuple[Any, str, QualityReport]] = {}
        last_errors: dict[str, PorticoError] = {}
        first_errors: dict[str, PorticoError] = {}
        for index, system in enumerate(chain):
            if not pending:
                break
            has_next = index + 1 < len(chain)
            failures: dict[str, tuple[str, PorticoError]] = {}
            try:
                connector = self._connector(system)
                if not connector.spec.capabilities.has(request.kind.capability):
                    raise NotSupported(capability=request.kind.capability.value, system=system)
            except PorticoError as exc:
                failures = {s: (_reason(exc), exc) for s in pending}
            else:
                values, errors = await self._fetch(connector, request, pending)
                failures = {s: (_reason(e), e) for s, e in errors.items()}
                for symbol, value in values.items():
                    report = self._check(symbol, value, request) if request.quality else QualityReport()
                    held = self._held_reason(report)
                    if held is not None and has_next:
                        stale_held.setdefault(symbol, (value, system, report))
                        failures[symbol] = (
                            held,
                            VenueRejected(f"{system} data for {symbol} is {held}", system=system),
                        )
                        continue
                    self._accept(result, request, symbol, value, system, report)
            for symbol, (_, error) in failures.items():
                first_errors.setdefault(symbol, error)
                last_errors[symbol] = error
            # a failure the configuration does not fall back on ends the chain for that symbol
            reasons = self.config.fallback_on
            for symbol, (reason, _) in failures.items():
                if reason not in reasons and symbol not in stale_held:
                    result.errors[symbol] = first_errors[symbol]
            pending = [s for s in pending if s in failures and (failures[s][0] in reasons or s in stale_held)]
            self._record_attempts(result, request, system, failures, chain[index + 1] if has_next else None)
        for symbol in pending:
            if symbol in stale_held:
                value, system, report = stale_held[symbol]
                self._accept(result, request, symbol, value, system, report, cache=False)
                self._emit("marketdata.stale_served", system=system, severity="warning", symbol=symbol,
                           data_type=request.kind.name)  # fmt: skip
            else:
                result.errors[symbol] = first_errors.get(symbol) or last_errors[symbol]
        self._count_quality(result)
        if result.errors and not result.data:
            self.counters["failures"] += 1
            raise next(iter(result.errors.values()))
        return result

    def _held_reason(self, report: QualityReport) -> str | None:
        reasons = self.config.fallback_on
        if "stale" in reasons and report.stale_symbols():
            return "stale"
        if "quality" in reasons and not report.ok:
            return "quality"
        return None

    def _record_attempts(
        self,
        result: MarketDataResult,
        request: Request,
        system: str,
        failures: Mapping[str, tuple[str, PorticoError]],
        next_system: str | None,
    ) -> None:
        by_reason: defaultdict[str, list[str]] = defaultdict(list)
        for symbol, (reason, _) in failures.items():
            by_reason[reason].append(symbol)
        for reason, symbols in by_reason.items():
            error = failures[symbols[0]][1]
            result.attempts.append(FallbackAttempt(system, reason, tuple(symbols), error.message))
            if reason not in self.config.fallback_on:
                continue
            if next_system is None:
                continue
            self.counters["fallbacks"] += 1
            self._emit(
                "marketdata.fallback",
                system=system,
                severity="warning",
                from_system=system,
                to_system=next_system,
                reason=reason,
                data_type=request.kind.name,
                symbols=symbols,
                error=error.message,
            )

    def _accept(
        self,
        result: MarketDataResult,
        request: Request,
        symbol: str,
        value: Any,
        system: str,
        report: QualityReport,
        *,
        cache: bool = True,
    ) -> None:
        result.data[symbol] = value
        result.providers[symbol] = system
        result.quality.extend(report)
        if cache and self.cache is not None and request.use_cache:
            ttl = request.max_age if request.max_age is not None else self._ttl(request)
            payload = {"value": _dump(value), "quality": [i.to_dict() for i in report.issues]}
            key = cache_key(result.system, request.kind.name, symbol, result.parameters)
            self.cache.put(key, system=result.system, data_type=request.kind.name, symbol=symbol, served_by=system,
                           payload=payload, ttl=ttl)  # fmt: skip

    def _ttl(self, request: Request) -> float:
        cfg = self.config.cache
        if request.kind.series and request.historical and request.params["end"] < self.clock.now():
            return cfg.historical_ttl
        return cfg.ttl_for(request.kind.name)

    def _from_cache(
        self, system: str, request: Request, symbols: list[str], result: MarketDataResult
    ) -> list[str]:
        if self.cache is None or not request.use_cache:
            return symbols
        pending: list[str] = []
        now = self.clock.now().timestamp()
        for symbol in symbols:
            entry = self.cache.get(cache_key(system, request.kind.name, symbol, result.parameters))
            if entry is None or (request.max_age is not None and now - entry.created_at > request.max_age):
                self.counters["cache_misses"] += 1
                pending.append(symbol)
                continue
            self.counters["cache_hits"] += 1
            result.data[symbol] = _load(request.kind, entry.payload["value"])
            result.providers[symbol] = entry.served_by
            result.cached.add(symbol)
            from portico.marketdata._quality import QualityIssue

            result.quality.series_checked += 1
            for issue in entry.payload.get("quality", []):
                from datetime import datetime

                when = datetime.fromisoformat(issue["timestamp"]) if issue.get("timestamp") else None
                result.quality.issues.append(
                    QualityIssue(issue["symbol"], issue["check"], issue["detail"], when, issue["severity"])
                )
        return pending

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

    def _count_quality(self, result: MarketDataResult) -> None:
        fresh_symbols = [s for s in result.data if s not in result.cached]
        if not fresh_symbols:
            return
        fresh = [i for i in result.quality.issues if i.symbol not in result.cached]
        counts = Counter(i.check for i in fresh)
        for check, n in counts.items():
            self.counters[f"quality.{check}"] += n
        # the IntegrationMonitor's own events: freshness per symbol, and quality alerts raised and resolved
        for symbol in fresh_symbols:
            provider = result.providers[symbol]
            self._emit("market_data.update", system=provider, symbol=symbol, data_type=result.data_type)
            problems = [i for i in fresh if i.symbol == symbol and i.severity != "info"]
            if problems:
                reason = "; ".join(sorted({f"{i.check}: {i.detail}" for i in problems})[:3])
                self._emit("market_data.quality_failed", system=provider, severity="warning", symbol=symbol,
                           reason=reason, checks=sorted({i.check for i in problems}))  # fmt: skip
            elif result.quality.series_checked:
                self._emit("market_data.quality_ok", system=provider, symbol=symbol)
        if fresh:
            worst = "warning" if any(i.severity != "info" for i in fresh) else "info"
            self._emit(
                "marketdata.quality",
                system=result.system,
                severity=worst,
                data_type=result.data_type,
                counts=dict(counts),
                symbols=sorted({i.symbol for i in fresh}),
            )

    def _check(self, symbol: str, value: Any, request: Request) -> QualityReport:
        cfg = self.config.quality
        if not cfg.enabled:
            return QualityReport()
        now = self.clock.now()
        if request.kind.series and isinstance(value, list):
            bars = [b for b in value if isinstance(b, Bar)]
            interval = request.params.get("interval", BarInterval.DAY)
            return check_bars(symbol, bars, interval, now=now, config=cfg, fx=request.kind.name == "fx_series",
                              calendar=None if request.kind.name == "fx_series" else self.calendar)  # fmt: skip
        if isinstance(value, Quote):
            return check_quote(symbol, value, now=now, config=cfg)
        return QualityReport()

    async def _fetch(
        self, connector: Connector, request: Request, symbols: list[str]
    ) -> tuple[dict[str, Any], dict[str, PorticoError]]:
        values: dict[str, Any] = {}
        errors: dict[str, PorticoError] = {}
        kind = request.kind
        if kind.batched:
            size = max(1, connector.spec.capabilities.max_symbols_per_request)
            method = getattr(connector, kind.capability.value)
            for start in range(0, len(symbols), size):
                batch = symbols[start : start + size]
                try:
                    answer = await method(batch)
                except PorticoError as exc:
                    errors.update(dict.fromkeys(batch, exc))
                    continue
                for symbol in batch:
                    if symbol in answer:
                        values[symbol] = answer[symbol]
                    else:
                        errors[symbol] = NotFound(f"{connector.system} returned no {kind.name} for {symbol}",
                                                  system=connector.system)  # fmt: skip
            return values, errors
        gate = asyncio.Semaphore(self.config.max_concurrency)

        async def one(symbol: str) -> None:
            async with gate:
                try:
                    values[symbol] = await self._call(connector, kind, symbol, request.params)
                except PorticoError as exc:
                    errors[symbol] = exc

        await asyncio.gather(*(one(s) for s in symbols))
        return values, errors

    @staticmethod
    async def _call(connector: Connector, kind: DataKind, symbol: str, params: Mapping[str, Any]) -> Any:
        cap = kind.capability
        start, end, limit = params.get("start"), params.get("end"), params.get("limit")
        if cap is Capability.GET_BARS:
            return await connector.get_bars(symbol, params["interval"], start=start, end=end, limit=limit,
                                            adjusted=bool(params.get("adjusted", False)))  # fmt: skip
        if cap is Capability.GET_QUOTES:
            return await connector.get_quotes(symbol, start=start, end=end, limit=limit)
        if cap is Capability.GET_TRADES:
            return await connector.get_trades(symbol, start=start, end=end, limit=limit)
        if cap is Capability.GET_FUNDAMENTALS:
            return await connector.get_fundamentals(symbol, statements=bool(params.get("statements", False)))
        if cap is Capability.GET_FX_RATE:
            return await connector.get_fx_rate(*_pair(symbol))
        if cap is Capability.GET_FX_SERIES:
            base, quote = _pair(symbol)
            return await connector.get_fx_series(
                base, quote, params["interval"], start=start, end=end, limit=limit
            )
        if cap is Capability.SEARCH_INSTRUMENTS:
            return await connector.search_instruments(symbol, limit=limit or 20)
        if cap is Capability.GET_CORPORATE_ACTIONS:
            return await connector.get_corporate_actions(symbol, start=start, end=end)
        if cap is Capability.GET_NEWS:
            return await connector.get_news([symbol], start=start, end=end, limit=limit)
        raise NotSupported(capability=cap.value, system=connector.system)

    # -- subscriptions -----------------------------------------------------------------------------

    async def subscribe_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str,
        callback: Callable[[Any], Any],
        *,
        overflow: str | None = None,
        queue_size: int | None = None,
        poll_interval: float | None = None,
        **parameters: Any,
    ) -> str:
        """Deliver live ``data_type`` (``quotes``, ``trades``, ``bars``, or any polled type) to ``callback``.

        A connector that streams the type natively is read through its stream; any other is polled, paced
        so every polling subscription on the system together uses at most ``poll_budget_share`` of its
        throttle. Items reach ``callback`` through a bounded queue (``overflow``: ``drop_oldest`` or
        ``block``), so a slow callback never blocks the feed.

        Returns:
            The subscription id for :meth:`unsubscribe_market_data`.
        """
        name = _SUBSCRIPTION_TYPES.get(data_type.strip().lower(), data_type)
        if name == "bars":
            parameters.setdefault("interval", BarInterval.MIN_1)
        request = normalize_request(name, parameters)
        cfg = self.config.subscriptions
        policy = overflow or cfg.overflow
        if policy not in ("drop_oldest", "block"):
            raise ConfigurationError(
                f"overflow must be 'drop_oldest' or 'block', got {policy!r}", path="overflow"
            )
        wanted = [symbols] if isinstance(symbols, str) else list(symbols)
        wanted = list(dict.fromkeys(s.strip().upper() for s in wanted if s.strip()))
        if not wanted:
            raise ConfigurationError("give at least one symbol", path="symbols")
        connector = self._connector(system_id)
        kind = request.kind
        native = kind.stream is not None and kind.stream in connector.spec.streams
        if not native and not connector.spec.capabilities.has(kind.capability):
            raise NotSupported(capability=kind.capability.value, system=system_id)
        subscription_id = f"md-{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        subscription = Subscription(
            subscription_id,
            system=system_id,
            symbols=wanted,
            data_type=kind.name,
            mode="stream" if native else "poll",
            callback=callback,
            queue_size=queue_size or cfg.queue_size,
            overflow=policy,  # type: ignore[arg-type]
            # drops in the subscription's queue or the stream's: a warning to the monitor, at most once a second
            on_drops=lambda new, total: self._emit(
                "marketdata.dropped",
                system=system_id,
                severity="warning",
                subscription=subscription_id,
                dropped=new,
                total_dropped=total,
            ),
            monotonic=self.clock.monotonic,
        )
        self._subscriptions[subscription.id] = subscription
        if native:
            subscription.start(lambda sub: self._stream(sub, connector))
        else:
            calls = (
                math.ceil(len(wanted) / max(1, connector.spec.capabilities.max_symbols_per_request))
                if kind.batched
                else len(wanted)
            )
            subscription.poll_cost = float(calls)
            self._poll_cost[system_id] += subscription.poll_cost
            explicit = poll_interval or cfg.poll_interval
            params = dict(parameters)
            if kind.name == "bars":
                params.setdefault("limit", 2)
            subscription.start(lambda sub: self._poll(sub, request.kind.name, params, explicit))
        self.counters["subscriptions"] += 1
        self._emit("marketdata.subscribed", system=system_id, subscription=subscription.id, mode=subscription.mode,
                   data_type=kind.name, symbols=wanted)  # fmt: skip
        return subscription.id

    async def _stream(self, sub: Subscription, connector: Connector) -> None:
        method = getattr(connector, _STREAM_METHODS[sub.data_type])
        failures = 0
        while not sub.closed:
            iterator = method(list(sub.symbols))
            sub.attach_iterator(iterator)
            error: str = "the stream ended"
            received = sub.stats.received
            try:
                batches = getattr(iterator, "batches", None)
                if batches is not None:
                    # a StreamFeed hands over a frame's items at once
                    put_many = sub.put_many
                    async for batch in batches():
                        await put_many(batch)
                else:
                    put = sub.put
                    async for item in iterator:
                        await put(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = str(exc)
            # connectors reconnect by themselves; a stream that still ends or fails is restarted with backoff
            failures = 1 if sub.stats.received > received else failures + 1
            sub.stats.stream_restarts += 1
            self._emit("marketdata.stream_error", system=sub.system, severity="warning", subscription=sub.id,
                       error=error, restarts=sub.stats.stream_restarts)  # fmt: skip
            await self.clock.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))

    def poll_interval(self, system: str, explicit: float | None = None) -> float:
        """Seconds between polls on ``system`` so its polling subscriptions stay inside their budget share."""
        cfg = self.config.subscriptions
        policy = self.policy_for(system)
        total = self._poll_cost.get(system, 0.0)
        derived = max(
            (total * w.period / (w.limit * cfg.poll_budget_share) for w in policy.windows), default=0.0
        )
        return max(cfg.min_poll_interval, explicit or 0.0, derived)

    async def _poll(
        self, sub: Subscription, data_type: str, params: dict[str, Any], explicit: float | None
    ) -> None:
        seen: dict[str, dict[Any, Any]] = defaultdict(dict)
        while not sub.closed:
            delay = self.poll_interval(sub.system, explicit)
            sub.poll_interval = delay
            try:
                result = await self.get_market_data(
                    sub.system, sub.symbols, data_type, {**params, "cache": False}
                )
            except PorticoError as exc:
                sub.stats.poll_errors += 1
                self._emit("marketdata.poll_error", system=sub.system, severity="warning", subscription=sub.id,
                           error=exc.message)  # fmt: skip
                retry_after = getattr(exc, "retry_after", None)
                if retry_after:
                    delay = max(delay, min(float(retry_after), 3600.0))
            else:
                sub.stats.polls += 1
                for symbol, value in result.data.items():
                    for item in value if isinstance(value, list) else [value]:
                        # a bar is identified by its period; a quote or trade by its content, not by the
                        # time the provider stamped on an unchanged answer
                        if data_type == "bars":
                            marker, content = item.timestamp, item
                        else:
                            marker, content = None, item.model_dump(exclude={"timestamp"})
                        if seen[symbol].get(marker) == content:
                            continue  # unchanged since the last poll
                        seen[symbol][marker] = content
                        await sub.put(item)
                    if len(seen[symbol]) > 64:
                        for old in list(seen[symbol])[:-16]:
                            del seen[symbol][old]
            await self.clock.sleep(delay)

    async def unsubscribe_market_data(
        self, subscription_id: str, system_id: str | None = None
    ) -> dict[str, Any]:
        """Stop a subscription, release its share of the polling budget, and return its final counters."""
        if system_id is not None and subscription_id not in self._subscriptions:
            # the plan's facade passes (system_id, subscription_id)
            system_id, subscription_id = subscription_id, system_id
        sub = self._subscriptions.pop(subscription_id, None)
        if sub is None:
            raise NotFound(f"no market data subscription {subscription_id!r}")
        if sub.poll_cost:
            self._poll_cost[sub.system] = max(0.0, self._poll_cost[sub.system] - sub.poll_cost)
        await sub.stop()
        summary = sub.describe()
        self._emit("marketdata.unsubscribed", system=sub.system, subscription=sub.id, delivered=sub.stats.delivered,
                   dropped=sub.stats.dropped)  # fmt: skip
        return summary

    def subscription(self, subscription_id: str) -> Subscription:
        """A live subscription by id."""
        try:
            return self._subscriptions[subscription_id]
        except KeyError:
            raise NotFound(f"no market data subscription {subscription_id!r}") from None

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every live subscription, described."""
        return [sub.describe() for sub in self._subscriptions.values()]

    async def aclose(self) -> None:
        """Stop every subscription and write the cache's pending answers to the store."""
        for subscription_id in list(self._subscriptions):
            await self.unsubscribe_market_data(subscription_id)
        if self.cache is not None:
            import asyncio

            await asyncio.to_thread(self.cache.flush)


def _day_of(bar: Bar) -> date:
    """The trading day of a daily bar, as the quality checks read it (UTC stamps: their own date)."""
    stamp = bar.timestamp
    return stamp.astimezone(NEW_YORK).date() if stamp.utcoffset() else stamp.date()


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [v.model_dump(mode="json") for v in value]
    return value.model_dump(mode="json")


def _load(kind: DataKind, payload: Any) -> Any:
    model = kind.model
    if isinstance(payload, list):
        return [model.model_validate(v) for v in payload]
    return model.model_validate(payload)
