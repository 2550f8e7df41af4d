"""The FactSet plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The FactSet connector."""
    from portico.connectors.factset.connector import FactSetConnector

    return [FactSetConnector]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """FactSet's OAuth 2.0 client credentials with a private_key_jwt client assertion."""
    from portico.connectors.factset.auth import SCHEME, factset_private_key_jwt

    return {SCHEME: factset_private_key_jwt}
