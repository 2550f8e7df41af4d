"""The Polygon (Massive) plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The Polygon (Massive) connector: its manifest now, the class imported on first use."""
    from portico.connectors.polygon.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.polygon.connector:PolygonConnector")]
