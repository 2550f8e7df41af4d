"""FIX 4.4: order routing to any FIX counterparty over a QuickFIX initiator session (extra ``portico[fix]``).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.fix.connector import FixConnector
    from portico.connectors.fix.spec import SPEC, FixConnection

__all__ = [
    "SPEC",
    "FixConnection",
    "FixConnector",
]

_LAZY: dict[str, tuple[str, str]] = {
    "FixConnector": ("portico.connectors.fix.connector", "FixConnector"),
    "SPEC": ("portico.connectors.fix.spec", "SPEC"),
    "FixConnection": ("portico.connectors.fix.spec", "FixConnection"),
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
