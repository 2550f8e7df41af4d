"""Fixtures: Alpha Vantage systems on in-process mocks, a recording monitor, and a market data service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.connectors.alpha_vantage import AlphaVantageConnector
from portico.marketdata import MarketDataService
from portico.store import Database
from tests.connectors.alpha_vantage.conftest import PREMIUM_KEY, AvHarness


class RecordingMonitor:
    """Collects ``emit`` calls the way the IntegrationMonitor receives them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        self.events.append({"event": event, "system": system, "severity": severity, **data})

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


class Systems:
    """Two Alpha Vantage systems, each on its own mock, sharing the test's clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.primary = AvHarness(clock)
        self.backup = AvHarness(clock)
        self.connectors: dict[str, AlphaVantageConnector] = {
            "av_primary": self.primary.connector(system_id="av_primary"),
            "av_backup": self.backup.connector(system_id="av_backup"),
        }

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.primary.mock_clock.advance(seconds)
        self.backup.mock_clock.advance(seconds)

    def calls(self, which: str) -> int:
        harness = self.primary if which == "av_primary" else self.backup
        return len([e for e in harness.app.journal.entries() if e.path == "/query"])


@pytest.fixture
async def systems(fake_clock: FakeClock) -> AsyncIterator[Systems]:
    s = Systems(fake_clock)
    yield s
    for connector in s.connectors.values():
        await connector.close()


@pytest.fixture
def monitor() -> RecordingMonitor:
    return RecordingMonitor()


@pytest.fixture
def db() -> Database:
    return Database()


@pytest.fixture
def make_service(
    systems: Systems, monitor: RecordingMonitor, db: Database
) -> Callable[..., MarketDataService]:
    def make(**config: Any) -> MarketDataService:
        config.setdefault("fallback", {"av_primary": ["av_backup"]})
        return MarketDataService(
            systems.connectors, monitor=monitor, db=db, clock=systems.clock, config=config
        )

    return make


__all__ = ["PREMIUM_KEY", "RecordingMonitor", "Systems"]
