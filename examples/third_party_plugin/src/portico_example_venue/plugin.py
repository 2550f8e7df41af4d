"""Hook implementations of the Example Venue plugin."""

from __future__ import annotations

from portico import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    from portico_example_venue.connector import ExampleVenueConnector

    return [ExampleVenueConnector]
