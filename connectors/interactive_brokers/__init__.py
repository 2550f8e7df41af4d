"""Interactive Brokers: TWS / IB Gateway (socket API via ib_async) or the Client Portal Web API.

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.interactive_brokers.connector import InteractiveBrokersConnector, select_transport
    from portico.connectors.interactive_brokers.spec import SPEC, TRANSPORT_CAPABILITIES, transport_spec

__all__ = [
    "SPEC",
    "TRANSPORT_CAPABILITIES",
    "InteractiveBrokersConnector",
    "select_transport",
    "transport_spec",
]

_LAZY: dict[str, tuple[str, str]] = {
    "InteractiveBrokersConnector": (
        "portico.connectors.interactive_brokers.connector",
        "InteractiveBrokersConnector",
    ),
    "select_transport": ("portico.connectors.interactive_brokers.connector", "select_transport"),
    "SPEC": ("portico.connectors.interactive_brokers.spec", "SPEC"),
    "TRANSPORT_CAPABILITIES": ("portico.connectors.interactive_brokers.spec", "TRANSPORT_CAPABILITIES"),
    "transport_spec": ("portico.connectors.interactive_brokers.spec", "transport_spec"),
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
