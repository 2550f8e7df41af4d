"""The conformance suite against the Alpaca mock."""

from __future__ import annotations

from portico.connectors.alpaca import AlpacaConnector
from portico.testing.conformance import ConnectorConformance


class TestAlpacaConformance(ConnectorConformance):
    connector_class = AlpacaConnector
    credentials = {"api_key_id": "PKTEST", "api_secret_key": "secret"}
