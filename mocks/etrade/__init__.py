"""The E*TRADE mock: OAuth 1.0a (signatures verified, idle and midnight-ET token expiry, renew and
revoke), the Accounts, Market (quotes) and Order APIs in JSON and XML, over the kit's simulated venue.
``create_app(seed=0, faults=None)`` returns the ASGI app."""

from __future__ import annotations

from portico.mocks.etrade._app import PUBLISHED_RATE_LIMITS, URL_KEYS, EtradeMockApp, create_app
from portico.mocks.etrade._oauth import (
    DEFAULT_ACCESS_TOKENS,
    DEFAULT_CONSUMERS,
    IDLE_LIMIT,
    next_midnight_eastern,
)

__all__ = [
    "DEFAULT_ACCESS_TOKENS",
    "DEFAULT_CONSUMERS",
    "IDLE_LIMIT",
    "PUBLISHED_RATE_LIMITS",
    "URL_KEYS",
    "EtradeMockApp",
    "create_app",
    "next_midnight_eastern",
]
