"""The mock authorization server (OAuth 2.0, OAuth 1.0a, JWKS, HMAC echo), served by ``portico mock oauth``."""

from __future__ import annotations

from portico.mocks.oauth._server import DEFAULT_CLIENTS, MockAuthServer, create_app

__all__ = ["DEFAULT_CLIENTS", "MockAuthServer", "create_app"]
