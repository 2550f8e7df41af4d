"""The Alpaca plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Alpaca connector."""
    from portico.connectors.alpaca.connector import AlpacaConnector

    return [AlpacaConnector]
