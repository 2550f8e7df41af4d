"""The monitor and dashboard fed by the real jobs service (portico.jobs): runs, dead letters, file alerts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.jobs import JobService
from portico.monitor import IntegrationMonitor, Redactor, RuntimeServer
from portico.store import Database

HEADER = "account|isin|symbol|quantity|price|currency|date"
ROW = "A{n}|US0378331005|AAPL|{n}|190.5|USD|2026-01-05"


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def monitor(fake_clock: FakeClock, redactor: Redactor) -> IntegrationMonitor:
    return IntegrationMonitor(clock=fake_clock, redactor=redactor)


@pytest.fixture
def service(portico_home: Path, fake_clock: FakeClock, monitor: IntegrationMonitor) -> Iterator[JobService]:
    db = Database()
    svc = JobService(db=db, clock=fake_clock, monitor=monitor, config={})
    yield svc
    svc.shutdown()
    db.dispose()


async def test_imports_quarantine_and_file_alerts_reach_the_monitor_and_dashboard(
    service: JobService, monitor: IntegrationMonitor, tmp_path: Path
) -> None:
    rows = [ROW.format(n=i + 1) for i in range(10)]
    service.importer.import_file(write(tmp_path / "positions_20260105.psv", HEADER, *rows), "positions")
    bad = "A5|US0378331005|AAPL|1|1|XXY|2026-01-05"  # unmapped currency: quarantined
    service.importer.import_file(write(tmp_path / "positions_20260106.psv", HEADER, *rows[:5], bad), "positions")
    assert monitor.metrics("jobs")["records"] == {"imported": 15, "rejected": 1}
    alerts = {a.rule: a for a in monitor.alerts.active()}
    assert "row_count_change" in alerts and "positions" in alerts["row_count_change"].summary

    service.importer.import_file(write(tmp_path / "positions_20260107.psv"), "positions")
    assert "empty_file" in {a.rule for a in monitor.alerts.active()}

    class Runtime:
        systems: dict[str, Any] = {}
        _services = {"jobs": service}

    state = await RuntimeServer(monitor, Runtime(), token="t" * 24).state()
    [dead] = state["dead_letters"]
    assert dead["record"] == "XXY" and "line 7" in dead["where"] and dead["job"] == "positions"
    assert {a["rule"] for a in state["alerts"]} >= {"row_count_change", "empty_file"}


async def test_a_good_file_after_an_empty_one_clears_the_empty_file_alert(
    service: JobService, monitor: IntegrationMonitor, tmp_path: Path
) -> None:
    # the alert raised by jobs.file_empty must be the one the next successful import resolves
    service.importer.import_file(write(tmp_path / "positions_20260107.psv"), "positions")
    assert "empty_file" in {a.rule for a in monitor.alerts.active()}
    rows = [ROW.format(n=i + 1) for i in range(3)]
    service.importer.import_file(write(tmp_path / "positions_20260108.psv", HEADER, *rows), "positions")
    assert "empty_file" not in {a.rule for a in monitor.alerts.active()}
