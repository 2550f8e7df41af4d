"""What each runtime service is built from: one ``build_*`` function per service, taking exactly the
dependencies it needs (store, clock, monitor, events, config...). A test builds any service alone by
calling one; :class:`~portico.runtime._composition.Composition` calls them with the runtime's shared
services.

Services are imported inside their ``build_*`` function (a downward import, kept lazy): ``from portico
import Integration`` must not pay for SQLAlchemy, the scheduler or polars before a service is used
(``benchmarks/cold_start.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from portico.clock import Clock
from portico.config import IntegrationConfig, ScaleOutConfig
from portico.plugins import PluginManager
from portico.sdk import Connector, RateLimitPolicy

if TYPE_CHECKING:
    from portico.analytics import AnalyticsService
    from portico.auth import AuditLog, AuthenticationManager
    from portico.events import EventPublisher, OutboxPublisher
    from portico.http import CircuitBreaker, RateLimiterRegistry
    from portico.jobs import JobService
    from portico.marketdata import MarketDataService, StoredFxRateBook
    from portico.monitor import IntegrationMonitor
    from portico.store import Database
    from portico.trading import TradingService

__all__ = [
    "Emit",
    "build_analytics",
    "build_audit",
    "build_auth",
    "build_breaker",
    "build_database",
    "build_events",
    "build_fx_rates",
    "build_jobs",
    "build_limiters",
    "build_market_data",
    "build_monitor",
    "build_trading",
]

Emit = Callable[..., None]


def build_database(url: str | None) -> Database:
    """The embedded store (SQLite under ``PORTICO_HOME`` when ``url`` is None)."""
    from portico.store import Database  # lazy: cold start (SQLAlchemy)

    return Database(url)


def build_monitor(
    *, db: Database, clock: Clock, config: Mapping[str, Any], plugins: PluginManager
) -> IntegrationMonitor:
    """The monitor every call and job reports to."""
    from portico.monitor import IntegrationMonitor  # lazy: cold start

    return IntegrationMonitor(db=db, clock=clock, config=config, plugins=plugins)


def build_events(
    *, settings: ScaleOutConfig, db: Database, clock: Clock, redact: Callable[[Any], Any] | None
) -> EventPublisher | OutboxPublisher | None:
    """The event publisher of ``scale_out.events_url`` (None when not configured): through the store's
    outbox when ``events_outbox`` is on, so a broker restart loses nothing."""
    url = settings.events_url
    if url is None:
        return None
    from portico.events import EventPublisher, OutboxPublisher, sink_for_url  # lazy: cold start

    sink = sink_for_url(url, settings.events_exchange)
    if settings.events_outbox and not url.startswith("memory:"):
        # committed to the store first, relayed once the broker confirms
        return OutboxPublisher(sink, db, clock=clock, redact=redact)
    return EventPublisher(sink, clock=clock, redact=redact)


def build_audit(*, db: Database, clock: Clock) -> AuditLog:
    """The tamper-evident audit log."""
    from portico.auth import AuditLog  # lazy: cold start

    return AuditLog(db, clock=clock)


def build_auth(
    *, audit: AuditLog, clock: Clock, transport: Any, plugins: PluginManager, emit: Emit
) -> AuthenticationManager:
    """The authentication manager shared by every connector; with ``PORTICO_VAULT_PASSPHRASE`` set,
    login tokens and rotated refresh tokens persist in the vault."""
    from portico.auth import AuthenticationManager, CredentialVault  # lazy: cold start

    vault = CredentialVault.from_environment(audit=audit, clock=clock)
    return AuthenticationManager(
        vault=vault, audit=audit, clock=clock, transport=transport, plugins=plugins, emit=emit
    )


def build_market_data(
    *,
    connectors: Mapping[str, Connector],
    monitor: Any,
    db: Database,
    clock: Clock,
    config: Mapping[str, Any],
    policies: Callable[[str], RateLimitPolicy | None],
) -> MarketDataService:
    """The market data service (fallback chains, quality checks, cache, subscriptions)."""
    from portico.marketdata import MarketDataService  # lazy: cold start

    return MarketDataService(
        connectors, monitor=monitor, db=db, clock=clock, config=config, policies=policies
    )


def build_trading(
    *,
    db: Database,
    clock: Clock,
    connectors: Mapping[str, Connector],
    monitor: Any,
    audit: AuditLog,
    config: Mapping[str, Any],
    plugins: PluginManager,
    analytics: Callable[[], AnalyticsService],
    live_trading_systems: Collection[str],
    instance: str,
) -> TradingService:
    """The trading service (durable routing, order tracking, reconciliation, allocation); its risk
    checks include the analytics limits, which read ``analytics()`` when they run."""
    from portico.analytics import analytics_risk_checks  # lazy: cold start
    from portico.trading import TradingService  # lazy: cold start (SQLAlchemy)

    return TradingService(
        db=db,
        clock=clock,
        connectors=connectors,
        monitor=monitor,
        audit=audit,
        config=config,
        plugins=plugins,
        risk_checks=analytics_risk_checks(analytics),
        live_trading_systems=live_trading_systems,
        instance=instance,
    )


def build_fx_rates(*, db: Database) -> StoredFxRateBook:
    """The FX rates the feed keeps (in the store, with source and time)."""
    from portico.marketdata import StoredFxRateBook  # lazy: cold start

    return StoredFxRateBook(db)


def build_analytics(
    *,
    db: Database,
    clock: Clock,
    trading: TradingService,
    alert: Callable[..., Any],
    fx_rates: Callable[[], StoredFxRateBook],
) -> AnalyticsService:
    """The analytics service over the trading book and imported data."""
    from portico.analytics import AnalyticsService  # lazy: cold start (polars, numpy)

    return AnalyticsService(
        db=db, clock=clock, repo=trading.repo, limits=trading.risk_settings, alert=alert, fx_rates=fx_rates
    )


def build_jobs(
    *,
    db: Database,
    clock: Clock,
    monitor: Any,
    connectors: Mapping[str, Connector],
    market_data: MarketDataService,
    config: IntegrationConfig,
    plugins: PluginManager,
    sources: Mapping[str, Any],
    integration: Any,
    broker_positions: Callable[[], Awaitable[Any]],
    instance: str,
    fx_rate: Callable[[str, str], Any],
) -> JobService:
    """The job service (imports, exports, schedules) of the ``data_import``/``data_export`` sections."""
    from portico.jobs import JobService  # lazy: cold start (the importer, polars)

    return JobService(
        db=db,
        clock=clock,
        monitor=monitor,
        connectors=connectors,
        market_data=market_data,
        config={"data_import": config.data_import, "data_export": config.data_export},
        plugins=plugins,
        sources=sources,
        integration=integration,
        broker_positions=broker_positions,
        instance=instance,
        fx_rate=fx_rate,
    )


def build_limiters(*, clock: Clock, settings: ScaleOutConfig, emit: Emit) -> RateLimiterRegistry:
    """One rate limiter per connector and credentials, kept in Redis when ``scale_out.redis_url`` is
    configured so other processes share the budget."""
    from portico.http import RateLimiterRegistry  # lazy: cold start (httpx)

    def on_mode(connector: str, mode: str, error: str | None) -> None:
        # Redis lost: each process keeps limit / workers of the budget until it is back
        if mode == "local":
            emit("ratelimit.shared_unavailable", system=connector, severity="warning", error=error,
                 workers=settings.workers)  # fmt: skip
        else:
            emit("ratelimit.shared_restored", system=connector)

    return RateLimiterRegistry(
        clock=clock, redis_url=settings.redis_url, workers=settings.workers, on_mode=on_mode
    )


def build_breaker(system_id: str, *, clock: Clock, emit: Emit) -> CircuitBreaker:
    """A system's circuit breaker; every state change is emitted (``critical`` when it opens)."""
    from portico.http import CircuitBreaker  # lazy: cold start (httpx)

    breaker = CircuitBreaker(system_id, clock=clock)
    breaker.add_listener(
        lambda _breaker, old, new: emit(
            "breaker.state_changed",
            system=system_id,
            severity="critical" if str(getattr(new, "value", new)) == "open" else "info",
            old=str(getattr(old, "value", old)),
            new=str(getattr(new, "value", new)),
        )
    )
    return breaker
