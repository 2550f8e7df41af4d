"""The conformance suite against the Schwab mock, signed in through Schwab's OAuth flow on the mock."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.connectors.schwab import SPEC, SchwabAuth, SchwabConnector
from portico.connectors.schwab.spec import AUTH_SCHEME
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.testing.conformance import ConnectorConformance
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK


class TestSchwabConformance(ConnectorConformance):
    connector_class = SchwabConnector
    credentials = {"client_id": APP_KEY, "client_secret": APP_SECRET}

    async def make_context(self, urls: Mapping[str, str]) -> ConnectorContext:
        manager = AuthenticationManager()
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
            SchwabConnector, urls=urls, credentials=credentials, auth_scheme=AUTH_SCHEME, auth=auth
        )
