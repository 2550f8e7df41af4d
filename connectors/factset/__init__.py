"""FactSet: the Prices API (prices, returns, dividends, splits, shares, market value, references), batch
requests, HTTP Basic or OAuth 2.0 private_key_jwt (data service and market data connector).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "OAUTH_SCHEME": "portico.connectors.factset.auth:SCHEME",
        "FactSetPrivateKeyJwtAuth": "portico.connectors.factset.auth",
        "FactSetConnector": "portico.connectors.factset.connector",
        "PeriodReturn": "portico.connectors.factset.mapping",
        "SPEC": "portico.connectors.factset.spec",
        "FactSetConnection": "portico.connectors.factset.spec",
    },
    __all__,
)
