"""The Yahoo Finance plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Yahoo Finance connector."""
    from portico.connectors.yahoo_finance.connector import YahooFinanceConnector

    return [YahooFinanceConnector]
