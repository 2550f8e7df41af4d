"""The example plugin runs portico's conformance suite against its own mock: a few lines, nothing more."""

from __future__ import annotations

from portico_example_venue import ExampleVenueConnector

from portico.testing.conformance import ConnectorConformance


class TestExampleVenue(ConnectorConformance):
    connector_class = ExampleVenueConnector
    credentials = {"api_key": "test-key"}
