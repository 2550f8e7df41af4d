"""The conformance suite against the Schwab mock, signed in through Schwab's OAuth flow on the mock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.connectors.schwab import SPEC, SchwabAuth, SchwabConnector
from portico.connectors.schwab.spec import AUTH_SCHEME
from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.schwab import create_app
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.testing.conformance import ConnectorConformance
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK


class TestSchwabConformance(ConnectorConformance):
    connector_class = SchwabConnector
    credentials = {"client_id": APP_KEY, "client_secret": APP_SECRET}
    running: RunningMock

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[Any]:
        # the mock's clock runs from inside a regular session (minute charts exist at any wall-clock
        # hour), and the connector reads time from the same clock
        running = await asyncio.to_thread(
            start_mock, create_app(seed=self.mock_seed, start=DEFAULT_START, realtime=True)
        )
        self.running = running
        try:
            yield running
        finally:
            await running.stop()

    async def make_context(self, urls: Mapping[str, str]) -> ConnectorContext:
        clock = self.running.app.clock
        manager = AuthenticationManager(clock=clock)
        manager.register_scheme(AUTH_SCHEME, SchwabAuth)
        scheme = SPEC.auth_scheme()
        assert scheme is not None
        # the mock's authorize endpoint approves at once, so the scheme signs in by itself
        options = resolve_url_templates(
            {**scheme.options, "redirect_uri": CALLBACK, "auto_login": True}, dict(urls)
        )
        credentials = {k: SecretStr(v) for k, v in self.credentials.items()}
        auth = manager.build("schwab", AUTH_SCHEME, credentials, options)
        return ConnectorContext.for_testing(
            SchwabConnector,
            urls=urls,
            credentials=credentials,
            auth_scheme=AUTH_SCHEME,
            auth=auth,
            clock=clock,
        )
