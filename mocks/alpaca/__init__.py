"""The Alpaca mock: Trading API v2, Market Data v2, trade updates and market data streams over the
kit's simulated venue. ``create_app(seed=0, faults=None)`` returns the ASGI app."""

from __future__ import annotations

from portico.mocks.alpaca._app import RATE_LIMIT_PER_MINUTE, AlpacaMockApp, create_app

__all__ = ["RATE_LIMIT_PER_MINUTE", "AlpacaMockApp", "create_app"]
