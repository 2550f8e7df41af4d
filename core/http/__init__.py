"""The resilient HTTP layer: API client, rate limiter, circuit breaker, GraphQL and WebSocket clients."""

from __future__ import annotations

from portico.http._breaker import BreakerListener, BreakerState, CircuitBreaker
from portico.http._client import ApiClient, TransportChoice
from portico.http._error_map import ErrorMapper, default_error_for
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
from portico.http._transport import AiohttpTransport

__all__ = [
    "AiohttpTransport",
    "ApiClient",
    "BreakerListener",
    "BreakerState",
    "CallObserver",
    "CallOutcome",
    "CallRecord",
    "CircuitBreaker",
    "ErrorMapper",
    "MemoryRateLimitBackend",
    "RateLimitBackend",
    "RateLimiter",
    "RateLimiterRegistry",
    "Timeouts",
    "TransportChoice",
    "backoff_delay",
    "credential_fingerprint",
    "default_error_for",
    "parse_retry_after",
]
