"""Charles Schwab: Trader API v1 and Market Data v1, with Schwab's OAuth 2 sign-in (TD Ameritrade's successor).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.schwab.auth import SchwabAuth
    from portico.connectors.schwab.connector import SchwabConnector
    from portico.connectors.schwab.spec import SPEC

__all__ = [
    "SPEC",
    "SchwabAuth",
    "SchwabConnector",
]

_LAZY: dict[str, tuple[str, str]] = {
    "SchwabAuth": ("portico.connectors.schwab.auth", "SchwabAuth"),
    "SchwabConnector": ("portico.connectors.schwab.connector", "SchwabConnector"),
    "SPEC": ("portico.connectors.schwab.spec", "SPEC"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
