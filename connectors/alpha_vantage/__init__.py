"""Alpha Vantage: equity time series, quotes, search, fundamentals and FX (market data connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.alpha_vantage.connector import AlphaVantageConnector
    from portico.connectors.alpha_vantage.spec import SPEC, TIERS, rate_limit_policy

__all__ = [
    "SPEC",
    "TIERS",
    "AlphaVantageConnector",
    "rate_limit_policy",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AlphaVantageConnector": "portico.connectors.alpha_vantage.connector",
        "SPEC": "portico.connectors.alpha_vantage.spec",
        "TIERS": "portico.connectors.alpha_vantage.spec",
        "rate_limit_policy": "portico.connectors.alpha_vantage.spec",
    },
    __all__,
)
