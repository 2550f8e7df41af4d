"""The runtime's typed composition: each service is built alone from the dependencies it is given (no
runtime), and the facade's service properties carry the real service classes, never Any."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.config import IntegrationConfig, ScaleOutConfig
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration, _composition
from portico.runtime._builders import (
    build_analytics,
    build_audit,
    build_auth,
    build_breaker,
    build_database,
    build_events,
    build_fx_rates,
    build_jobs,
    build_limiters,
    build_market_data,
    build_monitor,
    build_trading,
)
from portico.store import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return build_database(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def plugins() -> PluginManager:
    return PluginManager()


class Emitted:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **data: Any) -> None:
        self.events.append((event, data))


def test_the_database_is_built_from_its_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alone.db'}"
    assert build_database(url).url == url


def test_the_monitor_is_built_alone(db: Database, clock: FakeClock, plugins: PluginManager) -> None:
    from portico.monitor import IntegrationMonitor

    monitor = build_monitor(db=db, clock=clock, config={}, plugins=plugins)
    assert isinstance(monitor, IntegrationMonitor)
    assert monitor.db is db and monitor.clock is clock


def test_events_are_built_alone_and_only_when_configured(db: Database, clock: FakeClock) -> None:
    from portico.events import EventPublisher

    assert build_events(settings=ScaleOutConfig(), db=db, clock=clock, redact=None) is None
    publisher = build_events(settings=ScaleOutConfig(events_url="memory://"), db=db, clock=clock, redact=None)
    assert type(publisher) is EventPublisher  # a memory broker is never behind the outbox


def test_the_audit_log_and_auth_manager_are_built_alone(
    db: Database, clock: FakeClock, plugins: PluginManager
) -> None:
    from portico.auth import AuditLog, AuthenticationManager

    audit = build_audit(db=db, clock=clock)
    assert isinstance(audit, AuditLog)
    emitted = Emitted()
    auth = build_auth(audit=audit, clock=clock, transport=None, plugins=plugins, emit=emitted)
    assert isinstance(auth, AuthenticationManager)
    assert auth.plugins is plugins


def test_market_data_is_built_alone(db: Database, clock: FakeClock) -> None:
    from portico.marketdata import MarketDataService

    service = build_market_data(
        connectors={}, monitor=None, db=db, clock=clock, config={}, policies=lambda _: None
    )
    assert isinstance(service, MarketDataService)


def test_trading_and_analytics_are_built_alone(
    db: Database, clock: FakeClock, plugins: PluginManager
) -> None:
    from portico.analytics import AnalyticsService
    from portico.trading import TradingService

    built: list[AnalyticsService] = []
    trading = build_trading(
        db=db, clock=clock, connectors={}, monitor=None, audit=build_audit(db=db, clock=clock), config={},
        plugins=plugins, analytics=lambda: built[0], live_trading_systems=(), instance="alone",
    )  # fmt: skip
    assert isinstance(trading, TradingService)
    assert trading.db is db and trading.clock is clock
    analytics = build_analytics(
        db=db, clock=clock, trading=trading, alert=Emitted(), fx_rates=lambda: build_fx_rates(db=db)
    )
    built.append(analytics)
    assert isinstance(analytics, AnalyticsService)


def test_fx_rates_are_built_alone(db: Database) -> None:
    from portico.marketdata import StoredFxRateBook

    assert isinstance(build_fx_rates(db=db), StoredFxRateBook)


def test_jobs_are_built_alone(db: Database, clock: FakeClock, plugins: PluginManager) -> None:
    from portico.jobs import JobService

    async def no_positions() -> list[Any]:
        return []

    market_data = build_market_data(
        connectors={}, monitor=None, db=db, clock=clock, config={}, policies=lambda _: None
    )
    jobs = build_jobs(
        db=db, clock=clock, monitor=None, connectors={}, market_data=market_data, config=IntegrationConfig(),
        plugins=plugins, sources={}, integration=None, broker_positions=no_positions, instance="alone",
        fx_rate=lambda currency, base: 1.0,
    )  # fmt: skip
    assert isinstance(jobs, JobService)
    assert jobs.db is db and jobs.clock is clock and jobs.instance == "alone"


def test_limiters_are_built_alone(clock: FakeClock) -> None:
    from portico.http import RateLimiterRegistry

    registry = build_limiters(clock=clock, settings=ScaleOutConfig(), emit=Emitted())
    assert isinstance(registry, RateLimiterRegistry)


def test_a_breaker_is_built_alone_and_emits_when_it_opens(clock: FakeClock) -> None:
    emitted = Emitted()
    breaker = build_breaker("alpaca", clock=clock, emit=emitted)
    for _ in range(50):
        if str(breaker.state.value) == "open":
            break
        breaker.record_failure()
    assert str(breaker.state.value) == "open"
    assert emitted.events[-1] == (
        "breaker.state_changed",
        {"system": "alpaca", "severity": "critical", "old": "closed", "new": "open"},
    )


SERVICE_TYPES = {
    "db": "Database",
    "monitor": "IntegrationMonitor",
    "events": "EventPublisher | OutboxPublisher | None",
    "audit": "AuditLog",
    "auth": "AuthenticationManager",
    "market_data": "MarketDataService",
    "trading": "TradingService",
    "fx_rates": "StoredFxRateBook",
    "fx_feed": "FxRateFeed | None",
    "analytics": "AnalyticsService",
    "jobs": "JobService",
    "limiters": "RateLimiterRegistry",
}


def test_every_service_property_is_typed_with_the_service_class() -> None:
    from portico.analytics import AnalyticsService
    from portico.auth import AuditLog, AuthenticationManager
    from portico.events import EventPublisher, OutboxPublisher
    from portico.http import RateLimiterRegistry
    from portico.jobs import JobService
    from portico.marketdata import FxRateFeed, MarketDataService, StoredFxRateBook
    from portico.monitor import IntegrationMonitor
    from portico.trading import TradingService

    names = {
        cls.__name__: cls
        for cls in (AnalyticsService, AuditLog, AuthenticationManager, EventPublisher, OutboxPublisher,
                    RateLimiterRegistry, JobService, FxRateFeed, MarketDataService, StoredFxRateBook,
                    IntegrationMonitor, TradingService, Database)
    }  # fmt: skip
    for name, expected in SERVICE_TYPES.items():
        prop = getattr(AsyncIntegration, name)
        assert isinstance(prop, property), name
        annotation = prop.fget.__annotations__["return"]
        assert annotation == expected, (name, annotation)
        # each name resolves, through the composition module's imports, to the real class
        for part in annotation.split(" | "):
            if part != "None":
                assert part in names and names[part].__name__ == part, (name, part)
    assert "Any" not in {prop.fget.__annotations__["return"] for prop in vars(_composition.Composition).values()
                         if isinstance(prop, property)}  # fmt: skip


def test_the_runtime_wires_each_service_from_the_shared_ones(tmp_path: Path) -> None:
    integration = AsyncIntegration(
        IntegrationConfig(), clock=FakeClock(), database_url=f"sqlite:///{tmp_path / 'rt.db'}"
    )
    assert dict(integration._services) == {}  # nothing is built until used
    trading = integration.trading
    assert trading.db is integration.db and trading.clock is integration.clock
    assert set(integration._services) == {"trading", "audit"}
    assert integration.trading is trading  # built once
    jobs = integration.jobs
    assert jobs.db is integration.db and jobs.market_data is integration.market_data
    assert integration.analytics is integration._services["analytics"]
    assert integration.events is None  # no scale_out.events_url
