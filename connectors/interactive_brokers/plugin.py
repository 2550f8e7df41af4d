"""Plugin hooks of the built-in Interactive Brokers connector (loaded through the ``portico.plugins`` entry point)."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector

__all__ = ["portico_connectors"]


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Interactive Brokers connector (both transports)."""
    from portico.connectors.interactive_brokers.connector import InteractiveBrokersConnector

    return [InteractiveBrokersConnector]
