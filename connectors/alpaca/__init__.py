"""Alpaca: the reference connector (Trading API v2 and Market Data API v2, with both streams).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.alpaca.connector import AlpacaConnector
    from portico.connectors.alpaca.spec import SPEC

__all__ = [
    "SPEC",
    "AlpacaConnector",
]

_LAZY: dict[str, tuple[str, str]] = {
    "AlpacaConnector": ("portico.connectors.alpaca.connector", "AlpacaConnector"),
    "SPEC": ("portico.connectors.alpaca.spec", "SPEC"),
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
