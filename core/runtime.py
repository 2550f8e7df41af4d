"""The facade apps embed: :class:`AsyncIntegration`, and :class:`Integration`, its synchronous twin.

The method names are the original plan's API. Each delegates to a runtime service (trading, market data,
jobs, monitor) or to the system's connector through its declared capabilities; none is a stub.

A call flows: facade -> service -> Connector -> ApiClient (correlation id -> monitor -> circuit breaker ->
rate limiter -> retry -> auth -> transport) -> the vendor API or its mock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import weakref
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from portico.clock import Clock, system_clock
from portico.config import (
    IntegrationConfig,
    SystemConfig,
    ThrottlingConfig,
    check_against_plugins,
    load_config,
    require_secure_transport,
)
from portico.context import correlation_scope
from portico.errors import ConfigurationError, ConnectionFailed, NotSupported, PayloadRejected, PorticoError
from portico.models import Account, Order, OrderRequest, Position
from portico.plugins import PluginManager
from portico.sdk import (
    Capability,
    CheckResult,
    Connector,
    ConnectorContext,
    ConnectorSpec,
    RateLimitPolicy,
    resolve_url_templates,
)

if TYPE_CHECKING:
    from portico.analytics import AnalyticsService, PerformanceReport, RiskReport
    from portico.marketdata import FeedCycle, FxRateFeed, RateAnswer, StoredFxRateBook
    from portico.store import Database

__all__ = ["AsyncIntegration", "Integration", "SystemState", "SystemStatus"]

T = TypeVar("T")
SystemState = Literal["registered", "connecting", "connected", "disconnected", "error"]


class SystemStatus(BaseModel):
    """What ``get_external_system_status`` answers."""

    model_config = ConfigDict(frozen=True)

    system_id: str
    connector: str
    kinds: list[str]
    enabled: bool
    state: SystemState
    environment: str
    mock: bool
    urls: dict[str, str]
    capabilities: list[str]
    disabled_features: list[str]
    breaker_state: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None


@dataclass
class SystemRuntime:
    """The runtime's state for one configured system."""

    system_id: str
    config: SystemConfig
    spec: ConnectorSpec
    connector_cls: type[Connector]
    policy: RateLimitPolicy
    state: SystemState = "registered"
    connector: Connector | None = None
    limiter: Any = None
    breaker: Any = None
    mock: Any = None
    urls: dict[str, str] = field(default_factory=dict)
    connected_at: datetime | None = None
    last_error: str | None = None
    clients: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def disabled(self) -> set[Capability]:
        """Capabilities switched off by the system's ``features`` flags."""
        off: set[Capability] = set()
        for flag, enabled in self.config.features.items():
            if not enabled:
                off.update(self.spec.feature_flags.get(flag, ()))
        return off


class _PublishingMonitor:
    """The monitor as services see it: every ``emit`` also goes to the event broker."""

    def __init__(self, runtime: AsyncIntegration) -> None:
        self._runtime = runtime

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        self._runtime._emit(event, system=system, severity=severity, **data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime.monitor, name)


class _ConnectorView(Mapping[str, Connector]):
    """Live view of the connected connectors by system id, handed to services."""

    def __init__(self, runtime: AsyncIntegration) -> None:
        self._runtime = runtime

    def __getitem__(self, system_id: str) -> Connector:
        system = self._runtime._system(system_id)
        if system.connector is None:
            raise ConfigurationError(f"system {system_id!r} is not connected", system=system_id)
        return system.connector

    def __iter__(self) -> Iterator[str]:
        return iter([sid for sid, s in self._runtime.systems.items() if s.connector is not None])

    def __len__(self) -> int:
        return sum(1 for s in self._runtime.systems.values() if s.connector is not None)


class _LiveTradingOptIns(Collection[str]):
    """Live view of the systems whose config says ``allow_live_trading: true``, handed to the trading
    service (systems registered at run time count as soon as they are added)."""

    def __init__(self, runtime: AsyncIntegration) -> None:
        self._runtime = runtime

    def _ids(self) -> list[str]:
        return [sid for sid, s in self._runtime.systems.items() if s.config.allow_live_trading]

    def __contains__(self, system_id: object) -> bool:
        system = self._runtime.systems.get(system_id) if isinstance(system_id, str) else None
        return system is not None and system.config.allow_live_trading

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids())

    def __len__(self) -> int:
        return len(self._ids())


class AsyncIntegration:
    """The portico runtime, for asyncio applications.

    Args:
        config: an :class:`~portico.config.IntegrationConfig`, a dict in the plan's format, or a path.
        plugins: the plugin manager (default: a fresh one loading entry points).
        clock: the time source (a :class:`~portico.clock.FakeClock` in tests).
        database_url: the store's SQLAlchemy URL (default from config, else SQLite under ``PORTICO_HOME``).
        transport: an ``httpx`` async transport every API client uses (tests route calls in-process).

    Use as ``async with AsyncIntegration(config) as integration:`` or call :meth:`start`/:meth:`stop`.
    """

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
        self.clock = clock or system_clock
        self.transport = transport
        self._database_url = database_url or self.config.database_url
        self._db: Database | None = None
        self.systems: dict[str, SystemRuntime] = {}
        self.connectors = _ConnectorView(self)
        self._live_trading = _LiveTradingOptIns(self)
        self._services: dict[str, Any] = {}
        self._fx_task: asyncio.Task[None] | None = None
        self._started = False
        self._scheduling = False
        for system_id, system_config in self.config.systems.items():
            self._add_system(system_id, system_config)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **kwargs: Any) -> AsyncIntegration:
        """Build a runtime from a configuration file."""
        return cls(Path(path), **kwargs)

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

    async def __aenter__(self) -> AsyncIntegration:
        await self.start()  # stops what it started when it raises
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- shared services (created on first use) --------------------------------------------------

    @property
    def db(self) -> Database:
        """The embedded store."""
        if self._db is None:
            from portico.store import Database

            self._db = Database(self._database_url)
        return self._db

    def _service(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._services:
            self._services[name] = build()
        service: T = self._services[name]
        return service

    @property
    def monitor(self) -> Any:
        """The :class:`~portico.monitor.IntegrationMonitor` every call and job reports to."""

        def build() -> Any:
            from portico.monitor import IntegrationMonitor

            return IntegrationMonitor(db=self.db, clock=self.clock, config=self.config.monitoring, plugins=self.plugins)

        return self._service("monitor", build)

    @property
    def events(self) -> Any:
        """The :class:`~portico.events.EventPublisher` (broker from ``scale_out.events_url``), or None."""
        url = self.config.scale_out.events_url
        if url is None:
            return None

        def build() -> Any:
            from portico.events import EventPublisher, sink_for_url

            # the monitor is built here if need be: a publisher made before it (the first event can come
            # before anything touched the monitor) would otherwise send every later event unredacted
            try:
                redactor = getattr(self.monitor, "redactor", None)
            except ImportError:
                redactor = None
            redact = getattr(redactor, "redact", None)
            sink = sink_for_url(url, self.config.scale_out.events_exchange)
            if self.config.scale_out.events_outbox and not url.startswith("memory:"):
                from portico.events import OutboxPublisher

                # committed to the store first, relayed once the broker confirms: a broker restart loses nothing
                return OutboxPublisher(sink, self.db, clock=self.clock, redact=redact)
            return EventPublisher(sink, clock=self.clock, redact=redact)

        return self._service("events", build)

    @property
    def audit(self) -> Any:
        """The tamper-evident audit log."""

        def build() -> Any:
            from portico.auth import AuditLog

            return AuditLog(self.db, clock=self.clock)

        return self._service("audit", build)

    @property
    def auth(self) -> Any:
        """The :class:`~portico.auth.AuthenticationManager` shared by every connector."""

        def build() -> Any:
            from portico.auth import AuthenticationManager, CredentialVault

            # with PORTICO_VAULT_PASSPHRASE set, login tokens and rotated refresh tokens persist in the vault
            vault = CredentialVault.from_environment(audit=self.audit, clock=self.clock)
            return AuthenticationManager(
                vault=vault,
                audit=self.audit,
                clock=self.clock,
                transport=self.transport,
                plugins=self.plugins,
                emit=self._emit,
            )

        return self._service("auth", build)

    @property
    def market_data(self) -> Any:
        """The market data service (fallback chains, quality checks, cache, subscriptions)."""

        def build() -> Any:
            from portico.marketdata import MarketDataService

            return MarketDataService(
                self.connectors,
                monitor=_PublishingMonitor(self),
                db=self.db,
                clock=self.clock,
                config=self.config.market_data,
                policies=lambda sid: self.systems[sid].policy if sid in self.systems else None,
            )

        return self._service("market_data", build)

    @property
    def trading(self) -> Any:
        """The trading service (durable routing, order tracking, reconciliation, allocation)."""

        def build() -> Any:
            from portico.analytics import analytics_risk_checks
            from portico.trading import TradingService

            return TradingService(
                db=self.db,
                clock=self.clock,
                connectors=self.connectors,
                monitor=_PublishingMonitor(self),
                audit=self.audit,
                config=self.config.trading,
                plugins=self.plugins,
                risk_checks=analytics_risk_checks(lambda: self.analytics),
                live_trading_systems=self._live_trading,
                instance=self.instance,
            )

        return self._service("trading", build)

    @property
    def fx_rates(self) -> StoredFxRateBook:
        """The FX rates the feed keeps (in the store, with source and time), queryable as of a time."""

        def build() -> StoredFxRateBook:
            from portico.marketdata import StoredFxRateBook

            return StoredFxRateBook(self.db)

        return self._service("fx_rates", build)

    @property
    def fx_feed(self) -> FxRateFeed | None:
        """The scheduled FX rate feed of ``market_data.fx_feed`` (None when not configured); it runs every
        ``interval`` seconds while the runtime schedules (``portico run``)."""
        settings = self.market_data.config.fx_feed
        if settings is None:
            return None

        def build() -> FxRateFeed:
            from portico.marketdata import FxRateFeed

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

            def alert(event: str, severity: str = "warning", **data: Any) -> None:
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

        return self._service("fx_feed", build)

    @property
    def analytics(self) -> AnalyticsService:
        """The analytics service (performance, risk, analytics exports) over the book and imported data."""

        def build() -> AnalyticsService:
            from portico.analytics import AnalyticsService

            def alert(rule: str, **fields: Any) -> None:
                with contextlib.suppress(ImportError):
                    self.monitor.alerts.fire(rule, **fields)

            trading = self.trading
            return AnalyticsService(
                db=self.db,
                clock=self.clock,
                repo=trading.repo,
                limits=trading.risk_settings,
                alert=alert,
                fx_rates=lambda: self.fx_rates,
            )

        return self._service("analytics", build)

    @property
    def jobs(self) -> Any:
        """The job service (imports, exports, schedules)."""

        def build() -> Any:
            from portico.jobs import JobService

            service = JobService(
                db=self.db,
                clock=self.clock,
                monitor=_PublishingMonitor(self),
                connectors=self.connectors,
                market_data=self.market_data,
                config={"data_import": self.config.data_import, "data_export": self.config.data_export},
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

        return self._service("jobs", build)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, schedule: bool = False, require_connected: bool = True) -> None:
        """Connect every enabled system (a failing one is marked ``error``; the others go on).

        When systems are enabled and not one of them connected, the runtime is useless to the caller:
        it raises, naming each system and why, rather than letting ``with Integration(...)`` go on.
        Some connected and some not is a working runtime: :attr:`unavailable_systems` names the others.

        Args:
            schedule: also start health checks and the job scheduler (``portico run`` does).
            require_connected: raise when no enabled system connected; ``portico run`` and the demo
                pass False to serve (and show) the failed systems' state.

        Raises:
            ConnectionFailed: ``require_connected`` and every enabled system failed to connect; its
                ``detail`` maps each system id to its error.
        """
        if not self._started:
            self._started = True
            for system_id, system in self.systems.items():
                if system.config.enabled:
                    with contextlib.suppress(PorticoError):
                        await self.connect_external_system(system_id)
            enabled = [sid for sid, s in self.systems.items() if s.config.enabled]
            if require_connected and enabled and all(self.systems[sid].connector is None for sid in enabled):
                failed = self.unavailable_systems
                await self.stop()
                raise ConnectionFailed(
                    "no system could be connected: " + "; ".join(f"{sid}: {why}" for sid, why in failed.items()),
                    detail=failed,
                )
            if any(s.connector is not None and s.spec.capabilities.has(Capability.PLACE_ORDER) for s in self.systems.values()):
                # live order tracking: recover unresolved intents, follow order streams, resolve unknowns
                await self.trading.start()
        if schedule and not self._scheduling:
            self._scheduling = True
            await self._maybe(self.monitor, "start")
            await self._maybe(self.jobs, "start")
            feed = self.fx_feed
            if feed is not None and self._fx_task is None:
                self._fx_task = asyncio.create_task(feed.run(asyncio.Event()), name="portico-fx-feed")

    @property
    def unavailable_systems(self) -> dict[str, str]:
        """Enabled systems that are not connected, with why (their last error, else their state)."""
        return {
            sid: system.last_error or f"system is {system.state}"
            for sid, system in self.systems.items()
            if system.config.enabled and system.connector is None
        }

    async def stop(self) -> None:
        """Stop the services that use connections, disconnect every system (stopping the mocks the
        runtime started), then stop monitoring, event publishing and shared budgets."""
        # streams and schedules stop first, so no subscription reconnects to a system going away
        if self._fx_task is not None:
            self._fx_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._fx_task
            self._fx_task = None
        await self._stop_services("jobs", "market_data", "trading")
        for system_id in list(self.systems):
            with contextlib.suppress(Exception):
                await self.disconnect_external_system(system_id)
        await self._stop_services("monitor", "events", "limiters")
        if self._db is not None:
            self._db.dispose()
        self._started = False
        self._scheduling = False

    async def _stop_services(self, *names: str) -> None:
        for name in names:
            service = self._services.get(name)
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

    # -- external system management -------------------------------------------------------------

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

    async def register_external_system(
        self, system_config: SystemConfig | Mapping[str, Any], system_id: str | None = None
    ) -> str:
        """Add a system at run time (the plan's ``register_external_system``).

        Args:
            system_config: a system entry as in the config's ``systems`` section; ``system_id`` may be
                given inside it as ``id`` or ``system_id``.
            system_id: the new system's id.

        Returns:
            The system id.
        """
        if not isinstance(system_config, SystemConfig | Mapping):
            raise ConfigurationError(
                f"system_config must be a mapping like a 'systems' entry or a SystemConfig, "
                f"got {type(system_config).__name__}",
                path="system_config",
            )
        if isinstance(system_config, Mapping):
            data = dict(system_config)
            system_id = system_id or data.pop("system_id", None) or data.pop("id", None)
            if not system_id or not isinstance(system_id, str):
                raise ConfigurationError("register_external_system needs a system_id", path="system_id")
            try:
                loaded = load_config({"systems": {system_id: data}}, plugins=self.plugins)
            except ConfigurationError:
                raise
            system_config = loaded.systems[system_id]
        if not system_id or not isinstance(system_id, str):
            raise ConfigurationError(
                f"register_external_system needs a system_id string, got {system_id!r}", path="system_id"
            )
        try:
            # the same id rules as the configuration file (a SystemConfig given directly skipped them)
            IntegrationConfig(systems={system_id: system_config})
        except ValidationError as exc:
            raise ConfigurationError(
                f"systems.{system_id}: {exc.errors()[0]['msg']}", path=f"systems.{system_id}"
            ) from None
        if system_id in self.systems:
            raise ConfigurationError(f"system {system_id!r} is already registered", path=f"systems.{system_id}")
        self._add_system(system_id, system_config)
        self.config.systems[system_id] = system_config
        return system_id

    async def connect_external_system(self, system_id: str) -> SystemStatus:
        """Build the system's connector (starting its mock when ``mock: true``) and open it."""
        system = self._system(system_id)
        # one connect at a time per system: two concurrent ones (start() and a caller) would each start a
        # mock and open a connector, and the first pair would be left running, unreachable
        async with system.connect_lock:
            if system.state == "connected":
                return await self.get_external_system_status(system_id)
            system.state = "connecting"
            with correlation_scope():
                try:
                    context = await self._context_for(system)
                    connector = system.connector_cls(context)
                    await connector.open()
                except Exception as exc:
                    system.state = "error"
                    system.last_error = str(exc)
                    # the mock started for this attempt would otherwise keep its thread and port, and a retry
                    # would start another one over it
                    if system.mock is not None:
                        mock, system.mock = system.mock, None
                        with contextlib.suppress(Exception):
                            await mock.stop()
                    self._emit("system.connect_failed", system=system_id, severity="critical", error=str(exc))
                    if isinstance(exc, PorticoError):
                        raise
                    raise ConfigurationError(f"connecting {system_id!r} failed: {exc}", system=system_id) from exc
            system.connector = connector
            system.state = "connected"
            system.connected_at = self.clock.now()
            system.last_error = None
            self._emit("system.connected", system=system_id)
            if "monitor" in self._services or self._started:
                with contextlib.suppress(Exception):
                    self.monitor.register_health_check(system_id, connector.check)
            return await self.get_external_system_status(system_id)

    async def disconnect_external_system(self, system_id: str) -> None:
        """Close the system's connector and stop its mock."""
        system = self._system(system_id)
        connector, system.connector = system.connector, None
        try:
            if connector is not None:
                await connector.close()
            for client in list(system.clients):
                with contextlib.suppress(Exception):
                    await client.aclose()
        finally:
            if system.mock is not None:
                mock, system.mock = system.mock, None
                with contextlib.suppress(Exception):
                    await mock.stop()
            if system.state != "registered":
                system.state = "disconnected"
        self._emit("system.disconnected", system=system_id)

    async def get_external_system_status(self, system_id: str) -> SystemStatus:
        """The system's connection state, environment, URLs, capabilities and breaker state."""
        system = self._system(system_id)
        env = system.config.environment or system.spec.environment().name
        disabled = sorted(flag for flag, on in system.config.features.items() if not on)
        breaker = getattr(system.breaker, "state", None)
        return SystemStatus(
            system_id=system_id,
            connector=system.spec.name,
            kinds=[k.value for k in system.spec.kinds],
            enabled=system.config.enabled,
            state=system.state,
            environment=env,
            mock=system.config.mock,
            urls=dict(system.urls) or dict(system.spec.environment(system.config.environment).urls),
            capabilities=[c.value for c in system.spec.capabilities.declared if c not in system.disabled],
            disabled_features=disabled,
            breaker_state=getattr(breaker, "value", breaker),
            connected_at=system.connected_at,
            last_error=system.last_error,
        )

    async def _context_for(self, system: SystemRuntime) -> ConnectorContext:
        spec = system.spec
        # before any mock starts or socket opens: a live system speaks TLS unless it opted out
        require_secure_transport(system.system_id, system.config, spec)
        env = spec.environment(system.config.environment)
        urls = dict(env.urls)
        if system.config.connection.get("base_url"):
            base = str(system.config.connection["base_url"])
            urls = {key: base for key in urls} if len(urls) == 1 else {**urls, "base": base}
        if system.config.mock:
            from portico.mocks import start_mock

            system.mock = await asyncio.to_thread(
                start_mock, spec.mock, seed=system.config.mock_seed, **system.config.mock_options
            )
            urls.update(system.mock.urls)
        system.urls = urls
        # a mock carries no money, whatever environment it stands in for: the live-money guard reads this
        env = env.model_copy(update={"urls": urls, **({"live_money": False} if system.config.mock else {})})
        credentials = dict(system.config.authentication.credentials)
        scheme = system.config.authentication.type or (spec.auth[0].scheme if spec.auth else None)
        auth = None
        if scheme is not None and scheme not in {"none", "tws"}:
            options = resolve_url_templates(
                {**(scheme_spec.options if (scheme_spec := spec.auth_scheme(scheme)) else {}),
                 **system.config.authentication.options},
                urls,
            )
            auth = self.auth.build(system.system_id, scheme, credentials, options)
        system.limiter = self.limiters.get(spec.name, system.policy, credentials=credentials)
        system.breaker = self._breaker_for(system)
        self._register_secrets(credentials)

        def client_factory(base_url: str, **overrides: Any) -> Any:
            from portico.http import ApiClient

            kwargs: dict[str, Any] = {
                "system": system.system_id,
                "auth": auth,
                "clock": self.clock,
                "retry": system.policy.retry,
                "rate_limiter": system.limiter,
                "breaker": system.breaker,
                "observers": self._observers(),
                "transport": self.transport,
            }
            client_kwargs = getattr(auth, "client_kwargs", None)
            if client_kwargs is not None:
                kwargs.update(client_kwargs())  # mTLS: the client certificate rides in the TLS context
            kwargs.update(overrides)
            client = ApiClient(base_url, **kwargs)
            system.clients.add(client)
            return client

        # imported on first connect, as ApiClient is, so importing the runtime stays light
        from portico.http import CallMeter

        return ConnectorContext(
            system_id=system.system_id,
            spec=spec,
            environment=env,
            connection=dict(system.config.connection),
            credentials=credentials,
            auth_scheme=scheme,
            auth=auth,
            client_factory=client_factory,
            clock=self.clock,
            emit=lambda event, **data: self._emit(event, **{"system": system.system_id, **data}),
            store=self.db,
            options={"api_version": system.config.api_version, "features": dict(system.config.features)},
            rate_limiter=system.limiter,
            call_meter=CallMeter(system.system_id, observers=self._observers(), clock=self.clock),
        )

    @property
    def limiters(self) -> Any:
        """The :class:`~portico.http.RateLimiterRegistry`: one limiter per connector and credentials,
        kept in Redis when ``scale_out.redis_url`` is configured so other processes share the budget."""

        def build() -> Any:
            from portico.http import RateLimiterRegistry

            def on_mode(connector: str, mode: str, error: str | None) -> None:
                # Redis lost: each process keeps limit / workers of the budget until it is back
                if mode == "local":
                    self._emit("ratelimit.shared_unavailable", system=connector, severity="warning", error=error, workers=self.config.scale_out.workers)
                else:
                    self._emit("ratelimit.shared_restored", system=connector)

            return RateLimiterRegistry(
                clock=self.clock,
                redis_url=self.config.scale_out.redis_url,
                workers=self.config.scale_out.workers,
                on_mode=on_mode,
            )

        return self._service("limiters", build)

    def _breaker_for(self, system: SystemRuntime) -> Any:
        if system.breaker is None:
            from portico.http import CircuitBreaker

            breaker = CircuitBreaker(system.system_id, clock=self.clock)
            system.breaker = breaker
            add_listener = getattr(breaker, "add_listener", None)
            if add_listener is not None:
                add_listener(
                    lambda _breaker, old, new: self._emit(
                        "breaker.state_changed",
                        system=system.system_id,
                        severity="critical" if str(getattr(new, "value", new)) == "open" else "info",
                        old=str(getattr(old, "value", old)),
                        new=str(getattr(new, "value", new)),
                    )
                )
        return system.breaker

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

    def _emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        publisher = self.events
        if publisher is not None:
            publisher.publish(event, system=system, severity=severity, **data)
        if "monitor" not in self._services:
            try:
                monitor = self.monitor
            except ImportError:
                return
        else:
            monitor = self._services["monitor"]
        with contextlib.suppress(Exception):
            monitor.emit(event, system=system, severity=severity, **data)

    def _connector(self, system_id: str, capability: Capability) -> Connector:
        system = self._system(system_id)
        if not system.spec.capabilities.has(capability):
            raise NotSupported(
                f"{system_id} ({system.spec.name}) does not support {capability.value}",
                capability=capability.value,
                system=system_id,
            )
        if capability in system.disabled:
            flags = [f for f, caps in system.spec.feature_flags.items() if capability in caps]
            raise NotSupported(
                f"{capability.value} is switched off for {system_id} by features.{flags[0] if flags else '?'}: false",
                capability=capability.value,
                system=system_id,
            )
        if system.connector is None:
            raise ConfigurationError(
                f"system {system_id!r} is {system.state}; call connect_external_system first", system=system_id
            )
        return system.connector

    def _check_live_trading(self, system_id: str, connector: Connector) -> None:
        """The live-money guard at the facade too, before anything is validated, stored or built."""
        # imported on use, like every service: portico.trading pulls SQLAlchemy into `import portico`
        from portico.trading import check_live_trading

        check_live_trading(system_id, connector, self._live_trading)

    # -- trading ---------------------------------------------------------------------------------

    async def place_external_order(
        self, system_id: str, order_details: OrderRequest | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Validate, record and send an order; returns its client order id (the durable key).

        The intent is stored before it is sent. The same ``idempotency_key`` returns the existing order.
        A lost response leaves the order ``unknown`` until resolved, never rejected.
        """
        connector = self._connector(system_id, Capability.PLACE_ORDER)
        self._check_live_trading(system_id, connector)
        if not isinstance(order_details, OrderRequest | Mapping):
            raise PayloadRejected(
                f"order_details must be an OrderRequest or a mapping of its fields, got {type(order_details).__name__}",
                field="order_details",
                system=system_id,
            )
        with correlation_scope():
            record = await self.trading.place_order(system_id, order_details, idempotency_key=idempotency_key)
        return str(record.client_order_id)

    async def get_external_order_status(self, system_id: str, order_id: str) -> Order:
        """The order's current state, by client order id or the venue's order id."""
        # the trading service looks an order up by the venue's id or by its client order id (FIX: ClOrdID)
        lookup = Capability.GET_ORDER
        if not self._system(system_id).spec.capabilities.has(lookup):
            lookup = Capability.GET_ORDER_BY_CLIENT_ID
        self._connector(system_id, lookup)
        with correlation_scope():
            record = await self.trading.get_order_status(system_id, order_id)
        order: Order = record.to_order()
        return order

    async def cancel_external_order(self, system_id: str, order_id: str) -> None:
        """Ask the venue to cancel an order (by client order id or venue id)."""
        connector = self._connector(system_id, Capability.CANCEL_ORDER)
        self._check_live_trading(system_id, connector)
        with correlation_scope():
            await self.trading.cancel_order(system_id, order_id)

    async def replace_external_order(
        self,
        system_id: str,
        order_id: str,
        changes: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> str:
        """Change an open order (``quantity``, ``limit_price``, ``stop_price``, ``time_in_force``); returns
        the client order id of the order that now stands (the replacement's).

        The replace is stored under ``idempotency_key`` before it is sent; the same key returns the same
        replacement. A filled, cancelled or already replaced order is refused; a lost answer leaves the
        replacement ``unknown`` until a look at the venue resolves it, never a second replace.
        """
        connector = self._connector(system_id, Capability.REPLACE_ORDER)
        self._check_live_trading(system_id, connector)
        with correlation_scope():
            record = await self.trading.replace_order(
                system_id, order_id, changes, idempotency_key=idempotency_key
            )
        return str(record.client_order_id)

    async def get_external_account(self, system_id: str, account_id: str | None = None) -> Account:
        """The account's balances at the venue (cash, buying power, equity)."""
        connector = self._connector(system_id, Capability.GET_ACCOUNT)
        with correlation_scope():
            return await connector.get_account(account_id)

    async def get_external_positions(self, system_id: str, account_id: str | None = None) -> list[Position]:
        """The account's positions at the venue."""
        connector = self._connector(system_id, Capability.GET_POSITIONS)
        with correlation_scope():
            return await connector.get_positions(account_id)

    async def _brokerage_positions(self) -> list[tuple[str, Position]]:
        """The positions of every enabled brokerage system that reports them (the portfolio summary).

        A system whose ``position_reporting`` is switched off is left out; one never connected is
        connected now; one that cannot be reached fails the call (a summary silently missing a broker
        would understate the portfolio).
        """
        held: list[tuple[str, Position]] = []
        for system_id, system in self.systems.items():
            if not system.config.enabled or system.config.type.value != "brokerage":
                continue
            if not system.spec.capabilities.has(Capability.GET_POSITIONS) or Capability.GET_POSITIONS in system.disabled:
                continue
            if system.state == "registered":
                # never connected (an export run from the command line): connect now, as a run would have
                await self.connect_external_system(system_id)
            held.extend((system_id, p) for p in await self.get_external_positions(system_id))
        return held

    # -- market data -----------------------------------------------------------------------------

    async def get_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str = "bars",
        parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        """Market data as canonical models (with fallback, quality checks and caching).

        Args:
            data_type: ``bars``, ``quotes``, ``latest_quote``, ``latest_trade``, ``snapshot``,
                ``fundamentals``, ``fx_rate``, ``fx_series``, ``search``, ``corporate_actions``, ``news``...
        """
        self._system(system_id)
        symbols = _symbol_list(symbols)
        with correlation_scope():
            return await self.market_data.get_market_data(system_id, symbols, data_type, dict(parameters or {}))

    async def subscribe_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str,
        callback: Callable[[Any], Any],
        **options: Any,
    ) -> str:
        """Deliver live data to ``callback`` (native stream, or polling paced by the throttle).

        Returns:
            A subscription id for :meth:`unsubscribe_market_data`.
        """
        self._system(system_id)
        symbols = _symbol_list(symbols)
        result: str = await self.market_data.subscribe_market_data(system_id, symbols, data_type, callback, **options)
        return result

    async def unsubscribe_market_data(self, system_id: str, subscription_id: str) -> None:
        """Stop a subscription and release its budget."""
        self._system(system_id)
        await self.market_data.unsubscribe_market_data(subscription_id)

    # -- data import / export --------------------------------------------------------------------

    async def import_data(self, source: str, data_type: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """Import a file or a connector's data (see :class:`portico.jobs.JobService`)."""
        return await self._maybe(self.jobs, "import_data", source, data_type, dict(parameters or {}))

    async def export_data(
        self, data_type: str, destination: str, format_options: Mapping[str, Any] | None = None
    ) -> Any:
        """Export data to a destination URL."""
        return await self._maybe(self.jobs, "export_data", data_type, destination, dict(format_options or {}))

    # -- FX rates --------------------------------------------------------------------------------

    async def get_fx_rate(self, base: str, quote: str, at: datetime | None = None) -> RateAnswer:
        """The FX feed's rate of ``base`` in ``quote`` known at ``at`` (latest when None): direct, inverse,
        or triangulated through USD (``how`` and ``via`` say which, ``legs`` where each came from).

        Raises:
            NotFound: no such rate, directly, inverted or through USD.
        """
        return self.fx_rates.get_fx_rate(base, quote, at)

    async def run_fx_feed_cycle(self) -> FeedCycle:
        """Run one cycle of the configured FX feed now (``portico run`` runs them on its schedule)."""
        feed = self.fx_feed
        if feed is None:
            raise ConfigurationError("no FX feed is configured (market_data.fx_feed)", path="market_data.fx_feed")
        return await feed.run_cycle()

    # -- analytics -------------------------------------------------------------------------------

    async def get_performance(self, account: str, start: date, end: date, **options: Any) -> PerformanceReport:
        """Performance of a book account from ``start`` to ``end``: daily valuations, time- and
        money-weighted returns, and benchmark and active return when ``benchmark=`` names one (see
        :meth:`portico.analytics.AnalyticsService.performance` for the options)."""
        return await asyncio.to_thread(self.analytics.performance, account, start, end, **options)

    async def get_risk(self, account: str, **options: Any) -> RiskReport:
        """RiskMetrics-method risk of a book account: exposures, EWMA volatility, parametric and
        historical VaR and expected shortfall, and a scenario's P&L when ``scenario=`` names one (see
        :meth:`portico.analytics.AnalyticsService.risk`)."""
        return await asyncio.to_thread(self.analytics.risk, account, **options)

    async def schedule_import(self, import_config: Mapping[str, Any]) -> str:
        """Schedule a recurring import; returns the job id."""
        result: str = await self._maybe(self.jobs, "schedule_import", dict(import_config))
        return result

    async def schedule_export(self, export_config: Mapping[str, Any]) -> str:
        """Schedule a recurring export; returns the job id."""
        result: str = await self._maybe(self.jobs, "schedule_export", dict(export_config))
        return result

    async def list_jobs(self) -> list[dict[str, Any]]:
        """Scheduled jobs with their next run and last status."""
        result: list[dict[str, Any]] = await self._maybe(self.jobs, "list_jobs")
        return result

    async def job_history(self, job_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """Runs of a job (or of all jobs), newest first: start, end, status, counts and manifest."""
        result: list[dict[str, Any]] = await self._maybe(self.jobs, "history", job_id)
        return result[:limit]

    async def run_job_now(self, job_id: str) -> dict[str, Any]:
        """Run a scheduled job now (never twice at once); returns the run's record."""
        result: dict[str, Any] = await self._maybe(self.jobs, "run_now", job_id)
        return result

    # -- reconciliation ---------------------------------------------------------------------------

    async def reconcile(self, systems: list[str] | None = None, **options: Any) -> Any:
        """Reconcile positions, trades and cash against the internal book; returns the breaks report.

        Options: ``book`` (a :class:`~portico.trading.PositionBook`, default the hook's or the store's),
        ``since``/``until`` (the trade window), ``tolerance``.
        """
        with correlation_scope():
            return await self.trading.reconcile(systems, **options)

    def _apply_imported_corporate_actions(self, result: Any, rt: Any, rows: Callable[[], list[dict[str, Any]]]) -> None:
        """A ``trading_book`` load of corporate actions, applied to the book and the history once each."""
        if rt.name != "corporate_actions" or result.destination != "trading_book":
            return
        from portico.models import CorporateAction
        from portico.trading import CorporateActionProcessor

        actions = [CorporateAction.model_validate({k: v for k, v in r.items() if v not in (None, "")}) for r in rows()]
        processor = CorporateActionProcessor(self.trading, adjust_history=self.market_data.adjust_history_for_split)
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

    async def apply_corporate_actions(
        self,
        provider: str,
        symbols: list[str] | str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        systems: list[str] | None = None,
        as_of: date | None = None,
    ) -> Any:
        """Fetch ``symbols``' corporate actions from ``provider`` (with its fallbacks) and apply them to the
        store book of ``systems`` (default: all) and the stored price history; book dividends due.

        Applying the same actions again changes nothing; a corrected action replaces its earlier
        effects. Returns a :class:`~portico.trading.CorporateActionOutcome`.
        """
        from portico.trading import CorporateActionProcessor

        self._system(provider)
        wanted = _symbol_list(symbols)
        with correlation_scope():
            params: dict[str, Any] = {"cache": False}
            if start is not None:
                params["start"] = start
            if end is not None:
                params["end"] = end
            result = await self.market_data.get_market_data(provider, wanted, "corporate_actions", params)
        actions = [a for symbol in wanted for a in (result.data.get(symbol) or [])]
        processor = CorporateActionProcessor(
            self.trading, adjust_history=self.market_data.adjust_history_for_split
        )
        return processor.apply(actions, systems=systems, as_of=as_of)

    # -- monitoring and control ------------------------------------------------------------------

    async def get_integration_metrics(self, system_id: str | None = None) -> dict[str, Any]:
        """Counts, errors, latency percentiles, throttling and breaker state (one system or all)."""
        if system_id is None:
            return {sid: await self.get_integration_metrics(sid) for sid in self.systems}
        system = self._system(system_id)
        metrics: dict[str, Any] = dict(self.monitor.metrics(system_id) or {})
        breaker = getattr(system.breaker, "state", None)
        metrics["breaker_state"] = getattr(breaker, "value", breaker)
        if system.limiter is not None and hasattr(system.limiter, "remaining"):
            remaining = system.limiter.remaining()
            metrics["rate_limit_remaining"] = await remaining if asyncio.iscoroutine(remaining) else remaining
        metrics["state"] = system.state
        return metrics

    async def run_health_check(self, system_id: str) -> Any:
        """Run the system's health check now; returns its report."""
        system = self._system(system_id)
        if system.connector is None:
            return CheckResult(ok=False, system=system_id, detail=f"system is {system.state}")
        run = getattr(self.monitor, "run_health_check", None)
        if run is not None:
            with contextlib.suppress(KeyError):
                return await run(system_id)
            self.monitor.register_health_check(system_id, system.connector.check)
            return await run(system_id)
        return await system.connector.check()

    async def set_throttling_parameters(self, system_id: str, parameters: Mapping[str, Any]) -> RateLimitPolicy:
        """Change a system's throttling at run time (the plan's keys); returns the policy now in force."""
        system = self._system(system_id)
        if not isinstance(parameters, Mapping):
            raise ConfigurationError(
                f"throttling parameters must be a mapping of the throttling keys, got {type(parameters).__name__}",
                path="throttling",
            )
        try:
            overrides = ThrottlingConfig.model_validate(dict(parameters))
        except ValidationError as exc:
            err = exc.errors()[0]
            path = ".".join(str(p) for p in err["loc"])
            raise ConfigurationError(f"throttling.{path}: {err['msg']}", path=f"throttling.{path}") from None
        system.policy = overrides.apply(system.policy)
        if system.limiter is not None:
            system.limiter.update_windows(
                system.policy.windows, max_wait=system.policy.max_wait, endpoint_costs=system.policy.endpoint_costs
            )
        for client in list(system.clients):
            client.retry = system.policy.retry
        self._emit("throttling.changed", system=system_id, windows=[str(w) for w in system.policy.windows])
        return system.policy


def _symbol_list(symbols: Any) -> list[str]:
    """``symbols`` as a list of non-empty strings; anything else is a clear error naming the argument."""
    items = [symbols] if isinstance(symbols, str) else symbols
    if not isinstance(items, list | tuple) or not items:
        raise ConfigurationError(
            f"symbols must be a symbol or a non-empty list of symbols, got {symbols!r}", path="symbols"
        )
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(f"symbols[{i}] must be a non-empty string, got {item!r}", path=f"symbols[{i}]")
    return list(items)


class _SyncCall(Generic[T]):
    """One call of the synchronous facade: the loop's thread runs the coroutine as a task and releases
    a lock the calling thread waits on. A bare lock is the cheapest hand-off between two threads in
    CPython (``run_coroutine_threadsafe`` chains a task to a ``concurrent.futures.Future`` through
    callbacks on both sides and waits on a condition), and the hop is paid on every facade call."""

    __slots__ = ("_done", "_error", "_result")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._result: Any = None
        self._error: BaseException | None = None

    def start(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> None:
        try:
            task = loop.create_task(coro)
        except BaseException as exc:  # the loop is closing: the caller gets the error, not a hang
            coro.close()
            self._error = exc
            self._done.release()
            return
        task.add_done_callback(self._finish)

    def _finish(self, task: asyncio.Task[T]) -> None:
        if task.cancelled():
            self._error = asyncio.CancelledError()
        else:
            self._error = task.exception()
            if self._error is None:
                self._result = task.result()
        self._done.release()

    def wait(self) -> T:
        self._done.acquire()
        error, self._error = self._error, None
        if error is not None:
            raise error
        result: T = self._result
        return result


class Integration:
    """The synchronous facade: the same methods as :class:`AsyncIntegration`, callable without asyncio.

    It runs an :class:`AsyncIntegration` on an event loop in a background thread; callbacks given to
    :meth:`subscribe_market_data` run on that thread.
    """

    def __init__(self, config: Any = None, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="portico-runtime", daemon=True)
        self._thread.start()
        self._closed = False

        async def build() -> AsyncIntegration:
            return AsyncIntegration(config, **kwargs)

        try:
            self.runtime = self._run(build())
        except BaseException:
            # a bad configuration must not leave the loop's thread running behind the error
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()
            raise

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **kwargs: Any) -> Integration:
        """Build a runtime from a configuration file."""
        return cls(Path(path), **kwargs)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this Integration is closed")
        call: _SyncCall[T] = _SyncCall()
        try:
            # the handle copies this thread's context, so the task sees the caller's context variables
            self._loop.call_soon_threadsafe(call.start, self._loop, coro)
        except BaseException:
            coro.close()
            raise
        return call.wait()

    def __enter__(self) -> Integration:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ raises: stop the loop's thread here
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # services and attributes (plugins, config, monitor, trading...) come from the async runtime
        if name == "runtime" or name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.runtime, name)

    def start(self, *, schedule: bool = False, require_connected: bool = True) -> None:
        """Connect every enabled system; see :meth:`AsyncIntegration.start` (it raises when none connected)."""
        self._run(self.runtime.start(schedule=schedule, require_connected=require_connected))

    def close(self) -> None:
        """Stop the runtime and its thread."""
        if self._closed:
            return
        try:
            self._run(self.runtime.stop())
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()  # its selector and self-pipe would otherwise stay open until GC

    def register_external_system(self, system_config: Any, system_id: str | None = None) -> str:
        """See :meth:`AsyncIntegration.register_external_system`."""
        return self._run(self.runtime.register_external_system(system_config, system_id))

    def connect_external_system(self, system_id: str) -> SystemStatus:
        """See :meth:`AsyncIntegration.connect_external_system`."""
        return self._run(self.runtime.connect_external_system(system_id))

    def disconnect_external_system(self, system_id: str) -> None:
        """See :meth:`AsyncIntegration.disconnect_external_system`."""
        self._run(self.runtime.disconnect_external_system(system_id))

    def get_external_system_status(self, system_id: str) -> SystemStatus:
        """See :meth:`AsyncIntegration.get_external_system_status`."""
        return self._run(self.runtime.get_external_system_status(system_id))

    def place_external_order(self, system_id: str, order_details: Any, *, idempotency_key: str | None = None) -> str:
        """See :meth:`AsyncIntegration.place_external_order`."""
        return self._run(self.runtime.place_external_order(system_id, order_details, idempotency_key=idempotency_key))

    def get_external_order_status(self, system_id: str, order_id: str) -> Order:
        """See :meth:`AsyncIntegration.get_external_order_status`."""
        return self._run(self.runtime.get_external_order_status(system_id, order_id))

    def cancel_external_order(self, system_id: str, order_id: str) -> None:
        """See :meth:`AsyncIntegration.cancel_external_order`."""
        self._run(self.runtime.cancel_external_order(system_id, order_id))

    def replace_external_order(
        self, system_id: str, order_id: str, changes: Mapping[str, Any], idempotency_key: str | None = None
    ) -> str:
        """See :meth:`AsyncIntegration.replace_external_order`."""
        return self._run(self.runtime.replace_external_order(system_id, order_id, changes, idempotency_key))

    def get_external_account(self, system_id: str, account_id: str | None = None) -> Account:
        """See :meth:`AsyncIntegration.get_external_account`."""
        return self._run(self.runtime.get_external_account(system_id, account_id))

    def get_external_positions(self, system_id: str, account_id: str | None = None) -> list[Position]:
        """See :meth:`AsyncIntegration.get_external_positions`."""
        return self._run(self.runtime.get_external_positions(system_id, account_id))

    def get_market_data(
        self, system_id: str, symbols: Any, data_type: str = "bars", parameters: Mapping[str, Any] | None = None
    ) -> Any:
        """See :meth:`AsyncIntegration.get_market_data`."""
        return self._run(self.runtime.get_market_data(system_id, symbols, data_type, parameters))

    def subscribe_market_data(
        self, system_id: str, symbols: Any, data_type: str, callback: Callable[[Any], Any], **options: Any
    ) -> str:
        """See :meth:`AsyncIntegration.subscribe_market_data`."""
        return self._run(self.runtime.subscribe_market_data(system_id, symbols, data_type, callback, **options))

    def unsubscribe_market_data(self, system_id: str, subscription_id: str) -> None:
        """See :meth:`AsyncIntegration.unsubscribe_market_data`."""
        self._run(self.runtime.unsubscribe_market_data(system_id, subscription_id))

    def import_data(self, source: str, data_type: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """See :meth:`AsyncIntegration.import_data`."""
        return self._run(self.runtime.import_data(source, data_type, parameters))

    def export_data(self, data_type: str, destination: str, format_options: Mapping[str, Any] | None = None) -> Any:
        """See :meth:`AsyncIntegration.export_data`."""
        return self._run(self.runtime.export_data(data_type, destination, format_options))

    def get_fx_rate(self, base: str, quote: str, at: datetime | None = None) -> RateAnswer:
        """See :meth:`AsyncIntegration.get_fx_rate`."""
        return self._run(self.runtime.get_fx_rate(base, quote, at))

    def run_fx_feed_cycle(self) -> FeedCycle:
        """See :meth:`AsyncIntegration.run_fx_feed_cycle`."""
        return self._run(self.runtime.run_fx_feed_cycle())

    def get_performance(self, account: str, start: date, end: date, **options: Any) -> PerformanceReport:
        """See :meth:`AsyncIntegration.get_performance`."""
        return self._run(self.runtime.get_performance(account, start, end, **options))

    def get_risk(self, account: str, **options: Any) -> RiskReport:
        """See :meth:`AsyncIntegration.get_risk`."""
        return self._run(self.runtime.get_risk(account, **options))

    def schedule_import(self, import_config: Mapping[str, Any]) -> str:
        """See :meth:`AsyncIntegration.schedule_import`."""
        return self._run(self.runtime.schedule_import(import_config))

    def schedule_export(self, export_config: Mapping[str, Any]) -> str:
        """See :meth:`AsyncIntegration.schedule_export`."""
        return self._run(self.runtime.schedule_export(export_config))

    def list_jobs(self) -> list[dict[str, Any]]:
        """See :meth:`AsyncIntegration.list_jobs`."""
        return self._run(self.runtime.list_jobs())

    def job_history(self, job_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """See :meth:`AsyncIntegration.job_history`."""
        return self._run(self.runtime.job_history(job_id, limit=limit))

    def run_job_now(self, job_id: str) -> dict[str, Any]:
        """See :meth:`AsyncIntegration.run_job_now`."""
        return self._run(self.runtime.run_job_now(job_id))

    def reconcile(self, systems: list[str] | None = None, **options: Any) -> Any:
        """See :meth:`AsyncIntegration.reconcile`."""
        return self._run(self.runtime.reconcile(systems, **options))

    def apply_corporate_actions(self, provider: str, symbols: list[str] | str, **options: Any) -> Any:
        """See :meth:`AsyncIntegration.apply_corporate_actions`."""
        return self._run(self.runtime.apply_corporate_actions(provider, symbols, **options))

    def get_integration_metrics(self, system_id: str | None = None) -> dict[str, Any]:
        """See :meth:`AsyncIntegration.get_integration_metrics`."""
        return self._run(self.runtime.get_integration_metrics(system_id))

    def run_health_check(self, system_id: str) -> Any:
        """See :meth:`AsyncIntegration.run_health_check`."""
        return self._run(self.runtime.run_health_check(system_id))

    def set_throttling_parameters(self, system_id: str, parameters: Mapping[str, Any]) -> RateLimitPolicy:
        """See :meth:`AsyncIntegration.set_throttling_parameters`."""
        return self._run(self.runtime.set_throttling_parameters(system_id, parameters))
