"""Fixtures: the Bloomberg mock in-process on a clock shared with the connector, and connectors pointed
at it through the shared ApiClient and portico's own client credentials flow."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.bloomberg import SPEC, BloombergConnector
from portico.http import ApiClient, CallRecord, RateLimiter
from portico.mocks._kit import MockClock
from portico.mocks.bloomberg import create_app
from portico.sdk import ConnectorContext

CLIENT_ID = "7e1f0c2a9b3d4e5f8a6b7c8d9e0f1a2b"
CLIENT_SECRET = "bbg-secret-3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c"
HOST = "http://bloomberg.mock"


class BbgHarness:
    """A mock app, the clock both share, and a factory of connectors against the mock."""

    def __init__(self, clock: FakeClock, **mock_options: Any) -> None:
        self.clock = clock
        self.mock_clock = MockClock(clock.now())
        options = {"processing_seconds": 100.0, **mock_options}
        self.app = create_app(seed=5, clock=self.mock_clock, clients={CLIENT_ID: CLIENT_SECRET}, **options)
        self.mock = self.app.state.mock
        self.records: list[CallRecord] = []
        self.connectors: list[BloombergConnector] = []
        harness = self

        class _SyncedClock:
            # the mock's clock follows every sleep taken on it (polls, retries, limiter waits, feed cycles)
            def now(self) -> Any:
                return harness.clock.now()

            def monotonic(self) -> float:
                return harness.clock.monotonic()

            async def sleep(self, seconds: float) -> None:
                harness.mock_clock.advance(max(0.0, seconds))
                await harness.clock.sleep(seconds)

        self.synced = _SyncedClock()

    def advance(self, seconds: float) -> None:
        """Move the runtime's and the mock's clocks together."""
        self.clock.advance(seconds)
        self.mock_clock.advance(seconds)

    def connector(
        self, connection: dict[str, Any] | None = None, *, secret: str = CLIENT_SECRET, system_id: str = "bbg"
    ) -> BloombergConnector:
        synced = self.synced
        policy = SPEC.throttling
        limiter = RateLimiter(policy, clock=synced, name=system_id)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=self.app)
        auth = AuthenticationManager(clock=synced, transport=transport).build(  # type: ignore[arg-type]
            system_id,
            "oauth2_client_credentials",
            {"client_id": CLIENT_ID, "client_secret": secret},
            {
                "token_url": f"{HOST}/ext/api/as/token.oauth2",
                "token_endpoint_auth_method": "client_secret_basic",
            },
        )

        def factory(base_url: str, **overrides: Any) -> ApiClient:
            kwargs: dict[str, Any] = {
                "system": system_id,
                "transport": transport,
                "clock": synced,
                "retry": policy.retry,
                "rate_limiter": limiter,
                "observers": (self.records.append,),
            }
            kwargs.update(overrides)
            return ApiClient(base_url, **kwargs)

        context = ConnectorContext.for_testing(
            BloombergConnector,
            urls={"base": HOST, "auth": HOST},
            system_id=system_id,
            credentials={"client_id": CLIENT_ID, "client_secret": secret},
            connection={"poll_interval": 30.0, **(connection or {})},
            client_factory=factory,
            clock=synced,  # type: ignore[arg-type]
            rate_limiter=limiter,
            auth=auth,
        )
        connector = BloombergConnector(context)
        self.connectors.append(connector)
        return connector

    def posted(self) -> list[dict[str, Any]]:
        """The request documents the mock received, in order."""
        import json

        return [json.loads(e.body) for e in self.app.journal.entries("POST", "/eap/catalogs/1234/requests/")]


@pytest.fixture
async def bbg(fake_clock: FakeClock) -> AsyncIterator[BbgHarness]:
    harness = BbgHarness(fake_clock)
    yield harness
    for connector in harness.connectors:
        await connector.close()


@pytest.fixture
async def bbg_factory(fake_clock: FakeClock) -> AsyncIterator[Callable[..., BbgHarness]]:
    made: list[BbgHarness] = []

    def make(**options: Any) -> BbgHarness:
        made.append(BbgHarness(fake_clock, **options))
        return made[-1]

    yield make
    for harness in made:
        for connector in harness.connectors:
            await connector.close()
