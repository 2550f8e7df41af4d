"""The shared conformance suite, generated from the FactSet manifest, against its mock: once with HTTP
Basic (the manifest's preferred scheme), once with the plugin's private_key_jwt OAuth scheme."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.connectors.factset import FactSetConnector
from portico.connectors.factset import plugin as factset_plugin
from portico.connectors.factset.auth import SCHEME
from portico.plugins import PluginManager
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.testing.conformance import ConnectorConformance
from tests.connectors.factset.keys import CLIENT_ID, private_jwk, public_jwk


class TestFactSetConformance(ConnectorConformance):
    connector_class = FactSetConnector
    # the mock's built-in account (USERNAME-SERIAL and API key)
    credentials = {"username": "PORTICO-123456", "password": "mock-api-key"}
    symbol = "AAPL"


class TestFactSetOAuthConformance(ConnectorConformance):
    connector_class = FactSetConnector
    credentials = {"client_id": CLIENT_ID, "jwk": json.dumps(private_jwk())}
    symbol = "MSFT"

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[Any]:
        from portico.mocks import start_mock

        assert self.spec.mock is not None
        # the client's public key registered, as FactSet's developer portal holds it
        running = await asyncio.to_thread(
            start_mock, self.spec.mock, seed=self.mock_seed, clients={CLIENT_ID: public_jwk()}
        )
        try:
            yield running
        finally:
            await running.stop()

    async def make_context(self, urls: Mapping[str, str]) -> ConnectorContext:
        plugins = PluginManager(autoload=False)
        plugins.register(factset_plugin, name="factset")
        scheme = self.spec.auth_scheme(SCHEME)
        assert scheme is not None
        credentials = {k: SecretStr(v) for k, v in self.credentials.items()}
        auth = AuthenticationManager(plugins=plugins).build(
            self.spec.name, SCHEME, credentials, resolve_url_templates(dict(scheme.options), dict(urls))
        )
        return ConnectorContext.for_testing(
            self.connector_class, urls=urls, credentials=credentials, auth_scheme=SCHEME, auth=auth
        )
