"""Refinitiv / LSEG Data Platform: historical pricing, pricing snapshots, FX spot rates, datagrid fields, search
and streaming quotes.

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.refinitiv.auth import SCHEME, RefinitivPasswordAuth
    from portico.connectors.refinitiv.connector import FxRates, RefinitivConnector
    from portico.connectors.refinitiv.spec import SPEC, THROTTLING, RefinitivConnection

__all__ = [
    "SCHEME",
    "SPEC",
    "THROTTLING",
    "FxRates",
    "RefinitivConnection",
    "RefinitivConnector",
    "RefinitivPasswordAuth",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "SCHEME": "portico.connectors.refinitiv.auth",
        "RefinitivPasswordAuth": "portico.connectors.refinitiv.auth",
        "FxRates": "portico.connectors.refinitiv.connector",
        "RefinitivConnector": "portico.connectors.refinitiv.connector",
        "SPEC": "portico.connectors.refinitiv.spec",
        "THROTTLING": "portico.connectors.refinitiv.spec",
        "RefinitivConnection": "portico.connectors.refinitiv.spec",
    },
    __all__,
)
