"""Fixtures for the trading service tests: a fake venue, its connector, and a service over a fresh store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.store import Database
from portico.trading import TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue


class Recorder:
    """Stands in for the monitor and the audit log: records every call."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.entries: list[dict[str, Any]] = []

    def emit(self, event: str, **data: Any) -> None:
        self.events.append((event, data))

    def append(self, **entry: Any) -> None:
        self.entries.append(entry)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [d for e, d in self.events if e == event]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db() -> Database:
    database = Database()
    yield database
    database.dispose()


@pytest.fixture
def venue(clock: FakeClock) -> FakeVenue:
    return FakeVenue(clock=clock)


@pytest.fixture
def broker(venue: FakeVenue) -> FakeBroker:
    return FakeBroker.create(venue, "fake")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_service(db: Database, clock: FakeClock, recorder: Recorder) -> Callable[..., TradingService]:
    def make(connectors: dict[str, FakeBroker], **kwargs: Any) -> TradingService:
        kwargs.setdefault("monitor", recorder)
        kwargs.setdefault("audit", recorder)
        return TradingService(db=db, clock=clock, connectors=connectors, **kwargs)

    return make


@pytest.fixture
def service(make_service: Callable[..., TradingService], broker: FakeBroker) -> TradingService:
    return make_service({"fake": broker})
