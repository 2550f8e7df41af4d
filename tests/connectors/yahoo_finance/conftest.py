"""Fixtures: the Yahoo Finance mock in-process, and connectors pointed at it through the shared ApiClient.

The mock's clock is pinned to Friday 2026-11-20 16:00 New York (after the close) and moves with the test's
fake clock; seed 3 gives AAPL a 4:1 split on 2025-01-02 and a 0.77 dividend on 2025-01-13.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.connectors.yahoo_finance import YahooFinanceConnector, rate_limit_policy
from portico.http import ApiClient, CallRecord, RateLimiter
from portico.mocks._kit import MockClock
from portico.mocks.yahoo_finance import create_app
from portico.sdk import ConnectorContext

PINNED = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
URLS = {
    "query1": "https://query1.finance.yahoo.com",
    "query2": "https://query2.finance.yahoo.com",
    "cookie": "https://fc.yahoo.com",
}


class YahooHarness:
    """A mock app, the clocks it and the connector share, and a factory of connectors against it."""

    def __init__(self, **mock_options: Any) -> None:
        self.clock = FakeClock(PINNED)
        self.mock_clock = MockClock(PINNED)
        mock_options.setdefault("history_start", date(2024, 1, 2))
        self.app = create_app(seed=3, clock=self.mock_clock, **mock_options)
        self.mock = self.app.state.mock
        self.connectors: list[YahooFinanceConnector] = []
        self.records: list[CallRecord] = []

    def advance(self, seconds: float) -> None:
        """Move the runtime's and the mock's clocks together."""
        self.clock.advance(seconds)
        self.mock_clock.advance(seconds)

    def calls(self, path: str) -> int:
        """How many requests the mock received on ``path``."""
        return len(self.app.journal.entries(path=path))

    def connector(self, **connection: Any) -> YahooFinanceConnector:
        harness = self
        policy = rate_limit_policy(connection.get("requests_per_minute", 600))

        class _SyncedClock:
            # the mock's clock follows every sleep the client takes (retries, limiter waits)
            def now(self) -> Any:
                return harness.clock.now()

            def monotonic(self) -> float:
                return harness.clock.monotonic()

            async def sleep(self, seconds: float) -> None:
                harness.mock_clock.advance(max(0.0, seconds))
                await harness.clock.sleep(seconds)

        synced = _SyncedClock()
        limiter = RateLimiter(policy, clock=synced, name="yahoo")  # type: ignore[arg-type]

        def factory(base_url: str, **overrides: Any) -> ApiClient:
            kwargs: dict[str, Any] = {
                "system": "yahoo",
                "transport": httpx.ASGITransport(app=self.app),
                "clock": synced,
                "retry": policy.retry,
                "rate_limiter": limiter,
                "observers": (self.records.append,),
                "rng": random.Random(11),  # seeded backoff jitter: retries wait the same every run
            }
            kwargs.update(overrides)
            return ApiClient(base_url, **kwargs)

        context = ConnectorContext.for_testing(
            YahooFinanceConnector,
            urls=URLS,
            system_id="yahoo",
            connection={"requests_per_minute": 600, **connection},
            client_factory=factory,
            clock=synced,  # type: ignore[arg-type]
            rate_limiter=limiter,
        )
        connector = YahooFinanceConnector(context)
        self.connectors.append(connector)
        return connector


@pytest.fixture
async def yahoo() -> AsyncIterator[YahooHarness]:
    harness = YahooHarness()
    yield harness
    for connector in harness.connectors:
        await connector.close()


@pytest.fixture
async def yahoo_factory() -> AsyncIterator[Callable[..., YahooHarness]]:
    made: list[YahooHarness] = []

    def make(**options: Any) -> YahooHarness:
        made.append(YahooHarness(**options))
        return made[-1]

    yield make
    for harness in made:
        for connector in harness.connectors:
            await connector.close()
