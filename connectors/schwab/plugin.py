"""The Schwab plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The Schwab connector: its manifest now, the class imported on first use."""
    from portico.connectors.schwab.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.schwab.connector:SchwabConnector")]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """Schwab's OAuth 2 authorization code scheme (https callback, 7-day refresh token)."""
    from portico.connectors.schwab.auth import SchwabAuth
    from portico.connectors.schwab.spec import AUTH_SCHEME

    return {AUTH_SCHEME: SchwabAuth}
