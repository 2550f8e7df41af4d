from __future__ import annotations

import pytest

from portico.errors import ConfigurationError, NotSupported
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration, Integration
from tests.core.foundation.fakes import FakeBroker, plugin_with


@pytest.fixture
def plugins() -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="fakes")
    return pm


CONFIG = {
    "systems": {
        "fake_paper": {"type": "brokerage", "connector": "fakebroker", "environment": "paper"},
        "fake_off": {"type": "brokerage", "connector": "fakebroker", "enabled": False},
        "fake_nopos": {"type": "brokerage", "connector": "fakebroker", "features": {"position_reporting": False}},
    }
}


async def test_lifecycle_and_status(plugins: PluginManager, fake_clock) -> None:
    async with AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock) as integration:
        status = await integration.get_external_system_status("fake_paper")
        assert status.state == "connected" and status.environment == "paper"
        assert status.urls == {"base": "https://paper.fake.test"}
        assert (await integration.get_external_system_status("fake_off")).state == "registered"
        positions = await integration.get_external_positions("fake_paper")
        assert positions[0].symbol == "AAPL"
        await integration.disconnect_external_system("fake_paper")
        assert (await integration.get_external_system_status("fake_paper")).state == "disconnected"
        with pytest.raises(ConfigurationError, match="connect_external_system first"):
            await integration.get_external_positions("fake_paper")


async def test_feature_flags_switch_capabilities_off(plugins: PluginManager, fake_clock) -> None:
    async with AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock) as integration:
        with pytest.raises(NotSupported, match="features.position_reporting"):
            await integration.get_external_positions("fake_nopos")
        status = await integration.get_external_system_status("fake_nopos")
        assert "get_positions" not in status.capabilities
        with pytest.raises(NotSupported, match="place_order"):
            await integration.place_external_order("fake_paper", {"symbol": "AAPL", "side": "buy", "quantity": 1})


async def test_register_at_run_time_and_errors(plugins: PluginManager, fake_clock) -> None:
    async with AsyncIntegration({"systems": {}}, plugins=plugins, clock=fake_clock) as integration:
        sid = await integration.register_external_system({"type": "brokerage", "connector": "fakebroker"}, "fake2")
        await integration.connect_external_system(sid)
        assert (await integration.get_external_system_status(sid)).state == "connected"
        with pytest.raises(ConfigurationError, match="already registered"):
            await integration.register_external_system({"type": "brokerage", "connector": "fakebroker"}, "fake2")
        with pytest.raises(ConfigurationError, match="unknown system 'ghost'; configured systems: fake2"):
            await integration.get_external_system_status("ghost")
        with pytest.raises(ConfigurationError, match="systems.bad.type"):
            await integration.register_external_system({"type": "wrong"}, "bad")


async def test_set_throttling_parameters_at_run_time(plugins: PluginManager, fake_clock) -> None:
    async with AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock) as integration:
        policy = await integration.set_throttling_parameters("fake_paper", {"max_requests_per_second": 2, "retry_attempts": 5})
        assert [(w.limit, w.period) for w in policy.windows] == [(2, 1), (200, 60)]
        assert policy.retry.attempts == 6
        with pytest.raises(ConfigurationError, match="throttling.max_requests_per_second"):
            await integration.set_throttling_parameters("fake_paper", {"max_requests_per_second": -1})


async def test_health_check_and_metrics(plugins: PluginManager, fake_clock) -> None:
    async with AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock) as integration:
        report = await integration.run_health_check("fake_paper")
        assert report is not None
        metrics = await integration.get_integration_metrics("fake_paper")
        assert metrics["state"] == "connected"


def test_sync_facade(plugins: PluginManager) -> None:
    with Integration(CONFIG, plugins=plugins) as integration:
        assert integration.get_external_system_status("fake_paper").state == "connected"
        assert integration.get_external_positions("fake_paper")[0].quantity == 10
        assert integration.plugins is plugins
    with pytest.raises(RuntimeError, match="closed"):
        integration.get_external_positions("fake_paper")
