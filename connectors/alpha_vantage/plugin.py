"""The Alpha Vantage plugin: hook implementations only."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Alpha Vantage connector."""
    from portico.connectors.alpha_vantage.connector import AlphaVantageConnector

    return [AlphaVantageConnector]
