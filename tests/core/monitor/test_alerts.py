from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import pytest

from portico.clock import FakeClock
from portico.errors import ConfigurationError, ServerError
from portico.monitor import AlertNotification, IntegrationMonitor, Redactor
from portico.plugins import PluginManager

from .conftest import CANARY, call


class Recorder:
    """An alert channel that keeps what it was sent (and can be told to fail)."""

    type: ClassVar[str] = "recorder"

    def __init__(self, name: str = "rec") -> None:
        self.name = name
        self.sent: list[AlertNotification] = []
        self.fail = False

    @classmethod
    def from_config(cls, name: str, options: dict[str, object], *, redactor: Redactor) -> Recorder:
        return cls(name)

    async def send(self, notification: AlertNotification) -> None:
        if self.fail:
            raise OSError("channel down")
        self.sent.append(notification)

    def kinds(self) -> list[tuple[str, str]]:
        return [(n.kind, n.alert.rule) for n in self.sent]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def monitor(fake_clock: FakeClock, redactor: Redactor, rec: Recorder) -> IntegrationMonitor:
    m = IntegrationMonitor(
        clock=fake_clock,
        redactor=redactor,
        config={"alerts": {"renotify_interval": 600, "error_rate": {"threshold": 0.2, "window": 60, "min_calls": 5}}},
    )
    m.add_channel(rec)
    return m


async def test_dedup_renotify_and_resolved(monitor: IntegrationMonitor, fake_clock: FakeClock, rec: Recorder) -> None:
    monitor.set_breaker_state("alpaca_paper", "open")
    for _ in range(5):
        monitor.evaluate_alerts()
        fake_clock.advance(60)
    await monitor.drain()
    assert rec.kinds() == [("firing", "circuit_open")]
    assert len(monitor.alerts.active()) == 1
    fake_clock.advance(300)  # 600 s since the first notice
    monitor.evaluate_alerts()
    await monitor.drain()
    assert rec.kinds() == [("firing", "circuit_open"), ("renotify", "circuit_open")]
    monitor.set_breaker_state("alpaca_paper", "closed")
    monitor.evaluate_alerts()
    await monitor.drain()
    assert rec.kinds()[-1] == ("resolved", "circuit_open")
    assert monitor.alerts.active() == []
    resolved = rec.sent[-1]
    assert resolved.title.startswith(f"[{resolved.source} RESOLVED] alpaca_paper: circuit breaker open")
    assert monitor.alerts.recently_resolved()[0].resolved_at == fake_clock.now()


async def test_error_rate_rule_needs_min_calls_and_clears(monitor: IntegrationMonitor, fake_clock: FakeClock, rec: Recorder) -> None:
    observe = monitor.call_observer()
    for _ in range(3):
        observe(call(status=500, outcome="failed", error=ServerError("x")))
    monitor.evaluate_alerts()
    assert monitor.alerts.active() == []  # 3 calls < min_calls
    for _ in range(3):
        observe(call())
    monitor.evaluate_alerts()
    [alert] = monitor.alerts.active()
    assert alert.rule == "error_rate" and alert.severity == "critical" and "50%" in alert.summary
    fake_clock.advance(61)
    monitor.evaluate_alerts()
    await monitor.drain()
    assert rec.kinds() == [("firing", "error_rate"), ("resolved", "error_rate")]


async def test_failed_delivery_is_retried_on_the_next_tick(monitor: IntegrationMonitor, rec: Recorder) -> None:
    rec.fail = True
    monitor.set_breaker_state("ib", "open")
    await monitor.drain()
    assert monitor.pending_notifications == 1
    assert monitor.recent_notifications()[0]["result"] == "failed"
    rec.fail = False
    await monitor.tick()
    assert rec.kinds() == [("firing", "circuit_open")]
    assert monitor.pending_notifications == 0


async def test_system_down_is_emergency(monitor: IntegrationMonitor, rec: Recorder) -> None:
    monitor.report_health("alpha_vantage", "down", "connect failed")
    monitor.evaluate_alerts()
    await monitor.drain()
    [alert] = monitor.alerts.active()
    assert (alert.rule, alert.severity, alert.system) == ("system_down", "emergency", "alpha_vantage")
    monitor.report_health("alpha_vantage", "degraded", "stream stale")
    monitor.evaluate_alerts()
    await monitor.drain()
    assert [(a.rule, a.severity) for a in monitor.alerts.active()] == [("system_degraded", "warning")]
    assert ("resolved", "system_down") in rec.kinds()


async def test_file_rules_empty_late_and_row_count(monitor: IntegrationMonitor, fake_clock: FakeClock, rec: Recorder) -> None:
    monitor.expect_file("positions_eod", due=fake_clock.now(), sla=900, system="custodian")
    fake_clock.advance(899)
    monitor.evaluate_alerts()
    assert monitor.alerts.active() == []
    fake_clock.advance(2)
    monitor.evaluate_alerts()
    assert [a.rule for a in monitor.alerts.active()] == ["file_late"]
    for rows in (1000, 1010, 990):
        monitor.emit("job.completed", system="custodian", job="positions_eod", rows=rows, file="pos.csv")
    monitor.evaluate_alerts()
    assert monitor.alerts.active() == []  # arrived: late alert resolved
    monitor.emit("job.completed", system="custodian", job="positions_eod", rows=1200, file="pos.csv")
    [change] = monitor.alerts.active()
    assert change.rule == "row_count_change" and "+20%" in change.summary
    monitor.emit("job.completed", system="custodian", job="positions_eod", rows=1050)
    assert monitor.alerts.active() == []
    monitor.emit("job.completed", system="custodian", job="positions_eod", rows=0, file="empty.csv")
    [empty] = monitor.alerts.active()
    assert empty.rule == "empty_file" and "empty.csv" in empty.summary
    monitor.emit("job.failed", system="custodian", job="positions_eod", error="parse error line 3")
    assert {a.rule for a in monitor.alerts.active()} == {"empty_file", "job_failed"}
    await monitor.drain()
    assert [k for k, r in rec.kinds() if r == "file_late"] == ["firing", "resolved"]


async def test_streams_market_data_and_dead_letters(monitor: IntegrationMonitor, fake_clock: FakeClock) -> None:
    monitor.emit("stream.connected", system="alpaca_paper", stream="quotes")
    monitor.emit("market_data.update", system="alpaca_paper", symbol="AAPL")
    monitor.emit("dead_letter.depth", system="importer", depth=101)
    monitor.emit("market_data.quality_failed", system="alpaca_paper", symbol="MSFT", reason="negative price")
    fake_clock.advance(901)
    rules = {(a.rule, a.subject) for a in monitor.evaluate_alerts()}
    assert rules == {
        ("stream_stale", "quotes"),
        ("market_data_stale", "AAPL"),
        ("dead_letter_depth", ""),
        ("market_data_quality", "MSFT"),
    }
    monitor.stream_message("alpaca_paper", "quotes")
    monitor.emit("market_data.update", system="alpaca_paper", symbol="AAPL")
    monitor.emit("dead_letter.depth", system="importer", depth=3)
    monitor.emit("market_data.quality_ok", system="alpaca_paper", symbol="MSFT")
    assert monitor.evaluate_alerts() == []


async def test_escalation_renotifies_at_once_and_alerts_are_redacted(
    monitor: IntegrationMonitor, fake_clock: FakeClock, rec: Recorder
) -> None:
    monitor.alerts.fire("custom", system="x", severity="warning", summary=f"bad {CANARY}")
    monitor.alerts.fire("custom", system="x", severity="critical", summary=f"worse {CANARY}")
    await monitor.drain()
    assert [(n.kind, n.alert.severity) for n in rec.sent] == [("firing", "warning"), ("firing", "critical")]
    assert CANARY not in str(monitor.snapshot()["alerts"])


async def test_disabled_rule_and_alert_on_failure_false(fake_clock: FakeClock, redactor: Redactor, rec: Recorder) -> None:
    m = IntegrationMonitor(
        clock=fake_clock, redactor=redactor, config={"alert_on_failure": False, "alerts": {"circuit_open": {"enabled": False}}}
    )
    m.add_channel(rec)
    m.set_breaker_state("a", "open")
    m.report_health("a", "down", "x")
    m.evaluate_alerts()
    await m.drain()
    assert [a.rule for a in m.alerts.active()] == ["system_down"]
    assert rec.sent == []


def test_channels_come_from_plugins_and_destinations_filter(fake_clock: FakeClock, redactor: Redactor) -> None:
    class Plugin:
        from portico.hookspecs import hookimpl

        @hookimpl
        def portico_alert_channels(self) -> list[type]:
            return [Recorder]

    class Broken:
        from portico.hookspecs import hookimpl

        @hookimpl
        def portico_alert_channels(self) -> list[type]:
            return [object]

    pm = PluginManager(autoload=False)
    pm.register(Plugin(), name="recorder-plugin")
    pm.register(Broken(), name="broken-plugin")
    m = IntegrationMonitor(
        clock=fake_clock,
        redactor=redactor,
        plugins=pm,
        config={
            "alert_destinations": ["ops", "webhook"],
            "channels": {
                "ops": {"type": "recorder"},
                "other": {"type": "recorder"},
                "hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"},
            },
        },
    )
    assert set(m.channel_types) >= {"email", "slack", "webhook", "recorder"}
    assert m._destinations() == ["ops", "hook"]
    with pytest.raises(ConfigurationError, match="unknown type 'pager'"):
        IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"channels": {"p": {"type": "pager"}}})
    with pytest.raises(ConfigurationError, match="monitoring.channels.mail"):
        IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"channels": {"mail": {"type": "email"}}})


def test_renotify_interval_respects_clock(fake_clock: FakeClock, redactor: Redactor) -> None:
    sent: list[str] = []
    from portico.monitor import AlertManager

    mgr = AlertManager(clock=fake_clock, renotify_interval=60, notify=lambda n: sent.append(n.kind))
    mgr.fire("r", system="s", severity="warning", summary="x")
    fake_clock.advance(59)
    mgr.fire("r", system="s", severity="warning", summary="x")
    fake_clock.advance(1)
    mgr.fire("r", system="s", severity="warning", summary="x")
    mgr.resolve("r", system="s")
    mgr.resolve("r", system="s")
    assert sent == ["firing", "renotify", "resolved"]
    assert fake_clock.now() - mgr.recently_resolved()[0].started_at == timedelta(seconds=60)


async def test_events_of_the_jobs_service_raise_and_clear_alerts(
    monitor: IntegrationMonitor, fake_clock: FakeClock, rec: Recorder
) -> None:
    emit = monitor.emit
    emit("jobs.file_late", system="jobs", watch="custodian_eod", pattern="/in/pos_*.csv", deadline="2026-01-05T18:00:00")
    emit("jobs.file_missing", system="jobs", watch="custodian_eod", pattern="/in/pos_*.csv", late_minutes=120)
    [late] = monitor.alerts.active()
    assert (late.rule, late.subject, late.severity) == ("file_late", "custodian_eod", "emergency")
    monitor.evaluate_alerts()
    assert monitor.alerts.active() == [late]  # event alerts are not cleared by the state checks
    emit("jobs.file_late", system="jobs", watch="custodian_eod", file="/in/pos_1.csv", arrived_by="2026-01-05T20:00:00")
    assert monitor.alerts.active() == []
    emit("jobs.file_empty", system="jobs", watch="prices", file="/in/prices.csv")
    emit("jobs.run_completed", system="jobs", job_id="nightly", status="failed", error="bad header")
    assert {(a.rule, a.subject) for a in monitor.alerts.active()} == {("empty_file", "prices"), ("job_failed", "nightly")}
    emit("jobs.run_completed", system="jobs", job_id="nightly", status="succeeded", loaded=10, rejected=1, quarantined=1)
    assert {(a.rule, a.subject) for a in monitor.alerts.active()} == {("empty_file", "prices")}
    assert monitor.metrics("jobs")["records"] == {"imported": 10, "rejected": 2}
    assert monitor.metrics("jobs")["jobs"] == {"runs": 2, "failures": 1}
    fake_clock.advance(86400)
    monitor.evaluate_alerts()  # event alerts expire after alerts.event_ttl
    assert monitor.alerts.active() == []
    await monitor.drain()
    assert ("resolved", "empty_file") in rec.kinds()


def test_the_config_loader_validates_the_monitoring_section_with_key_paths() -> None:
    from portico.config import load_config

    with pytest.raises(ConfigurationError) as info:
        load_config({"systems": {}, "monitoring": {"alerts": {"error_rate": {"severity": "loud"}}, "log_level": "CHATTY"}})
    paths = [path for path, _ in info.value.problems]
    assert "monitoring.alerts.error_rate.severity" in paths and "monitoring.log_level" in paths


async def test_an_alert_with_nowhere_to_go_is_shown_dropped(fake_clock: FakeClock, redactor: Redactor) -> None:
    lonely = IntegrationMonitor(clock=fake_clock, redactor=redactor, config={})
    lonely.set_breaker_state("ib", "open")
    await lonely.drain()
    [entry] = lonely.recent_notifications()
    assert (entry["alert"], entry["result"], entry["channel"]) == ("circuit_open/ib/", "dropped", None)
    assert entry["error"] == "no alert channel is configured (monitoring.channels)"

    misnamed = IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"alert_destinations": ["pagerr"]})
    misnamed.add_channel(Recorder("pager"))
    misnamed.set_breaker_state("ib", "open")
    await misnamed.drain()
    [entry] = misnamed.recent_notifications()
    assert (entry["channel"], entry["result"]) == ("pagerr", "dropped")
    assert entry["error"] == "no alert channel named 'pagerr' is configured"
