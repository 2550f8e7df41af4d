"""FactSet: the Prices API (prices, returns, dividends, splits, shares, market value, references), batch
requests, HTTP Basic or OAuth 2.0 private_key_jwt (data service and market data connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.factset.auth import SCHEME as OAUTH_SCHEME
    from portico.connectors.factset.auth import FactSetPrivateKeyJwtAuth
    from portico.connectors.factset.connector import FactSetConnector
    from portico.connectors.factset.mapping import PeriodReturn
    from portico.connectors.factset.spec import SPEC, FactSetConnection

__all__ = [
    "OAUTH_SCHEME",
    "SPEC",
    "FactSetConnection",
    "FactSetConnector",
    "FactSetPrivateKeyJwtAuth",
    "PeriodReturn",
]

_LAZY: dict[str, tuple[str, str]] = {
    "OAUTH_SCHEME": ("portico.connectors.factset.auth", "SCHEME"),
    "FactSetPrivateKeyJwtAuth": ("portico.connectors.factset.auth", "FactSetPrivateKeyJwtAuth"),
    "FactSetConnector": ("portico.connectors.factset.connector", "FactSetConnector"),
    "PeriodReturn": ("portico.connectors.factset.mapping", "PeriodReturn"),
    "SPEC": ("portico.connectors.factset.spec", "SPEC"),
    "FactSetConnection": ("portico.connectors.factset.spec", "FactSetConnection"),
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
