"""The FactSet plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The FactSet connector: its manifest now, the class imported on first use."""
    from portico.connectors.factset.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.factset.connector:FactSetConnector")]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """FactSet's OAuth 2.0 client credentials with a private_key_jwt client assertion."""
    from portico.connectors.factset.auth import SCHEME, factset_private_key_jwt

    return {SCHEME: factset_private_key_jwt}
