"""The E*TRADE connector: accounts, balances, portfolio, transactions, equity orders (preview then
place) and quotes, with OAuth 1.0a and E*TRADE's token lifecycle.

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.etrade.connector import EtradeConnector
    from portico.connectors.etrade.spec import SPEC

__all__ = [
    "SPEC",
    "EtradeConnector",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EtradeConnector": "portico.connectors.etrade.connector",
        "SPEC": "portico.connectors.etrade.spec",
    },
    __all__,
)
