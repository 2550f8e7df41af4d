"""The conformance suite against the E*TRADE mock, signed with OAuth 1.0a through the AuthenticationManager."""

from __future__ import annotations

from portico.connectors.etrade import EtradeConnector
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
    # no make_context override: the suite builds its auth with the installed plugins, etrade_oauth1 included
