"""End to end through the runtime facade: Alpha Vantage systems on their mocks (``mock: true``), the
``market_data`` section's fallback chain, and the plan's configuration keys."""

from __future__ import annotations

from typing import Any

import pytest

from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration


def _system(**extra: Any) -> dict[str, Any]:
    return {
        "type": "market_data",
        "connector": "alpha_vantage",
        "mock": True,
        "authentication": {"type": "api_key", "credentials": {"api_key": "portico-test-key"}},
        "features": {"intraday_data": True, "daily_data": True, "fundamental_data": True},
        **extra,
    }


CONFIG = {
    "systems": {
        "av_main": _system(),
        "av_backup": _system(mock_seed=1, connection={"tier": "free"}),
    },
    "market_data": {"fallback": {"av_main": ["av_backup"]}, "cache": {"ttl": {"bars": 600}}},
}


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager()


async def test_market_data_through_the_runtime(plugins: PluginManager, fake_clock: Any) -> None:
    async with AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock) as integration:
        result = await integration.get_market_data("av_main", ["IBM"], "daily_prices", {"limit": 5})
        assert result.served_by == "av_main" and len(result["IBM"]) == 5
        again = await integration.get_market_data("av_main", ["IBM"], "daily_prices", {"limit": 5})
        assert again.cached == {"IBM"}
        # the free plan's throttling is in force (5/minute, 25/day) and polling respects it
        assert [str(w) for w in integration.systems["av_main"].policy.windows] == ["5/minute", "25/day"]
        assert integration.market_data.poll_interval("av_main") >= 1.0

        # the primary's mock starts failing: the backup serves, and the monitor hears of it
        integration.systems["av_main"].mock.app.state.mock.faults.extend([{"kind": "http_500"}])
        fallback = await integration.get_market_data("av_main", ["MSFT"], "bars", {"limit": 3})
        assert fallback.providers == {"MSFT": "av_backup"}


async def test_tier_sets_the_throttling(plugins: PluginManager, fake_clock: Any) -> None:
    config = {
        "systems": {"av": _system(connection={"tier": "premium_150"}, throttling={"retry_attempts": 1})}
    }
    async with AsyncIntegration(config, plugins=plugins, clock=fake_clock) as integration:
        policy = integration.systems["av"].policy
        assert [str(w) for w in policy.windows] == ["150/minute"] and policy.retry.attempts == 2
