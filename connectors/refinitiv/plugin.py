"""The Refinitiv plugin: hook implementations only."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.sdk import Connector


@hookimpl
def portico_connectors() -> list[type[Connector]]:
    """The Refinitiv (LSEG Data Platform) connector."""
    from portico.connectors.refinitiv.connector import RefinitivConnector

    return [RefinitivConnector]


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """LSEG's v1 password grant (``refinitiv_password``)."""
    from portico.connectors.refinitiv.auth import SCHEME, RefinitivPasswordAuth

    return {SCHEME: RefinitivPasswordAuth}
