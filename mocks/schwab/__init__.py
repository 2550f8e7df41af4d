"""The Schwab mock: the OAuth endpoints, Trader API v1 and Market Data v1 over the kit's simulated
venue. ``create_app(seed=0, faults=None)`` returns the ASGI app."""

from __future__ import annotations

from portico.mocks.schwab._app import ORDER_LIMIT_PER_MINUTE, PUBLIC_ORIGIN, SchwabMockApp, create_app

__all__ = ["ORDER_LIMIT_PER_MINUTE", "PUBLIC_ORIGIN", "SchwabMockApp", "create_app"]
