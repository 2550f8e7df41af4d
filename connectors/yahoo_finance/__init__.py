"""Yahoo Finance: bars, quotes, company figures, dividends, splits and search (unofficial; research use).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.connectors.yahoo_finance.connector import YahooFinanceConnector
    from portico.connectors.yahoo_finance.spec import SPEC, TERMS_NOTICE, rate_limit_policy

__all__ = [
    "SPEC",
    "TERMS_NOTICE",
    "YahooFinanceConnector",
    "rate_limit_policy",
]

_LAZY: dict[str, tuple[str, str]] = {
    "YahooFinanceConnector": ("portico.connectors.yahoo_finance.connector", "YahooFinanceConnector"),
    "SPEC": ("portico.connectors.yahoo_finance.spec", "SPEC"),
    "TERMS_NOTICE": ("portico.connectors.yahoo_finance.spec", "TERMS_NOTICE"),
    "rate_limit_policy": ("portico.connectors.yahoo_finance.spec", "rate_limit_policy"),
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
