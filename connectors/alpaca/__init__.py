"""Alpaca: the reference connector (Trading API v2 and Market Data API v2, with both streams).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.alpaca.connector import AlpacaConnector
    from portico.connectors.alpaca.spec import SPEC

__all__ = [
    "SPEC",
    "AlpacaConnector",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AlpacaConnector": "portico.connectors.alpaca.connector",
        "SPEC": "portico.connectors.alpaca.spec",
    },
    __all__,
)
