"""The shared conformance suite, generated from the Polygon (Massive) manifest, against its mock."""

from __future__ import annotations

from portico.connectors.polygon import PolygonConnector
from portico.testing.conformance import ConnectorConformance


class TestPolygonConformance(ConnectorConformance):
    connector_class = PolygonConnector
    credentials = {"api_key": "conformance-key"}
    connection = {"plan": "advanced"}
    symbol = "AAPL"
