"""The IEX Cloud plugin: hook implementations only (a retired manifest, so its name is refused honestly)."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The retired IEX Cloud connector: its manifest now, the class (which refuses to build) on first use."""
    from portico.connectors.iex_cloud.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.iex_cloud.connector:IexCloudConnector")]
