"""The market data service: one entry point over every data connector, with provider fallback chains,
quality checks on what comes back, and the local cache.

:class:`MarketDataService` is assembled from parts, each in the module its job names: this one answers
a request (routing to the provider and its fallbacks, checking, caching); :mod:`._held_history` holds
ingested daily bars and answers from them; :mod:`._live` runs the live subscriptions.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
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
from portico.marketdata._calendar import TradingCalendar
from portico.marketdata._config import MarketDataConfig
from portico.marketdata._held_history import HeldHistory
from portico.marketdata._history import BarHistory
from portico.marketdata._live import LiveSubscriptions
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


class MarketDataService(HeldHistory, LiveSubscriptions):
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
                when = datetime.fromisoformat(issue["timestamp"]) if issue.get("timestamp") else None
                result.quality.issues.append(
                    QualityIssue(issue["symbol"], issue["check"], issue["detail"], when, issue["severity"])
                )
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

    async def aclose(self) -> None:
        """Stop every subscription and write the cache's pending answers to the store."""
        for subscription_id in list(self._subscriptions):
            await self.unsubscribe_market_data(subscription_id)
        if self.cache is not None:
            import asyncio

            await asyncio.to_thread(self.cache.flush)


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [v.model_dump(mode="json") for v in value]
    return value.model_dump(mode="json")


def _load(kind: DataKind, payload: Any) -> Any:
    model = kind.model
    if isinstance(payload, list):
        return [model.model_validate(v) for v in payload]
    return model.model_validate(payload)
