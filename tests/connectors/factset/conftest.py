"""Fixtures: the FactSet mock in-process, and connectors pointed at it through the shared ApiClient,
with HTTP Basic or with the private_key_jwt OAuth scheme, on a fake clock the mock follows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.factset import SPEC, FactSetConnector
from portico.connectors.factset.auth import SCHEME, factset_private_key_jwt
from portico.http import ApiClient, CallRecord, RateLimiter
from portico.mocks._kit import MockClock
from portico.mocks.factset import create_app
from portico.sdk import ConnectorContext, resolve_url_templates
from tests.connectors.factset.keys import API_KEY, CLIENT_ID, USER, private_jwk, public_jwk

BASE = "http://factset.mock/content"
AUTH = "http://factset.mock"


class FactSetHarness:
    """A mock app, the clocks it and the runtime share, and a factory of connectors against it."""

    def __init__(self, clock: FakeClock, **mock_options: Any) -> None:
        self.clock = clock
        self.mock_clock = MockClock(clock.now())
        mock_options.setdefault("users", {USER: API_KEY})
        mock_options.setdefault("clients", {CLIENT_ID: public_jwk()})
        self.app = create_app(
            seed=5, clock=self.mock_clock, assertion_time=lambda: clock.now().timestamp(), **mock_options
        )
        self.mock = self.app.state.mock
        self.transport = httpx.ASGITransport(app=self.app)
        self.records: list[CallRecord] = []
        self.connectors: list[FactSetConnector] = []

    def advance(self, seconds: float) -> None:
        """Move the runtime's and the mock's clocks together."""
        self.clock.advance(seconds)
        self.mock_clock.advance(seconds)

    def synced_clock(self) -> Any:
        harness = self

        class _SyncedClock:
            # the mock's clock follows every sleep the client takes (retries, limiter waits, batch polls)
            def now(self) -> Any:
                return harness.clock.now()

            def monotonic(self) -> float:
                return harness.clock.monotonic()

            async def sleep(self, seconds: float) -> None:
                harness.mock_clock.advance(max(0.0, seconds))
                await harness.clock.sleep(seconds)

        return _SyncedClock()

    def connector(
        self,
        *,
        oauth: bool = False,
        credentials: dict[str, str] | None = None,
        connection: dict[str, Any] | None = None,
        system_id: str = "factset",
    ) -> FactSetConnector:
        """A connector against the mock; ``oauth`` builds the private_key_jwt scheme as the runtime does."""
        synced = self.synced_clock()
        limiter = RateLimiter(SPEC.throttling, clock=synced, name=system_id)

        def factory(base_url: str, **overrides: Any) -> ApiClient:
            kwargs: dict[str, Any] = {
                "system": system_id,
                "transport": self.transport,
                "clock": synced,
                "retry": SPEC.throttling.retry,
                "rate_limiter": limiter,
                "observers": (self.records.append,),
            }
            kwargs.update(overrides)
            return ApiClient(base_url, **kwargs)

        if oauth:
            creds = credentials or {"client_id": CLIENT_ID, "jwk": json.dumps(private_jwk())}
            scheme = SCHEME
        else:
            creds = credentials or {"username": USER, "password": API_KEY}
            scheme = "basic"
        manager = AuthenticationManager(clock=synced, transport=self.transport)
        manager.register_scheme(SCHEME, factset_private_key_jwt)
        spec = SPEC.auth_scheme(scheme)
        assert spec is not None
        options = resolve_url_templates(dict(spec.options), {"base": BASE, "auth": AUTH})
        auth = manager.build(system_id, scheme, creds, options)
        context = ConnectorContext.for_testing(
            FactSetConnector,
            urls={"base": BASE, "auth": AUTH},
            system_id=system_id,
            credentials=creds,
            connection=connection or {},
            auth_scheme=scheme,
            auth=auth,
            client_factory=factory,
            clock=synced,
            rate_limiter=limiter,
        )
        connector = FactSetConnector(context)
        self.connectors.append(connector)
        return connector


@pytest.fixture
async def fs(fake_clock: FakeClock) -> AsyncIterator[FactSetHarness]:
    harness = FactSetHarness(fake_clock)
    yield harness
    for connector in harness.connectors:
        await connector.close()


@pytest.fixture
async def fs_factory(fake_clock: FakeClock) -> AsyncIterator[Callable[..., FactSetHarness]]:
    made: list[FactSetHarness] = []

    def build(**options: Any) -> FactSetHarness:
        harness = FactSetHarness(fake_clock, **options)
        made.append(harness)
        return harness

    yield build
    for harness in made:
        for connector in harness.connectors:
            await connector.close()
