"""The shared conformance suite, generated from the Refinitiv manifest, against its mock over TCP.

The manifest's first auth scheme (``refinitiv_password``) comes from the plugin's ``portico_auth_schemes``
hook, so the context is built by an AuthenticationManager that loads the plugin, as the runtime does.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.connectors.refinitiv import RefinitivConnector
from portico.connectors.refinitiv import plugin as refinitiv_plugin
from portico.plugins import PluginManager
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.testing.conformance import ConnectorConformance


class TestRefinitivConformance(ConnectorConformance):
    connector_class = RefinitivConnector
    credentials = {"app_key": "portico-app-key", "username": "portico-user", "password": "portico-password"}
    symbol = "AAPL.O"

    async def make_context(self, urls: Mapping[str, str]) -> ConnectorContext:
        plugins = PluginManager(autoload=False)
        plugins.register(refinitiv_plugin, name="refinitiv")
        scheme = self.spec.auth_scheme()
        assert scheme is not None
        options = resolve_url_templates(dict(scheme.options), dict(urls))
        credentials = {k: SecretStr(v) for k, v in self.credentials.items()}
        auth = AuthenticationManager(plugins=plugins).build(
            self.spec.name, scheme.scheme, credentials, options
        )
        return ConnectorContext.for_testing(
            self.connector_class, urls=urls, credentials=credentials, auth_scheme=scheme.scheme, auth=auth
        )
