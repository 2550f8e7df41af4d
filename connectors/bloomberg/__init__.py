"""Bloomberg Data License REST: reference data, history, quotes, fundamentals and FX (data service connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.bloomberg.connector import BloombergConnector, FxRates
    from portico.connectors.bloomberg.spec import SPEC, BloombergConnection

__all__ = [
    "SPEC",
    "BloombergConnection",
    "BloombergConnector",
    "FxRates",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BloombergConnector": "portico.connectors.bloomberg.connector",
        "FxRates": "portico.connectors.bloomberg.connector",
        "SPEC": "portico.connectors.bloomberg.spec",
        "BloombergConnection": "portico.connectors.bloomberg.spec",
    },
    __all__,
)
