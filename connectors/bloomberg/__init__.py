"""Bloomberg Data License REST: reference data, history, quotes, fundamentals and FX (data service connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.bloomberg.connector import BloombergConnector, FxRates
    from portico.connectors.bloomberg.spec import SPEC, BloombergConnection

__all__ = [
    "SPEC",
    "BloombergConnection",
    "BloombergConnector",
    "FxRates",
]

_LAZY: dict[str, tuple[str, str]] = {
    "BloombergConnector": ("portico.connectors.bloomberg.connector", "BloombergConnector"),
    "FxRates": ("portico.connectors.bloomberg.connector", "FxRates"),
    "SPEC": ("portico.connectors.bloomberg.spec", "SPEC"),
    "BloombergConnection": ("portico.connectors.bloomberg.spec", "BloombergConnection"),
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
