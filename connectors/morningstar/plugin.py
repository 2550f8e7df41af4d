"""The Morningstar plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Morningstar connector."""
    from portico.connectors.morningstar.connector import MorningstarConnector

    return [MorningstarConnector]
