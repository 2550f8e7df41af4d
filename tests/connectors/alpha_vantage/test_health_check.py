"""The Alpha Vantage health check: the manifest's cheapest call, on the shared budget, and a spent quota
is "rate limited until T", never "down"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portico.clock import FakeClock
from portico.connectors.alpha_vantage import SPEC
from portico.monitor import IntegrationMonitor, Redactor

from .conftest import AvHarness
from .test_connector import calls


def _monitor(clock: FakeClock) -> IntegrationMonitor:
    return IntegrationMonitor(clock=clock, redactor=Redactor(), config={"health_check_interval": 300})


async def test_the_check_makes_the_manifests_call_on_the_shared_budget(av: AvHarness) -> None:
    assert SPEC.health_check is not None and SPEC.health_check.call == "SYMBOL_SEARCH"
    connector = av.connector(key="free-check-key", tier="free")
    result = await connector.check()
    assert result.ok and result.rate_limited_until is None
    assert [c["function"] for c in calls(av)] == ["SYMBOL_SEARCH"]
    assert connector.context.rate_limiter.remaining() == {"5/minute": 4.0, "25/day": 24.0}
    assert av.mock.quotas.usage("free-check-key")["calls_today"] == 1


async def test_a_spent_minute_budget_is_rate_limited_not_down(av: AvHarness, fake_clock: FakeClock) -> None:
    connector = av.connector(key="free-busy-key", tier="free")
    for _ in range(5):
        await connector.get_latest_quotes(["IBM"])
    spent_at = fake_clock.now()
    monitor = _monitor(fake_clock)
    monitor.register_health_check("av", connector.check)
    report = await monitor.run_health_check("av")
    assert report.status == "degraded"
    assert report.reason == f"rate limited until {(spent_at + timedelta(seconds=60)).isoformat()}"
    assert report.rate_limited_until == spent_at + timedelta(seconds=60)
    # it neither waited for budget nor spent a call the vendor counts
    assert fake_clock.now() == spent_at
    assert av.mock.quotas.usage("free-busy-key")["calls_today"] == 5
    assert [a.rule for a in monitor.evaluate_alerts()] == ["system_degraded"]
    assert monitor.overall_status() == "degraded"


async def test_a_spent_daily_quota_is_rate_limited_until_the_reset(av: AvHarness, fake_clock: FakeClock) -> None:
    assert fake_clock.now() == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    connector = av.connector()
    av.mock.faults.extend([{"kind": "information", "times": 1}])  # the vendor's daily-quota answer, once
    monitor = _monitor(fake_clock)
    monitor.register_health_check("av", connector.check)
    report = await monitor.run_health_check("av")
    reset = datetime(2026, 1, 6, 5, 0, tzinfo=UTC)  # midnight US/Eastern
    assert report.status == "degraded" and report.reason == f"rate limited until {reset.isoformat()}"
    assert len(calls(av)) == 1

    # later intervals do not ask again before the reset (every call would be refused and counted)
    fake_clock.advance(300)
    assert await monitor.run_due_health_checks() == []
    assert len(calls(av)) == 1 and monitor.health("av").status == "degraded"
    fake_clock.set(reset + timedelta(seconds=1))
    [after] = await monitor.run_due_health_checks()
    assert after.status == "healthy" and len(calls(av)) == 2


async def test_a_rate_limited_error_from_any_check_is_not_down(fake_clock: FakeClock) -> None:
    from portico.errors import RateLimited

    async def check() -> None:
        raise RateLimited("budget spent", retry_after=42.0, system="x")

    monitor = _monitor(fake_clock)
    monitor.register_health_check("x", check)
    report = await monitor.run_health_check("x")
    assert report.status == "degraded"
    assert report.reason == f"rate limited until {(fake_clock.now() + timedelta(seconds=42)).isoformat()}"
