"""The Polygon (Massive) plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Polygon (Massive) connector."""
    from portico.connectors.polygon.connector import PolygonConnector

    return [PolygonConnector]
