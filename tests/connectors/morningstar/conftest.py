"""Fixtures: the Morningstar mock in-process, and connectors pointed at it through the shared ApiClient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.connectors.morningstar import RATE_LIMIT_POLICY, MorningstarConnector
from portico.http import ApiClient, CallRecord
from portico.mocks._kit import MockClock
from portico.mocks.morningstar import create_app
from portico.sdk import ConnectorContext

BASE = "http://morningstar.mock/md-api/"


class MsHarness:
    """A mock app and a factory of connectors against it; tokens live on the test's fake clock."""

    def __init__(self, clock: FakeClock, **mock_options: Any) -> None:
        self.clock = clock
        self.app = create_app(seed=7, clock=MockClock(), wall_clock=clock, **mock_options)
        self.mock = self.app.state.mock
        self.records: list[CallRecord] = []
        self.connectors: list[MorningstarConnector] = []

    def connector(
        self, *, token: str | None = None, connection: dict[str, Any] | None = None
    ) -> MorningstarConnector:
        def factory(base_url: str, **overrides: Any) -> ApiClient:
            kwargs: dict[str, Any] = {
                "system": "morningstar",
                "transport": httpx.ASGITransport(app=self.app),
                "clock": self.clock,
                "retry": RATE_LIMIT_POLICY.retry,
                "observers": (self.records.append,),
            }
            kwargs.update(overrides)
            return ApiClient(base_url, **kwargs)

        context = ConnectorContext.for_testing(
            MorningstarConnector,
            urls={"base": BASE},
            credentials={"token": token if token is not None else self.mock.issue_token()},
            connection=connection or {},
            client_factory=factory,
            clock=self.clock,
        )
        connector = MorningstarConnector(context)
        self.connectors.append(connector)
        return connector


@pytest.fixture
async def ms(fake_clock: FakeClock) -> AsyncIterator[MsHarness]:
    harness = MsHarness(fake_clock)
    yield harness
    for connector in harness.connectors:
        await connector.close()
