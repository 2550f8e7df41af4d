"""The shared conformance suite, generated from the Alpha Vantage manifest, against its mock."""

from __future__ import annotations

from portico.connectors.alpha_vantage import AlphaVantageConnector
from portico.testing.conformance import ConnectorConformance


class TestAlphaVantageConformance(ConnectorConformance):
    connector_class = AlphaVantageConnector
    credentials = {"api_key": "conformance-key"}
    connection = {"tier": "premium_75"}
    symbol = "AAPL"
