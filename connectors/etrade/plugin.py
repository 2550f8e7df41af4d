"""The E*TRADE plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The E*TRADE connector: its manifest now, the class imported on first use."""
    from portico.connectors.etrade.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.etrade.connector:EtradeConnector")]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """``etrade_oauth1``: OAuth 1.0a with E*TRADE's renew, idle and midnight-ET token lifecycle."""
    from portico.connectors.etrade.auth import SCHEME_NAME, EtradeOAuth1Scheme

    return {SCHEME_NAME: EtradeOAuth1Scheme}
