"""A connector context built without the runtime gives its API clients the context's rate limiter."""

from __future__ import annotations

from portico.connectors.alpha_vantage.connector import AlphaVantageConnector
from portico.http import RateLimiter
from portico.sdk import ConnectorContext


async def test_api_client_of_a_standalone_context_uses_the_contexts_limiter() -> None:
    limiter = RateLimiter()
    context = ConnectorContext.for_testing(AlphaVantageConnector, urls={"base": "http://127.0.0.1:9"}, rate_limiter=limiter)
    client = context.api_client()
    try:
        assert client.rate_limiter is limiter
    finally:
        await client.aclose()
    bare = ConnectorContext.for_testing(AlphaVantageConnector, urls={"base": "http://127.0.0.1:9"}).api_client()
    try:
        assert bare.rate_limiter is None
    finally:
        await bare.aclose()
