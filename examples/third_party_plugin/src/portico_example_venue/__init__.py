"""An example third-party portico plugin: the Example Venue market data connector and its mock."""

from __future__ import annotations

from portico_example_venue.connector import ExampleVenueConnector

__all__ = ["ExampleVenueConnector"]
