"""The example plugin runs portico's conformance suite against its own mock: a few lines, nothing more."""

from __future__ import annotations

from portico.testing.conformance import ConnectorConformance

from portico_example_venue import ExampleVenueConnector


class TestExampleVenue(ConnectorConformance):
    connector_class = ExampleVenueConnector
    credentials = {"api_key": "test-key"}
