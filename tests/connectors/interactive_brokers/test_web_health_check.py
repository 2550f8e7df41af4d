"""A spent rate budget on the Client Portal transport is "rate limited until T", not a dead gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from portico.clock import FakeClock
from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.http import ApiClient, RateLimiter
from portico.monitor import IntegrationMonitor, Redactor
from portico.sdk import ConnectorContext, RateLimitPolicy, RateWindow


async def test_a_spent_budget_is_rate_limited_not_down(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    clock = FakeClock(auto_advance=False)
    limiter = RateLimiter(RateLimitPolicy(windows=(RateWindow(limit=50, period=60),), max_wait=0), clock=clock)

    def factory(base_url: str, **overrides: Any) -> ApiClient:
        return ApiClient(base_url, **{"system": "ib", "clock": clock, "rate_limiter": limiter, **overrides})

    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        system_id="ib",
        urls=mock.urls,
        connection={"transport": "web"},
        clock=clock,
        client_factory=factory,
        rate_limiter=limiter,
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        assert (await connector.check()).ok
        while limiter.try_acquire():  # another caller spends the rest of the shared minute
            pass
        monitor = IntegrationMonitor(clock=clock, redactor=Redactor())
        monitor.register_health_check("ib", connector.check)
        report = await monitor.run_health_check("ib")
        assert report.status == "degraded"
        assert report.rate_limited_until is not None
        assert clock.now() < report.rate_limited_until <= clock.now() + timedelta(seconds=60)
        assert report.reason == f"rate limited until {report.rate_limited_until.isoformat()}"
    finally:
        await connector.close()
