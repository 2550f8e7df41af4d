"""Plugin hooks of the built-in FIX 4.4 connector (loaded through the ``portico.plugins`` entry point)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

__all__ = ["portico_auth_schemes", "portico_connectors"]


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The FIX connector: its manifest now, the class imported on first use."""
    from portico.connectors.fix.spec import SPEC

    return [ConnectorRef(SPEC, "portico.connectors.fix.connector:FixConnector")]


def _fix_logon(
    ctx: Any, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]
) -> httpx.Auth:
    """The credentials travel in the Logon message, not in HTTP: registered as secrets, no HTTP auth."""
    from portico.auth import NoAuth, known_secrets

    known_secrets.register(*credentials.values())
    return NoAuth(ctx)


@hookimpl
def portico_auth_schemes() -> dict[str, Any]:
    """``fix_logon``: username and password carried in the FIX Logon (553/554)."""
    return {"fix_logon": _fix_logon}
