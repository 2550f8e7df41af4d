from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.etrade import create_app

CONSUMER_KEY = "etrade-mock-consumer-key"
CONSUMER_SECRET = "etrade-mock-consumer-secret"
ACCESS_TOKEN = "etrade-mock-access-token"
ACCESS_SECRET = "etrade-mock-access-token-secret"
CREDENTIALS = {
    "consumer_key": CONSUMER_KEY,
    "consumer_secret": CONSUMER_SECRET,
    "token": ACCESS_TOKEN,
    "token_secret": ACCESS_SECRET,
}


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., RunningMock]]:
    """Start E*TRADE mocks (pinned clock, no rate limit unless asked); stopped after the test."""
    started: list[RunningMock] = []

    def start(**options: Any) -> RunningMock:
        options.setdefault("start", DEFAULT_START)
        faults = options.pop("faults", None)
        running = start_mock(create_app(seed=options.pop("seed", 5), faults=faults, **options))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()
