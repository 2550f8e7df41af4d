"""The TD Ameritrade plugin: hook implementations only (a retired manifest, so its name is refused honestly)."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The retired TD Ameritrade connector: its manifest now, the class (which refuses to build) on first use."""
    from portico.connectors.td_ameritrade.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.td_ameritrade.connector:TdAmeritradeConnector")]
