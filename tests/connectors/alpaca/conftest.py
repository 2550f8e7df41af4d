from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.connectors.alpaca import AlpacaConnector
from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.alpaca import create_app
from portico.sdk import ConnectorContext

CREDENTIALS = {"api_key_id": "PKTEST", "api_secret_key": "secret"}


def make_connector(running: RunningMock, **context: Any) -> AlpacaConnector:
    """A connector pointed at ``running`` with a fake clock (backoff sleeps return at once)."""
    context.setdefault("clock", FakeClock())
    return AlpacaConnector(ConnectorContext.for_testing(AlpacaConnector, urls=running.urls, credentials=CREDENTIALS, **context))


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., RunningMock]]:
    """Start Alpaca mocks (pinned clock, no rate limit unless asked); stopped after the test."""
    started: list[RunningMock] = []

    def start(**options: Any) -> RunningMock:
        options.setdefault("start", DEFAULT_START)
        options.setdefault("rate_limit", None)
        faults = options.pop("faults", None)
        running = start_mock(create_app(seed=options.pop("seed", 5), faults=faults, **options))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()
