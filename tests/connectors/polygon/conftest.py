"""Fixtures: the Polygon mock in-process, and connectors pointed at it through the shared ApiClient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.connectors.polygon import PolygonConnector, rate_limit_policy
from portico.http import ApiClient, CallRecord, RateLimiter
from portico.mocks._kit import MockClock
from portico.mocks.polygon import create_app
from portico.sdk import ConnectorContext

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 New York, half an hour into the session
PAID_KEY = "paid-secret-key-123"
FREE_KEY = "free-secret-key-456"


class PolygonHarness:
    """A mock app, the clock both share, and a factory of connectors against the mock."""

    def __init__(self, clock: FakeClock, **mock_options: Any) -> None:
        self.clock = clock
        self.mock_clock = MockClock(clock.now())
        self.app = create_app(seed=5, clock=self.mock_clock, key_plans={FREE_KEY: "free"}, **mock_options)
        self.mock = self.app.state.mock
        self.records: list[CallRecord] = []
        self.connectors: list[PolygonConnector] = []

    def calls(self, path_prefix: str = "/") -> list[str]:
        """The vendor paths the mock was asked, in order (with their query)."""
        return [
            f"{e.path}?{e.query}" if e.query else e.path
            for e in self.app.journal.entries(None, None)
            if e.path.startswith(path_prefix)
        ]

    def connector(
        self, *, key: str = PAID_KEY, plan: str = "advanced", system_id: str = "polygon", **connection: Any
    ) -> PolygonConnector:
        policy = rate_limit_policy(plan)
        harness = self

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
        limiter = RateLimiter(policy, clock=synced, name=system_id)  # type: ignore[arg-type]

        def factory(base_url: str, **overrides: Any) -> ApiClient:
            kwargs: dict[str, Any] = {
                "system": system_id,
                "transport": httpx.ASGITransport(app=self.app),
                "clock": synced,
                "retry": policy.retry,
                "rate_limiter": limiter,
                "observers": (self.records.append,),
            }
            kwargs.update(overrides)
            return ApiClient(base_url, **kwargs)

        context = ConnectorContext.for_testing(
            PolygonConnector,
            urls={"base": "http://polygon.mock"},
            system_id=system_id,
            credentials={"api_key": key},
            connection={"plan": plan, **connection},
            client_factory=factory,
            clock=synced,  # type: ignore[arg-type]
            rate_limiter=limiter,
        )
        connector = PolygonConnector(context)
        self.connectors.append(connector)
        return connector


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def polygon(fake_clock: FakeClock) -> AsyncIterator[PolygonHarness]:
    harness = PolygonHarness(fake_clock)
    yield harness
    for connector in harness.connectors:
        await connector.close()
