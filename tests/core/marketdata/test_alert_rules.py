"""The market data alert rules, contributed to the monitor by portico.marketdata.contributions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portico.clock import FakeClock
from portico.monitor import IntegrationMonitor
from portico.plugins import DEFAULT_PLUGINS, PluginManager


def test_the_rules_are_a_default_plugin_and_registering_them_loads_no_service() -> None:
    assert "portico.marketdata.contributions" in DEFAULT_PLUGINS
    code = (
        "import sys, portico.marketdata.contributions\n"
        "print(sorted(m for m in sys.modules if m.startswith('portico.marketdata')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "['portico.marketdata', 'portico.marketdata._alert_rules', 'portico.marketdata.contributions']"
    )


def test_stale_symbol_holds_its_alert_until_fresh_data(fake_clock: FakeClock) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, config={"alert_on_failure": False})
    monitor.emit("market_data.update", system="polygon", symbol="AAPL")
    monitor.market_data_update("polygon", "MSFT")
    fake_clock.advance(900)
    assert monitor.evaluate_alerts() == []  # exactly the window old: not yet stale
    fake_clock.advance(1)
    monitor.market_data_update("polygon", "MSFT")
    [stale] = monitor.evaluate_alerts()
    assert (stale.rule, stale.system, stale.subject, stale.severity) == (
        "market_data_stale",
        "polygon",
        "AAPL",
        "warning",
    )
    assert stale.summary == "market data for AAPL stale (901s old, limit 900s)"
    monitor.emit("market_data.update", system="polygon", symbol="AAPL")
    assert monitor.evaluate_alerts() == []


def test_quality_alert_fires_with_its_reason_and_clears(fake_clock: FakeClock) -> None:
    monitor = IntegrationMonitor(
        clock=fake_clock,
        config={"alert_on_failure": False, "alerts": {"market_data_quality": {"severity": "critical"}}},
    )
    monitor.emit(
        "market_data.quality_failed", system="polygon", severity="warning", symbol="IBM",
        reason="negative_price: close -1", checks=["negative_price"], correlation_id="c-1",
    )  # fmt: skip
    [alert] = monitor.alerts.active()
    assert (alert.rule, alert.system, alert.subject, alert.severity) == (
        "market_data_quality",
        "polygon",
        "IBM",
        "critical",
    )
    assert alert.summary == "market data for IBM failed quality checks: negative_price: close -1"
    assert alert.details == {"reason": "negative_price: close -1", "checks": ["negative_price"]}
    assert alert.correlation_id == "c-1"
    monitor.emit("market_data.quality_ok", system="polygon", symbol="IBM")
    assert monitor.alerts.active() == []


def test_disabled_rules_and_a_custom_window(fake_clock: FakeClock) -> None:
    monitor = IntegrationMonitor(
        clock=fake_clock,
        config={
            "alert_on_failure": False,
            "alerts": {"market_data_quality": {"enabled": False}, "market_data_stale": {"window": 60}},
        },
    )
    monitor.emit("market_data.quality_failed", system="polygon", symbol="IBM", reason="gap")
    monitor.market_data_update("polygon", "IBM")
    fake_clock.advance(61)
    assert [(a.rule, a.summary) for a in monitor.evaluate_alerts()] == [
        ("market_data_stale", "market data for IBM stale (61s old, limit 60s)")
    ]


def test_without_the_plugin_the_monitor_has_no_market_data_rules(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTICO_DISABLE_DEFAULT_PLUGINS", "portico.marketdata.contributions")
    monitor = IntegrationMonitor(
        clock=fake_clock, plugins=PluginManager(autoload=False), config={"alert_on_failure": False}
    )
    monitor.emit("market_data.update", system="polygon", symbol="AAPL")
    monitor.emit("market_data.quality_failed", system="polygon", symbol="IBM", reason="gap")
    fake_clock.advance(10_000)
    assert monitor.evaluate_alerts() == []
