"""Fixtures: the LSEG mock in-process, and connectors pointed at it through the shared ApiClient, on one
fake clock that the mock's clock follows (token expiry, the 5-a-second window, limiter waits)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from portico.auth import AuthContext
from portico.clock import FakeClock
from portico.connectors.refinitiv import SCHEME, THROTTLING, RefinitivConnector, RefinitivPasswordAuth
from portico.http import ApiClient, CallRecord, RateLimiter
from portico.mocks._kit import MockClock
from portico.mocks.refinitiv import create_app
from portico.sdk import ConnectorContext

APP_KEY = "test-app-key-7f3a"
USER = "test-user"
PASSWORD = "test-password-9b1c"
START = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York


class SyncedClock:
    """The runtime's fake clock; every sleep the client takes (retries, limiter waits) moves the mock's too."""

    def __init__(self, clock: FakeClock, mock_clock: MockClock) -> None:
        self.clock = clock
        self.mock_clock = mock_clock

    def now(self) -> datetime:
        return self.clock.now()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.mock_clock.advance(max(0.0, seconds))
        await self.clock.sleep(seconds)

    def advance(self, seconds: float) -> None:
        self.mock_clock.advance(seconds)
        self.clock.advance(seconds)


class LsegHarness:
    """A mock app, the clock both share, and a factory of connectors (with their auth) against the mock."""

    def __init__(
        self, clock: FakeClock | None = None, mock_clock: MockClock | None = None, **mock_options: Any
    ) -> None:
        self.fake = clock or FakeClock(START)
        self.mock_clock = mock_clock or MockClock(self.fake.now())
        self.clock = SyncedClock(self.fake, self.mock_clock)
        mock_options.setdefault("users", {USER: PASSWORD})
        mock_options.setdefault("app_keys", {APP_KEY})
        self.app = create_app(seed=3, clock=self.mock_clock, **mock_options)
        self.mock = self.app.state.mock
        self.records: list[CallRecord] = []
        self.connectors: list[RefinitivConnector] = []

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.app)

    def auth(self, *, system_id: str = "lseg", **options: Any) -> RefinitivPasswordAuth:
        context = AuthContext(system_id=system_id, scheme=SCHEME, clock=self.clock, transport=self.transport)  # type: ignore[arg-type]
        settings = {"token_url": "http://lseg.mock/auth/oauth2/v1/token",
                    "revocation_url": "http://lseg.mock/auth/oauth2/v1/revoke", **options}  # fmt: skip
        credentials = {"app_key": APP_KEY, "username": USER, "password": PASSWORD}
        return RefinitivPasswordAuth(context, credentials, settings)

    def connector(
        self,
        *,
        system_id: str = "lseg",
        connection: dict[str, Any] | None = None,
        auth: httpx.Auth | None = None,
        limiter: bool = True,
    ) -> RefinitivConnector:
        rate_limiter = RateLimiter(THROTTLING, clock=self.clock, name=system_id) if limiter else None  # type: ignore[arg-type]

        def factory(base_url: str, **overrides: Any) -> ApiClient:
            kwargs: dict[str, Any] = {
                "system": system_id,
                "transport": self.transport,
                "clock": self.clock,
                "retry": THROTTLING.retry,
                "rate_limiter": rate_limiter,
                "observers": (self.records.append,),
            }
            kwargs.update(overrides)
            return ApiClient(base_url, **kwargs)

        ctx = ConnectorContext.for_testing(
            RefinitivConnector,
            urls={"base": "http://lseg.mock"},
            system_id=system_id,
            connection=connection or {},
            auth=auth or self.auth(system_id=system_id),
            client_factory=factory,
            clock=self.clock,
            rate_limiter=rate_limiter,
        )
        connector = RefinitivConnector(ctx)
        self.connectors.append(connector)
        return connector


@pytest.fixture
async def lseg() -> AsyncIterator[LsegHarness]:
    harness = LsegHarness()
    yield harness
    for connector in harness.connectors:
        await connector.close()


@pytest.fixture
def lseg_factory() -> Callable[..., LsegHarness]:
    return lambda **options: LsegHarness(**options)
