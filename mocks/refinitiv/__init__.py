"""The LSEG Data Platform (Refinitiv RDP) mock: OAuth v1/v2 token service, historical pricing, pricing
snapshots, the datagrid, discovery search and streaming pricing (OMM over WebSocket).

``create_app(seed=0, faults=None, **options)`` returns the ASGI app; LSEG's own ``lseg-data`` library works
against it unchanged, pointed at it by its config file's ``sessions.platform.<name>.base-url``.
"""

from __future__ import annotations

from portico.mocks.refinitiv._app import HP_PREFIX, RefinitivMock, create_app, gateway_error
from portico.mocks.refinitiv._auth import DEFAULT_SCOPE, TokenService, oauth_error
from portico.mocks.refinitiv._data import EQUITIES, USD_BASED, Equity, FxRic, PriceBook, parse_fx_ric

__all__ = [
    "DEFAULT_SCOPE",
    "EQUITIES",
    "HP_PREFIX",
    "USD_BASED",
    "Equity",
    "FxRic",
    "PriceBook",
    "RefinitivMock",
    "TokenService",
    "create_app",
    "gateway_error",
    "oauth_error",
    "parse_fx_ric",
]
