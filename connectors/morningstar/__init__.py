"""Morningstar Direct: fund and ETF data points, total returns and holdings (data service connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.morningstar.connector import MorningstarConnector
    from portico.connectors.morningstar.models import (
        FundHolding,
        FundProfile,
        ReturnFrequency,
        ReturnObservation,
    )
    from portico.connectors.morningstar.spec import RATE_LIMIT_POLICY, SPEC, MorningstarConnection

__all__ = [
    "RATE_LIMIT_POLICY",
    "SPEC",
    "FundHolding",
    "FundProfile",
    "MorningstarConnection",
    "MorningstarConnector",
    "ReturnFrequency",
    "ReturnObservation",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MorningstarConnector": "portico.connectors.morningstar.connector",
        "FundHolding": "portico.connectors.morningstar.models",
        "FundProfile": "portico.connectors.morningstar.models",
        "ReturnFrequency": "portico.connectors.morningstar.models",
        "ReturnObservation": "portico.connectors.morningstar.models",
        "RATE_LIMIT_POLICY": "portico.connectors.morningstar.spec",
        "SPEC": "portico.connectors.morningstar.spec",
        "MorningstarConnection": "portico.connectors.morningstar.spec",
    },
    __all__,
)
