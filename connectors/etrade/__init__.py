"""The E*TRADE connector: accounts, balances, portfolio, transactions, equity orders (preview then
place) and quotes, with OAuth 1.0a and E*TRADE's token lifecycle.

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.etrade.connector import EtradeConnector
    from portico.connectors.etrade.spec import SPEC

__all__ = [
    "SPEC",
    "EtradeConnector",
]

_LAZY: dict[str, tuple[str, str]] = {
    "EtradeConnector": ("portico.connectors.etrade.connector", "EtradeConnector"),
    "SPEC": ("portico.connectors.etrade.spec", "SPEC"),
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
