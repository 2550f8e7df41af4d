"""The Schwab plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Schwab connector."""
    from portico.connectors.schwab.connector import SchwabConnector

    return [SchwabConnector]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """Schwab's OAuth 2 authorization code scheme (https callback, 7-day refresh token)."""
    from portico.connectors.schwab.auth import SchwabAuth
    from portico.connectors.schwab.spec import AUTH_SCHEME

    return {AUTH_SCHEME: SchwabAuth}
