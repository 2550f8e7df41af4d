"""The Bloomberg plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Bloomberg Data License connector."""
    from portico.connectors.bloomberg.connector import BloombergConnector

    return [BloombergConnector]
