"""Polygon.io, now Massive (alias ``massive``): US stocks aggregates, trades, quotes, snapshots, reference
data and the real-time stream (market data connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MarketStatus": "portico.connectors.polygon.connector",
        "PolygonConnector": "portico.connectors.polygon.connector",
        "ALIASES": "portico.connectors.polygon.spec",
        "PLAN_FEATURES": "portico.connectors.polygon.spec",
        "PLANS": "portico.connectors.polygon.spec",
        "SPEC": "portico.connectors.polygon.spec",
        "rate_limit_policy": "portico.connectors.polygon.spec",
    },
    __all__,
)
