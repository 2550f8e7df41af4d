"""The shared conformance suite, generated from the FactSet manifest, against its mock (HTTP Basic)."""

from __future__ import annotations

from portico.connectors.factset import FactSetConnector
from portico.testing.conformance import ConnectorConformance


class TestFactSetConformance(ConnectorConformance):
    connector_class = FactSetConnector
    # the mock's built-in account (USERNAME-SERIAL and API key)
    credentials = {"username": "PORTICO-123456", "password": "mock-api-key"}
    symbol = "AAPL"
