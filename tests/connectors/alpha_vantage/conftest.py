"""Fixtures: the Alpha Vantage mock in-process, and connectors pointed at it through the shared ApiClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.connectors.alpha_vantage import AlphaVantageConnector, rate_limit_policy
from portico.http import ApiClient, CallRecord, RateLimiter
from portico.mocks._kit import MockClock
from portico.mocks.alpha_vantage import create_app
from portico.sdk import ConnectorContext

FREE_KEY = "free-secret-key-123"
PREMIUM_KEY = "premium-secret-key-456"


class AvHarness:
    """A mock app, the clock both share, and a factory of connectors against the mock."""

    def __init__(self, clock: FakeClock, **mock_options: Any) -> None:
        self.clock = clock
        self.mock_clock = MockClock(clock.now())
        self.app = create_app(
            seed=3, clock=self.mock_clock, key_tiers={PREMIUM_KEY: "premium_75"}, **mock_options
        )
        self.mock = self.app.state.mock
        self.records: list[CallRecord] = []
        self.connectors: list[AlphaVantageConnector] = []

    def advance(self, seconds: float) -> None:
        """Move the runtime's and the mock's clocks together."""
        self.clock.advance(seconds)
        self.mock_clock.advance(seconds)

    def connector(
        self, *, key: str = PREMIUM_KEY, tier: str = "premium_75", system_id: str = "av"
    ) -> AlphaVantageConnector:
        policy = rate_limit_policy(tier)
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
            AlphaVantageConnector,
            urls={"base": "http://alpha-vantage.mock/query"},
            system_id=system_id,
            credentials={"api_key": key},
            connection={"tier": tier},
            client_factory=factory,
            clock=synced,  # type: ignore[arg-type]
            rate_limiter=limiter,  # shared by the HTTP client and the context, as the runtime does
        )
        connector = AlphaVantageConnector(context)
        self.connectors.append(connector)
        return connector


@pytest.fixture
async def av(fake_clock: FakeClock) -> AsyncIterator[AvHarness]:
    harness = AvHarness(fake_clock)
    yield harness
    for connector in harness.connectors:
        await connector.close()


@pytest.fixture
def av_factory(fake_clock: FakeClock) -> Callable[..., AvHarness]:
    return lambda **options: AvHarness(fake_clock, **options)
