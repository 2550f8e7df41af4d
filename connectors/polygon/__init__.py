"""Polygon.io, now Massive (alias ``massive``): US stocks aggregates, trades, quotes, snapshots, reference
data and the real-time stream (market data connector)."""

from __future__ import annotations

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
