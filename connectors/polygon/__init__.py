"""Polygon.io, now Massive (alias ``massive``): US stocks aggregates, trades, quotes, snapshots, reference
data and the real-time stream (market data connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.polygon.connector import MarketStatus, PolygonConnector
    from portico.connectors.polygon.spec import ALIASES, PLAN_FEATURES, PLANS, SPEC, rate_limit_policy

__all__ = [
    "ALIASES",
    "PLANS",
    "PLAN_FEATURES",
    "SPEC",
    "MarketStatus",
    "PolygonConnector",
    "rate_limit_policy",
]

_LAZY: dict[str, tuple[str, str]] = {
    "MarketStatus": ("portico.connectors.polygon.connector", "MarketStatus"),
    "PolygonConnector": ("portico.connectors.polygon.connector", "PolygonConnector"),
    "ALIASES": ("portico.connectors.polygon.spec", "ALIASES"),
    "PLAN_FEATURES": ("portico.connectors.polygon.spec", "PLAN_FEATURES"),
    "PLANS": ("portico.connectors.polygon.spec", "PLANS"),
    "SPEC": ("portico.connectors.polygon.spec", "SPEC"),
    "rate_limit_policy": ("portico.connectors.polygon.spec", "rate_limit_policy"),
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
