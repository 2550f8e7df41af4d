"""The resilient HTTP layer: API client, rate limiter, circuit breaker, GraphQL and WebSocket clients.

The aiohttp transport, the WebSocket client and the Redis backend load on first use, so importing
``portico.http`` does not pay for aiohttp, websockets or redis until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from portico.http._breaker import BreakerListener, BreakerState, CircuitBreaker
from portico.http._client import ApiClient, TransportChoice
from portico.http._error_map import ErrorMapper, default_error_for
from portico.http._graphql import GraphQLClient, GraphQLErrorMapper, GraphQLResult, graphql_error
from portico.http._meter import CallMeter
from portico.http._ratelimit import (
    MemoryRateLimitBackend,
    RateLimitBackend,
    RateLimiter,
    RateLimiterRegistry,
    credential_fingerprint,
)
from portico.http._records import CallObserver, CallOutcome, CallRecord
from portico.http._retry import backoff_delay, parse_retry_after
from portico.http._timeouts import Timeouts

if TYPE_CHECKING:
    from portico.http._feed import StreamFeed
    from portico.http._ratelimit_redis import RedisRateLimitBackend
    from portico.http._transport import AiohttpTransport
    from portico.http._websocket import Overflow, WebSocketClient, WebSocketState

_LAZY: dict[str, str] = {
    "AiohttpTransport": "portico.http._transport",
    "RedisRateLimitBackend": "portico.http._ratelimit_redis",
    "StreamFeed": "portico.http._feed",
    "Overflow": "portico.http._websocket",
    "WebSocketClient": "portico.http._websocket",
    "WebSocketState": "portico.http._websocket",
}

__all__ = [
    "AiohttpTransport",
    "ApiClient",
    "BreakerListener",
    "BreakerState",
    "CallMeter",
    "CallObserver",
    "CallOutcome",
    "CallRecord",
    "CircuitBreaker",
    "ErrorMapper",
    "GraphQLClient",
    "GraphQLErrorMapper",
    "GraphQLResult",
    "MemoryRateLimitBackend",
    "Overflow",
    "RateLimitBackend",
    "RateLimiter",
    "RateLimiterRegistry",
    "RedisRateLimitBackend",
    "StreamFeed",
    "Timeouts",
    "TransportChoice",
    "WebSocketClient",
    "WebSocketState",
    "backoff_delay",
    "credential_fingerprint",
    "default_error_for",
    "graphql_error",
    "parse_retry_after",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'portico.http' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
