"""The shared conformance suite, generated from the Yahoo Finance manifest, against its mock."""

from __future__ import annotations

from portico.connectors.yahoo_finance import YahooFinanceConnector
from portico.testing.conformance import ConnectorConformance


class TestYahooFinanceConformance(ConnectorConformance):
    connector_class = YahooFinanceConnector
    connection = {"requests_per_minute": 120}
    symbol = "AAPL"
