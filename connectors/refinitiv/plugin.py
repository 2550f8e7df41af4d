"""The Refinitiv plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The Refinitiv (LSEG Data Platform) connector: its manifest now, the class imported on first use."""
    from portico.connectors.refinitiv.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.refinitiv.connector:RefinitivConnector")]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """LSEG's v1 password grant (``refinitiv_password``)."""
    from portico.connectors.refinitiv.auth import SCHEME, RefinitivPasswordAuth

    return {SCHEME: RefinitivPasswordAuth}
