"""The shared conformance suite, generated from the Bloomberg manifest, against its mock."""

from __future__ import annotations

from portico.connectors.bloomberg import BloombergConnector
from portico.testing.conformance import ConnectorConformance


class TestBloombergConformance(ConnectorConformance):
    connector_class = BloombergConnector
    # the mock's default application (its credential file's client id and secret)
    credentials = {"client_id": "portico-mock-client", "client_secret": "portico-mock-secret"}
    connection = {"poll_interval": 1.0}
    symbol = "AAPL"
