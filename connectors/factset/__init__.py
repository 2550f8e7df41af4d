"""FactSet: the Prices API (prices, returns, dividends, splits, shares, market value, references), batch
requests, HTTP Basic or OAuth 2.0 private_key_jwt (data service and market data connector)."""

from __future__ import annotations

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
