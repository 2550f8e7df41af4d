"""What portico.http exports, pinned (and every name resolves, lazily loaded ones included)."""

from __future__ import annotations

import portico.http


def test_exports_are_pinned() -> None:
    assert portico.http.__all__ == [
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
    for name in portico.http.__all__:
        assert getattr(portico.http, name) is not None
