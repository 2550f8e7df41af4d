"""Refinitiv / LSEG Data Platform: historical pricing, pricing snapshots, FX spot rates, datagrid fields, search
and streaming quotes.

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.refinitiv.auth import SCHEME, RefinitivPasswordAuth
    from portico.connectors.refinitiv.connector import FxRates, RefinitivConnector
    from portico.connectors.refinitiv.spec import SPEC, THROTTLING, RefinitivConnection

__all__ = [
    "SCHEME",
    "SPEC",
    "THROTTLING",
    "FxRates",
    "RefinitivConnection",
    "RefinitivConnector",
    "RefinitivPasswordAuth",
]

_LAZY: dict[str, tuple[str, str]] = {
    "SCHEME": ("portico.connectors.refinitiv.auth", "SCHEME"),
    "RefinitivPasswordAuth": ("portico.connectors.refinitiv.auth", "RefinitivPasswordAuth"),
    "FxRates": ("portico.connectors.refinitiv.connector", "FxRates"),
    "RefinitivConnector": ("portico.connectors.refinitiv.connector", "RefinitivConnector"),
    "SPEC": ("portico.connectors.refinitiv.spec", "SPEC"),
    "THROTTLING": ("portico.connectors.refinitiv.spec", "THROTTLING"),
    "RefinitivConnection": ("portico.connectors.refinitiv.spec", "RefinitivConnection"),
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
