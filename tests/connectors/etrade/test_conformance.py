"""The conformance suite against the E*TRADE mock, signed with OAuth 1.0a through the AuthenticationManager."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.connectors.etrade import EtradeConnector
from portico.plugins import PluginManager
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.testing.conformance import ConnectorConformance
from tests.connectors.etrade.conftest import CREDENTIALS


class TestEtradeConformance(ConnectorConformance):
    connector_class = EtradeConnector
    credentials = CREDENTIALS
    # the published per-module limits would make the suite wait for budget; the limiter has its own tests
    connection = {
        "rate_limits": {m: {"per_second": 50, "per_hour": 100_000} for m in ("accounts", "market", "order")},
        "poll_interval": 0.2,
    }

    async def make_context(self, urls: Mapping[str, str]) -> ConnectorContext:
        # the runtime's AuthenticationManager knows plugin schemes (etrade_oauth1 comes from the plugin hook)
        scheme = self.spec.auth_scheme()
        assert scheme is not None
        secrets = {k: SecretStr(v) for k, v in self.credentials.items()}
        manager = AuthenticationManager(vault=None, audit=None, plugins=PluginManager())
        auth = manager.build(
            self.spec.name, scheme.scheme, secrets, resolve_url_templates(dict(scheme.options), dict(urls))
        )
        return ConnectorContext.for_testing(
            self.connector_class,
            urls=urls,
            connection=dict(self.connection),
            credentials=secrets,
            auth_scheme=scheme.scheme,
            auth=auth,
        )
