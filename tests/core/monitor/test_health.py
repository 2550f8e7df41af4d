from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portico.clock import FakeClock
from portico.monitor import IntegrationMonitor, Redactor
from portico.sdk import CheckResult

from .conftest import CANARY, wait_for


class Switchable:
    """A connector-like check whose answer the test flips."""

    def __init__(self, system: str = "alpaca_paper") -> None:
        self.system = system
        self.mode = "ok"
        self.calls = 0

    async def __call__(self) -> CheckResult:
        self.calls += 1
        if self.mode == "raise":
            raise ConnectionError(f"connection refused (key {CANARY})")
        if self.mode == "hang":
            await asyncio.Event().wait()
        if self.mode == "stream":
            return CheckResult(ok=True, system=self.system, checks={"reachable": True, "stream": False})
        if self.mode == "auth":
            return CheckResult(ok=False, system=self.system, detail="401 unauthorized", checks={"authenticated": False})
        return CheckResult(ok=True, system=self.system, latency_ms=3.0, checks={"reachable": True, "authenticated": True})


@pytest.fixture
def monitor(fake_clock: FakeClock, redactor: Redactor) -> IntegrationMonitor:
    return IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"health_check_interval": 30, "health_check_timeout": 5})


async def test_transitions_with_reason_and_last_success_failure(monitor: IntegrationMonitor, fake_clock: FakeClock) -> None:
    check = Switchable()
    monitor.register_health_check("alpaca_paper", check)
    assert monitor.health("alpaca_paper").status == "unknown"

    first = await monitor.run_health_check("alpaca_paper")
    assert first.status == "healthy" and first.last_success == fake_clock.now() and first.last_failure is None

    fake_clock.advance(30)
    check.mode = "stream"
    degraded = await monitor.run_health_check("alpaca_paper")
    assert degraded.status == "degraded" and "stream" in degraded.reason

    fake_clock.advance(30)
    check.mode = "raise"
    down = await monitor.run_health_check("alpaca_paper")
    assert down.status == "down"
    assert "ConnectionError" in down.reason and CANARY not in down.reason
    assert down.last_success == first.checked_at + timedelta(seconds=30)
    assert down.last_failure == fake_clock.now()
    assert down.consecutive_failures == 1

    fake_clock.advance(30)
    check.mode = "auth"
    auth = await monitor.run_health_check("alpaca_paper")
    assert auth.status == "down" and auth.reason == "401 unauthorized" and auth.consecutive_failures == 2

    fake_clock.advance(30)
    check.mode = "ok"
    back = await monitor.run_health_check("alpaca_paper")
    assert back.status == "healthy" and back.consecutive_failures == 0 and back.last_failure == auth.checked_at
    changes = [e for e in monitor.recent_events(50) if e["event"] == "health.changed"]
    assert [e["status"] for e in reversed(changes)] == ["healthy", "degraded", "down", "healthy"]


async def test_checks_run_on_their_interval_from_the_tick(monitor: IntegrationMonitor, fake_clock: FakeClock) -> None:
    check = Switchable()
    monitor.register_health_check("alpaca_paper", check)
    await monitor.tick()
    assert check.calls == 1
    fake_clock.advance(29)
    await monitor.tick()
    assert check.calls == 1
    fake_clock.advance(1)
    await monitor.tick()
    assert check.calls == 2


async def test_a_hanging_check_times_out_as_down(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"health_check_timeout": 0.05})
    check = Switchable()
    check.mode = "hang"
    monitor.register_health_check("ib", check)
    report = await monitor.run_health_check("ib")
    assert report.status == "down" and "timed out" in report.reason


async def test_open_breaker_degrades_a_passing_check(monitor: IntegrationMonitor) -> None:
    monitor.register_health_check("alpaca_paper", Switchable())
    monitor.set_breaker_state("alpaca_paper", "open")
    report = await monitor.run_health_check("alpaca_paper")
    assert report.status == "degraded" and report.reason == "circuit breaker open"


async def test_stale_stream_degrades(monitor: IntegrationMonitor, fake_clock: FakeClock) -> None:
    monitor.register_health_check("alpaca_paper", Switchable())
    monitor.emit("stream.connected", system="alpaca_paper", stream="quotes")
    monitor.stream_message("alpaca_paper", "quotes")
    assert (await monitor.run_health_check("alpaca_paper")).status == "healthy"
    fake_clock.advance(61)
    report = await monitor.run_health_check("alpaca_paper")
    assert report.status == "degraded" and "quotes" in report.reason


async def test_unknown_system_raises_key_error(monitor: IntegrationMonitor) -> None:
    with pytest.raises(KeyError, match="no health check"):
        await monitor.run_health_check("nope")


async def test_overall_status_and_metrics_carry_health(monitor: IntegrationMonitor) -> None:
    a, b = Switchable("a"), Switchable("b")
    monitor.register_health_check("a", a)
    monitor.register_health_check("b", b)
    await monitor.run_due_health_checks()
    assert monitor.overall_status() == "healthy"
    b.mode = "raise"
    await monitor.run_health_check("b")
    assert monitor.overall_status() == "down"
    assert monitor.metrics("b")["health"]["status"] == "down"
    exposition = monitor.prometheus.exposition().decode()
    assert 'portico_system_health{system="b"} 0.0' in exposition
    assert 'portico_system_health{system="a"} 2.0' in exposition


async def test_systems_not_checked_yet_are_not_healthy(monitor: IntegrationMonitor) -> None:
    a, b = Switchable("a"), Switchable("b")
    monitor.register_health_check("a", a)
    monitor.register_health_check("b", b)
    assert monitor.overall_status() == "unknown"
    await monitor.run_health_check("a")
    assert monitor.overall_status() == "unknown"  # b was never checked
    await monitor.run_health_check("b")
    assert monitor.overall_status() == "healthy"


async def test_events_without_a_system_do_not_hold_the_status_at_unknown(monitor: IntegrationMonitor) -> None:
    monitor.register_health_check("a", Switchable("a"))
    await monitor.run_health_check("a")
    monitor.emit("job.completed", job="prices", records_imported=3)  # counted under "runtime"
    assert monitor.overall_status() == "healthy"


async def test_an_active_critical_alert_degrades_and_an_emergency_downs_the_status(monitor: IntegrationMonitor) -> None:
    monitor.register_health_check("a", Switchable("a"))
    await monitor.run_health_check("a")
    monitor.alerts.fire("custom", system="a", severity="warning", summary="a warning")
    assert monitor.overall_status() == "healthy"  # a warning is not an outage
    monitor.alerts.fire("job_failed", system=None, subject="prices", severity="critical", summary="import failed")
    assert monitor.overall_status() == "degraded"
    monitor.alerts.fire("file_late", system=None, subject="eod", severity="emergency", summary="file missing")
    assert monitor.overall_status() == "down"
    monitor.alerts.resolve("file_late", system=None, subject="eod")
    monitor.alerts.resolve("job_failed", system=None, subject="prices")
    assert monitor.overall_status() == "healthy"


async def test_a_disabled_system_does_not_hold_the_status_at_unknown(monitor: IntegrationMonitor) -> None:
    from types import SimpleNamespace

    from portico.monitor import runtime_probe

    runtime = SimpleNamespace(
        systems={
            "on": SimpleNamespace(config=SimpleNamespace(enabled=True), state="connected"),
            "off": SimpleNamespace(config=SimpleNamespace(enabled=False), state="registered"),
        }
    )
    monitor.add_probe(runtime_probe(runtime))
    monitor.register_health_check("on", Switchable("on"))
    await monitor.run_health_check("on")
    assert monitor.snapshot()["status"] == "healthy"


async def test_a_hung_check_delays_no_other_system_and_times_out_on_the_clock(redactor: Redactor) -> None:
    clock = FakeClock(auto_advance=False)
    monitor = IntegrationMonitor(
        clock=clock,
        redactor=redactor,
        config={"health_check_interval": 10, "health_check_timeout": 30, "history": {"enabled": False}},
    )
    hung, failing, fine = Switchable("hung"), Switchable("failing"), Switchable("fine")
    hung.mode, failing.mode = "hang", "raise"
    for name, check in (("hung", hung), ("failing", failing), ("fine", fine)):
        monitor.register_health_check(name, check)
    await monitor.start()
    try:
        # the failing system's verdict and its alert come at once, not after the hung check's 30 s
        await wait_for(
            lambda: monitor.health("failing").status == "down"
            and any(a.rule == "system_down" and a.system == "failing" for a in monitor.alerts.active())
            and monitor.health("fine").status == "healthy",
            what="the other systems' verdicts",
        )
        assert monitor.health("hung").status == "unknown" and hung.calls == 1

        clock.advance(10)  # the next interval: the others are checked again, the hung one is not restarted
        await wait_for(lambda: failing.calls == 2 and fine.calls == 2, what="the second round")
        assert hung.calls == 1 and monitor.health("hung").status == "unknown"

        clock.advance(20)  # 30 s after the hung check started, on the monitor's clock
        await wait_for(lambda: monitor.health("hung").status == "down", what="the hung check's timeout")
        assert monitor.health("hung").reason == "health check timed out after 30s"
        assert any(a.rule == "system_down" and a.system == "hung" for a in monitor.alerts.active())
    finally:
        await monitor.stop()


async def test_unregistering_a_check_cancels_the_one_in_flight_and_runs_it_no_more() -> None:
    """A system being disconnected: its check in flight is cancelled (so it cannot reopen the closed
    connector's clients) and no round starts it again."""
    monitor = IntegrationMonitor(clock=FakeClock())
    started = asyncio.Event()
    calls = 0

    async def check() -> CheckResult:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.Event().wait()  # never answers: only a cancellation ends it
        raise AssertionError("unreachable")

    monitor.register_health_check("slow", check)
    (task,) = monitor._start_due_checks()
    await asyncio.wait_for(started.wait(), timeout=5)

    await asyncio.wait_for(monitor.unregister_health_check("slow"), timeout=5)

    assert task.cancelled()
    assert not monitor.has_health_check("slow")
    assert monitor._start_due_checks() == []
    assert calls == 1
