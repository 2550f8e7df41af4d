"""The Bloomberg Data License REST mock: OAuth 2 client credentials, ``/eap`` catalogs, requests, content
responses, downloads and the notification stream.

``create_app(seed=0, faults=None, **options)`` returns the ASGI app. Bloomberg publishes no Python client
for DL REST, only samples built on requests-oauthlib; those work against the mock once their host and token
URL constants point at it.
"""

from __future__ import annotations

from portico.mocks.bloomberg._app import ACCOUNT_CATALOG, TOKEN_PATH, BloombergMock, create_app, jsonapi_error
from portico.mocks.bloomberg._data import DATA_FIELDS, EQUITY_IDS, HISTORY_FIELDS, RC_UNKNOWN_SECURITY

__all__ = [
    "ACCOUNT_CATALOG",
    "DATA_FIELDS",
    "EQUITY_IDS",
    "HISTORY_FIELDS",
    "RC_UNKNOWN_SECURITY",
    "TOKEN_PATH",
    "BloombergMock",
    "create_app",
    "jsonapi_error",
]
