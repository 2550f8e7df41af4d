"""Morningstar Direct: fund and ETF data points, total returns and holdings (data service connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY: dict[str, tuple[str, str]] = {
    "MorningstarConnector": ("portico.connectors.morningstar.connector", "MorningstarConnector"),
    "FundHolding": ("portico.connectors.morningstar.models", "FundHolding"),
    "FundProfile": ("portico.connectors.morningstar.models", "FundProfile"),
    "ReturnFrequency": ("portico.connectors.morningstar.models", "ReturnFrequency"),
    "ReturnObservation": ("portico.connectors.morningstar.models", "ReturnObservation"),
    "RATE_LIMIT_POLICY": ("portico.connectors.morningstar.spec", "RATE_LIMIT_POLICY"),
    "SPEC": ("portico.connectors.morningstar.spec", "SPEC"),
    "MorningstarConnection": ("portico.connectors.morningstar.spec", "MorningstarConnection"),
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
