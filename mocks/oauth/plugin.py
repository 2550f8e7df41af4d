"""Plugin hooks: provides the mock authorization server to ``portico mock oauth``."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl

__all__ = ["portico_mock_apps"]


@hookimpl
def portico_mock_apps() -> list[Any]:
    """The mock OAuth server, which belongs to no single connector."""
    from portico.mocks._descriptor import MockServer

    return [
        MockServer(
            name="oauth",
            app="portico.mocks.oauth:create_app",
            url_keys={"base": "", "token": "/token", "authorize": "/authorize"},
            description="OAuth 2.0 (code+PKCE, client credentials, refresh rotation, JWT bearer), OAuth 1.0a, HMAC echo",
        )
    ]
