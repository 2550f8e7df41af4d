"""How the runtime composes its services: the :class:`Composition` base of
:class:`~portico.runtime.AsyncIntegration` holds one typed slot per service, builds each on first use
through its ``build_*`` function (``_builders``) and passes it its dependencies from the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from portico.clock import Clock, system_clock
from portico.config import IntegrationConfig, SystemConfig, check_against_plugins, load_config
from portico.errors import ConfigurationError
from portico.models import CorporateAction, Position
from portico.plugins import PluginManager
from portico.runtime._builders import (
    build_analytics,
    build_audit,
    build_auth,
    build_database,
    build_events,
    build_fx_rates,
    build_jobs,
    build_limiters,
    build_market_data,
    build_monitor,
    build_trading,
)
from portico.runtime._systems import ConnectorView, LiveTradingOptIns, SystemRuntime

if TYPE_CHECKING:
    from portico.analytics import AnalyticsService
    from portico.auth import AuditLog, AuthenticationManager
    from portico.events import EventPublisher, OutboxPublisher
    from portico.http import RateLimiterRegistry
    from portico.jobs import JobService
    from portico.marketdata import FxFeedConfig, FxRateFeed, MarketDataService, StoredFxRateBook
    from portico.monitor import IntegrationMonitor
    from portico.store import Database
    from portico.trading import TradingService

__all__ = ["Composition", "PublishingMonitor"]

AlertSeverity = Literal["warning", "critical", "emergency"]


class PublishingMonitor:
    """The monitor as services see it: every ``emit`` also goes to the event broker."""

    def __init__(self, runtime: Composition) -> None:
        self._runtime = runtime

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        self._runtime._emit(event, system=system, severity=severity, **data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime.monitor, name)


# -- the runtime's typed slots ----------------------------------------------------------------------


class Composition(ABC):
    """The configuration, the systems and the shared services of a runtime, each service built on first
    use (see :class:`~portico.runtime.AsyncIntegration` for the arguments)."""

    _fx_task: asyncio.Task[None] | None
    _started: bool
    _scheduling: bool

    def __init__(
        self,
        config: IntegrationConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        plugins: PluginManager | None = None,
        clock: Clock | None = None,
        database_url: str | None = None,
        transport: Any = None,
    ) -> None:
        self.plugins = plugins or PluginManager()
        if config is None:
            config = IntegrationConfig()
        self.config: IntegrationConfig = (
            config if isinstance(config, IntegrationConfig) else load_config(config, plugins=self.plugins)
        )
        self.clock: Clock = clock or system_clock
        self.transport = transport
        self._database_url = database_url or self.config.database_url
        self.systems: dict[str, SystemRuntime] = {}
        self.connectors = ConnectorView(self)
        self._live_trading = LiveTradingOptIns(self)
        self._db: Database | None = None
        self._monitor: IntegrationMonitor | None = None
        self._events: EventPublisher | OutboxPublisher | None = None
        self._audit: AuditLog | None = None
        self._auth: AuthenticationManager | None = None
        self._market_data: MarketDataService | None = None
        self._trading: TradingService | None = None
        self._fx_rates: StoredFxRateBook | None = None
        self._fx_feed: FxRateFeed | None = None
        self._analytics: AnalyticsService | None = None
        self._jobs: JobService | None = None
        self._limiters: RateLimiterRegistry | None = None
        self._fx_task = None
        self._started = False
        self._scheduling = False
        for system_id, system_config in self.config.systems.items():
            self._add_system(system_id, system_config)

    @property
    def instance(self) -> str:
        """The name this runtime's stored jobs, schedules and order intents are kept under (config
        ``instance:``, else the config file's stem, else ``default``): configurations sharing a store never
        see each other's."""
        if self.config.instance:
            return self.config.instance
        if self.config.source:
            stem = re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(self.config.source).stem).lstrip("._-")[:64]
            if stem:
                return stem
        return "default"

    @property
    def _services(self) -> Mapping[str, object]:
        """The services built so far, by name (the dashboard reads which exist without building one)."""
        return {name: service for name, service in self._built() if service is not None}

    def _built(self) -> Iterator[tuple[str, object | None]]:
        yield from (
            ("monitor", self._monitor), ("events", self._events), ("audit", self._audit), ("auth", self._auth),
            ("market_data", self._market_data), ("trading", self._trading), ("fx_rates", self._fx_rates),
            ("fx_feed", self._fx_feed), ("analytics", self._analytics), ("jobs", self._jobs),
            ("limiters", self._limiters),
        )  # fmt: skip

    # -- shared services (created on first use) --------------------------------------------------

    @property
    def db(self) -> Database:
        """The embedded store."""
        if self._db is None:
            self._db = build_database(self._database_url)
        return self._db

    @property
    def monitor(self) -> IntegrationMonitor:
        """The :class:`~portico.monitor.IntegrationMonitor` every call and job reports to."""
        if self._monitor is None:
            self._monitor = build_monitor(
                db=self.db, clock=self.clock, config=self.config.monitoring, plugins=self.plugins
            )
        return self._monitor

    @property
    def events(self) -> EventPublisher | OutboxPublisher | None:
        """The :class:`~portico.events.EventPublisher` (broker from ``scale_out.events_url``), or None."""
        if self._events is None and self.config.scale_out.events_url is not None:
            # the monitor is built here if need be: a publisher made before it (the first event can come
            # before anything touched the monitor) would otherwise send every later event unredacted
            try:
                redactor = getattr(self.monitor, "redactor", None)
            except ImportError:
                redactor = None
            self._events = build_events(
                settings=self.config.scale_out, db=self.db, clock=self.clock,
                redact=getattr(redactor, "redact", None),
            )  # fmt: skip
        return self._events

    @property
    def audit(self) -> AuditLog:
        """The tamper-evident audit log."""
        if self._audit is None:
            self._audit = build_audit(db=self.db, clock=self.clock)
        return self._audit

    @property
    def auth(self) -> AuthenticationManager:
        """The :class:`~portico.auth.AuthenticationManager` shared by every connector."""
        if self._auth is None:
            self._auth = build_auth(
                audit=self.audit,
                clock=self.clock,
                transport=self.transport,
                plugins=self.plugins,
                emit=self._emit,
            )
        return self._auth

    @property
    def market_data(self) -> MarketDataService:
        """The market data service (fallback chains, quality checks, cache, subscriptions)."""
        if self._market_data is None:
            self._market_data = build_market_data(
                connectors=self.connectors,
                monitor=PublishingMonitor(self),
                db=self.db,
                clock=self.clock,
                config=self.config.market_data,
                policies=lambda sid: self.systems[sid].policy if sid in self.systems else None,
            )
        return self._market_data

    @property
    def trading(self) -> TradingService:
        """The trading service (durable routing, order tracking, reconciliation, allocation)."""
        if self._trading is None:
            self._trading = build_trading(
                db=self.db,
                clock=self.clock,
                connectors=self.connectors,
                monitor=PublishingMonitor(self),
                audit=self.audit,
                config=self.config.trading,
                plugins=self.plugins,
                analytics=lambda: self.analytics,
                live_trading_systems=self._live_trading,
                instance=self.instance,
            )
        return self._trading

    @property
    def fx_rates(self) -> StoredFxRateBook:
        """The FX rates the feed keeps (in the store, with source and time), queryable as of a time."""
        if self._fx_rates is None:
            self._fx_rates = build_fx_rates(db=self.db)
        return self._fx_rates

    @property
    def fx_feed(self) -> FxRateFeed | None:
        """The scheduled FX rate feed of ``market_data.fx_feed`` (None when not configured); it runs every
        ``interval`` seconds while the runtime schedules (``portico run``)."""
        settings = self.market_data.config.fx_feed
        if settings is None:
            return None
        if self._fx_feed is None:
            self._fx_feed = self._build_fx_feed(settings)
        return self._fx_feed

    def _build_fx_feed(self, settings: FxFeedConfig) -> FxRateFeed:
        from portico.marketdata import FxRateFeed  # lazy: cold start

        def source(system_id: str, what: str) -> Any:
            if system_id not in self.systems:
                raise ConfigurationError(
                    f"market_data.fx_feed.{what}: unknown system {system_id!r}; configured systems: "
                    f"{', '.join(sorted(self.systems)) or 'none'}",
                    path=f"market_data.fx_feed.{what}",
                )
            connector = self.systems[system_id].connector
            if connector is None:
                raise ConfigurationError(
                    f"market_data.fx_feed.{what}: system {system_id!r} is not connected "
                    f"(connected: {', '.join(sorted(self.connectors)) or 'none'})",
                    path=f"market_data.fx_feed.{what}",
                )
            return connector

        primary = source(settings.primary, "primary")
        if not hasattr(primary, "get_fx_rates"):
            raise ConfigurationError(
                f"market_data.fx_feed.primary: {settings.primary} has no get_fx_rates (Bloomberg and "
                "Refinitiv have it)",
                path="market_data.fx_feed.primary",
            )
        secondary = source(settings.fallback, "fallback") if settings.fallback else None

        def alert(event: str, severity: AlertSeverity = "warning", **data: Any) -> None:
            self._emit(event, system=settings.primary, severity=severity, **data)
            pairs = [*data.get("fell_back", []), *data.get("failed", [])]
            with contextlib.suppress(Exception):
                self.monitor.alerts.fire(
                    "fx_fallback",
                    system=settings.primary,
                    subject="fx_feed",
                    severity="critical" if data.get("failed") else severity,
                    summary=f"FX feed: {len(pairs)} pair(s) not from {settings.primary}: {', '.join(pairs)}",
                    details={k: str(v) for k, v in data.items()},
                )

        return FxRateFeed(
            primary,
            secondary,
            settings.pair_tuples(),
            book=self.fx_rates,
            clock=self.clock,
            alert=alert,
            attempts=settings.attempts,
            retry_delay=settings.retry_delay,
            max_age=settings.max_age,
            interval=settings.interval,
        )

    @property
    def analytics(self) -> AnalyticsService:
        """The analytics service (performance, risk, analytics exports) over the book and imported data."""
        if self._analytics is None:

            def alert(rule: str, **fields: Any) -> None:
                with contextlib.suppress(ImportError):
                    self.monitor.alerts.fire(rule, **fields)

            self._analytics = build_analytics(
                db=self.db,
                clock=self.clock,
                trading=self.trading,
                alert=alert,
                fx_rates=lambda: self.fx_rates,
            )
        return self._analytics

    @property
    def jobs(self) -> JobService:
        """The job service (imports, exports, schedules)."""
        if self._jobs is None:
            self._jobs = self._build_jobs()
        return self._jobs

    def _build_jobs(self) -> JobService:
        service = build_jobs(
            db=self.db,
            clock=self.clock,
            monitor=PublishingMonitor(self),
            connectors=self.connectors,
            market_data=self.market_data,
            config=self.config,
            plugins=self.plugins,
            sources={**self.analytics.export_sources(), "fx_feed_rates": lambda: self.fx_rates.export()},
            integration=self,
            broker_positions=self._brokerage_positions,
            instance=self.instance,
            fx_rate=lambda currency, base: self.fx_rates.get_fx_rate(currency, base).rate,
        )
        service.importer.committed_listeners.append(self._apply_imported_corporate_actions)
        settings = self.trading.config.reconciliation if self.config.trading.get("reconciliation") else None
        if settings is not None and settings.enabled:
            # trading.reconciliation: the daily reconciliation, a persisted job of kind "reconcile"
            async def reconcile() -> Any:
                return await self.trading.daily_reconciliation()()

            service.schedule_reconciliation(settings, reconcile)
        return service

    @property
    def limiters(self) -> RateLimiterRegistry:
        """The :class:`~portico.http.RateLimiterRegistry`: one limiter per connector and credentials,
        kept in Redis when ``scale_out.redis_url`` is configured so other processes share the budget."""
        if self._limiters is None:
            self._limiters = build_limiters(clock=self.clock, settings=self.config.scale_out, emit=self._emit)
        return self._limiters

    @abstractmethod
    async def _brokerage_positions(self) -> list[tuple[str, Position]]:
        """The positions of every enabled brokerage system (the job service's portfolio summary)."""

    def _apply_imported_corporate_actions(
        self, result: Any, rt: Any, rows: Callable[[], list[dict[str, Any]]]
    ) -> None:
        """A ``trading_book`` load of corporate actions, applied to the book and the history once each."""
        if rt.name != "corporate_actions" or result.destination != "trading_book":
            return
        from portico.trading import CorporateActionProcessor  # lazy: cold start (SQLAlchemy)

        actions = [
            CorporateAction.model_validate({k: v for k, v in r.items() if v not in (None, "")})
            for r in rows()
        ]
        processor = CorporateActionProcessor(
            self.trading, adjust_history=self.market_data.adjust_history_for_split
        )
        try:
            outcome = processor.apply(actions)
        except Exception as exc:
            # the actions are stored (the load committed); apply_corporate_actions can apply them later
            self._emit("corporate_actions.apply_failed", severity="error", load=result.load_id,
                       error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            return
        self._emit("corporate_actions.applied", severity="info", load=result.load_id, applied=len(outcome.applied),
                   corrected=len(outcome.corrected), reversed=len(outcome.reversed), pending=len(outcome.pending),
                   positions_changed=outcome.positions_changed, bars_adjusted=outcome.bars_adjusted)  # fmt: skip

    # -- systems ---------------------------------------------------------------------------------

    def _add_system(self, system_id: str, system_config: SystemConfig) -> SystemRuntime:
        name = system_config.connector or system_id
        cls = self.plugins.connector(name)
        problems = check_against_plugins(IntegrationConfig(systems={system_id: system_config}), self.plugins)
        if problems:
            path, message = problems[0]
            raise ConfigurationError(f"{path}: {message}", path=path, problems=problems, system=system_id)
        # a connector may derive its default throttling from the connection (Alpha Vantage's plan tier)
        policy = system_config.throttling.apply(cls.throttling_for(system_config.connection))
        runtime = SystemRuntime(system_id, system_config, cls.spec, cls, policy)
        self.systems[system_id] = runtime
        return runtime

    def _system(self, system_id: str) -> SystemRuntime:
        try:
            return self.systems[system_id]
        except KeyError:
            known = ", ".join(sorted(self.systems)) or "none"
            raise ConfigurationError(f"unknown system {system_id!r}; configured systems: {known}") from None

    # -- events ----------------------------------------------------------------------------------

    def _emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        publisher = self.events
        if publisher is not None:
            publisher.publish(event, system=system, severity=severity, **data)
        if self._monitor is None:
            try:
                monitor = self.monitor
            except ImportError:
                return
        else:
            monitor = self._monitor
        with contextlib.suppress(Exception):
            monitor.emit(event, system=system, severity=severity, **data)

    def _observers(self) -> list[Any]:
        try:
            return [self.monitor.call_observer()]
        except ImportError:
            return []

    def _register_secrets(self, credentials: Mapping[str, Any]) -> None:
        try:
            redactor = getattr(self.monitor, "redactor", None)
        except ImportError:
            return
        if redactor is None:
            return
        for value in credentials.values():
            raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            if raw:
                redactor.add_secret(raw)

    # -- stopping --------------------------------------------------------------------------------

    async def _stop_services(self, *names: str) -> None:
        built = self._services
        for name in names:
            service = built.get(name)
            if service is None:
                continue
            for method in ("shutdown", "stop", "aclose", "close"):
                if hasattr(service, method):
                    with contextlib.suppress(Exception):
                        await self._maybe(service, method)
                    break

    @staticmethod
    async def _maybe(obj: Any, method: str, *args: Any) -> Any:
        fn = getattr(obj, method, None)
        if fn is None:
            return None
        result = fn(*args)
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            return await result
        return result
