"""Alpha Vantage: equity time series, quotes, search, fundamentals and FX (market data connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.alpha_vantage.connector import AlphaVantageConnector
    from portico.connectors.alpha_vantage.spec import SPEC, TIERS, rate_limit_policy

__all__ = [
    "SPEC",
    "TIERS",
    "AlphaVantageConnector",
    "rate_limit_policy",
]

_LAZY: dict[str, tuple[str, str]] = {
    "AlphaVantageConnector": ("portico.connectors.alpha_vantage.connector", "AlphaVantageConnector"),
    "SPEC": ("portico.connectors.alpha_vantage.spec", "SPEC"),
    "TIERS": ("portico.connectors.alpha_vantage.spec", "TIERS"),
    "rate_limit_policy": ("portico.connectors.alpha_vantage.spec", "rate_limit_policy"),
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
