"""The E*TRADE plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The E*TRADE connector."""
    from portico.connectors.etrade.connector import EtradeConnector

    return [EtradeConnector]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """``etrade_oauth1``: OAuth 1.0a with E*TRADE's renew, idle and midnight-ET token lifecycle."""
    from portico.connectors.etrade.auth import SCHEME_NAME, EtradeOAuth1Scheme

    return {SCHEME_NAME: EtradeOAuth1Scheme}
