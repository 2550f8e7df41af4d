"""The Polygon.io (now Massive) mock: the stocks REST API and WebSocket in the vendor's wire format.

``create_app(seed=0, faults=None, **options)`` returns the ASGI app; ``massive.RESTClient(base=...)`` and
``massive.WebSocketClient(feed=..., secure=False)`` work against it unchanged.
"""

from __future__ import annotations

from portico.mocks.polygon._app import TIMESPANS, PolygonMock, create_app
from portico.mocks.polygon._plans import DEFAULT_PLANS, FEATURES, Plan
from portico.mocks.polygon._stream import CHANNELS, PolygonStream
from portico.mocks.polygon._universe import DEFAULT_TICKERS, EXCHANGE_IDS, TickerInfo

__all__ = [
    "CHANNELS",
    "DEFAULT_PLANS",
    "DEFAULT_TICKERS",
    "EXCHANGE_IDS",
    "FEATURES",
    "TIMESPANS",
    "Plan",
    "PolygonMock",
    "PolygonStream",
    "TickerInfo",
    "create_app",
]
