"""The Yahoo Finance plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The Yahoo Finance connector: its manifest now, the class imported on first use."""
    from portico.connectors.yahoo_finance.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.yahoo_finance.connector:YahooFinanceConnector")]
