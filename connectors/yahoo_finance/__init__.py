"""Yahoo Finance: bars, quotes, company figures, dividends, splits and search (unofficial; research use).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.yahoo_finance.connector import YahooFinanceConnector
    from portico.connectors.yahoo_finance.spec import SPEC, TERMS_NOTICE, rate_limit_policy

__all__ = [
    "SPEC",
    "TERMS_NOTICE",
    "YahooFinanceConnector",
    "rate_limit_policy",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "YahooFinanceConnector": "portico.connectors.yahoo_finance.connector",
        "SPEC": "portico.connectors.yahoo_finance.spec",
        "TERMS_NOTICE": "portico.connectors.yahoo_finance.spec",
        "rate_limit_policy": "portico.connectors.yahoo_finance.spec",
    },
    __all__,
)
