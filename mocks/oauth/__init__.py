"""The mock authorization server (OAuth 2.0, OAuth 1.0a, JWKS, HMAC echo), served by ``portico mock oauth``.

The server loads on first use: importing this package's ``plugin`` module (plugin discovery does) does
not start the mock kit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.mocks.oauth._server import DEFAULT_CLIENTS, MockAuthServer, create_app

__all__ = ["DEFAULT_CLIENTS", "MockAuthServer", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("portico.mocks.oauth._server"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'portico.mocks.oauth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
