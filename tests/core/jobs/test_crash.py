"""kill -9 at any point of an import, then a re-run, ends in the same state as one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portico.store import Database

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from portico.clock import SystemClock
    from portico.jobs import JobService
    from portico.store import Database

    path, kill_event, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    destination = sys.argv[4] if len(sys.argv) > 4 else "store"

    class KillingMonitor:
        seen = 0

        def emit(self, event, *, system=None, severity="info", **data):
            if event == kill_event:
                KillingMonitor.seen += 1
                if KillingMonitor.seen >= kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)

    service = JobService(db=Database(), clock=SystemClock(), monitor=KillingMonitor(), config={"data_import": {"chunk_rows": 500}})
    result = service.importer.import_file(path, "positions", destination=destination)
    service.record_import(result)  # what `portico import` does next
    print(result.status)
    """
)


def _file(path: Path, rows: int, *, version: int = 1) -> Path:
    lines = ["account|isin|symbol|quantity|price|currency|date"]
    for i in range(rows):
        ccy = "XXY" if i % 97 == 0 else "USD"  # some quarantined records too
        lines.append(f"ACC{i:06d}|US0378331005|AAPL|{i * version}|1.5|{ccy}|2026-01-05")
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(path: Path, home: Path, kill_event: str = "never", kill_after: int = 1, destination: str = "store") -> int:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), kill_event, str(kill_after), destination],
        env={**os.environ, "PORTICO_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode


def _state(home: Path) -> dict[str, Any]:
    db = Database(f"sqlite:///{home / 'portico.db'}")
    with db.begin() as conn:
        inspector = sa.inspect(conn)
        rows = conn.execute(sa.text("SELECT line, account, quantity, currency FROM portico_import_positions ORDER BY line")).all() if inspector.has_table("portico_import_positions") else []
        loads = conn.execute(sa.text("SELECT status, rows_source, rows_loaded, rows_rejected, rows_quarantined FROM portico_import_loads ORDER BY status")).all() if inspector.has_table("portico_import_loads") else []
        dlq = conn.execute(sa.text("SELECT line, field, value, status FROM portico_dlq ORDER BY line, status")).all() if inspector.has_table("portico_dlq") else []
        rejects = conn.execute(sa.text("SELECT line, reason FROM portico_import_rejects ORDER BY line")).all() if inspector.has_table("portico_import_rejects") else []
    db.dispose()
    return {"rows": [tuple(r) for r in rows], "loads": [tuple(r) for r in loads if r[0] == "committed"], "dlq": [tuple(r) for r in dlq if r[3] == "open"], "rejects": [tuple(r) for r in rejects]}


@pytest.mark.parametrize(("kill_event", "kill_after"), [("jobs.chunk_loaded", 1), ("jobs.chunk_loaded", 3), ("jobs.import_completed", 1)])
def test_kill_minus_nine_then_rerun_equals_a_clean_run(tmp_path: Path, kill_event: str, kill_after: int) -> None:
    clean_home, crash_home = tmp_path / "clean", tmp_path / "crash"
    clean_home.mkdir()
    crash_home.mkdir()
    data = _file(tmp_path / "positions_20260105.psv", 2500)
    assert _run(data, clean_home) == 0
    clean = _state(clean_home)
    assert len(clean["rows"]) == 2500 - 26 and len(clean["dlq"]) == 26

    assert _run(data, crash_home, kill_event, kill_after) == -signal.SIGKILL
    after_crash = _state(crash_home)
    if kill_event == "jobs.chunk_loaded":
        assert after_crash["rows"] == [] and after_crash["loads"] == []  # nothing partial survived
    assert _run(data, crash_home) == 0
    assert _state(crash_home) == clean


def test_kill_during_a_corrected_redelivery_keeps_the_earlier_load_whole(tmp_path: Path) -> None:
    clean_home, crash_home = tmp_path / "clean", tmp_path / "crash"
    clean_home.mkdir()
    crash_home.mkdir()
    path = tmp_path / "positions_20260105.psv"
    v1 = _file(path, 2000).read_text()
    v2 = _file(tmp_path / "v2.psv", 2000, version=2).read_text()

    path.write_text(v1)
    assert _run(path, crash_home) == 0
    before = _state(crash_home)
    path.write_text(v2)
    assert _run(path, crash_home, "jobs.chunk_loaded", 2) == -signal.SIGKILL
    assert _state(crash_home) == before  # the back-out died with the transaction: v1 intact
    assert _run(path, crash_home) == 0

    path.write_text(v1)
    assert _run(path, clean_home) == 0
    path.write_text(v2)
    assert _run(path, clean_home) == 0
    assert _state(crash_home) == _state(clean_home)


def _runs(home: Path) -> list[tuple[Any, ...]]:
    db = Database(f"sqlite:///{home / 'portico.db'}")
    with db.begin() as conn:
        rows = conn.execute(sa.text("SELECT status, loaded, rejected, quarantined, run_id FROM portico_job_runs ORDER BY status")).all()
    db.dispose()
    return [tuple(r) for r in rows]


def test_kill_minus_nine_just_after_the_load_commits_keeps_its_history_and_manifest(tmp_path: Path) -> None:
    import json

    home = tmp_path / "home"
    home.mkdir()
    data = _file(tmp_path / "positions_20260105.psv", 2500)
    assert _run(data, home, "jobs.load_committed", 1) == -signal.SIGKILL
    assert len(_state(home)["rows"]) == 2500 - 26  # the load is in
    ((status, loaded, rejected, quarantined, run_id),) = _runs(home)  # ... and so is its run record
    assert (status, loaded, rejected, quarantined) == ("partial", 2474, 0, 26)
    manifest = home / "manifests" / f"{run_id}.json"
    assert not manifest.exists()  # the process died before writing it

    assert _run(data, home) == 0  # the re-run: nothing to load, the manifest restored
    assert [r[:4] for r in _runs(home)] == [("duplicate", 0, 0, 0), ("partial", 2474, 0, 26)]
    restored = json.loads(manifest.read_text())
    assert (restored["run_id"], restored["status"], restored["records"], restored["loaded"], restored["quarantined"]) == (run_id, "partial", 2500, 2474, 26)
    assert len(restored["quarantine"]) == 26 and restored["quarantine"][0]["line"] == 2 and restored["rejects"] == []


def test_kill_minus_nine_during_an_import_to_a_file_leaves_no_spool_after_the_next_run(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    data = _file(tmp_path / "positions_20260105.psv", 2500)
    destination = f"file://{out / 'positions.jsonl'}"
    assert _run(data, home, "jobs.chunk_loaded", 2, destination) == -signal.SIGKILL
    (spool,) = out.iterdir()  # the killed run's spool of rows
    assert spool.name.startswith(".positions.jsonl.") and spool.name.endswith(".rows") and spool.stat().st_size > 0

    assert _run(data, home, destination=destination) == 0
    assert [p.name for p in out.iterdir()] == ["positions.jsonl"]
    assert len((out / "positions.jsonl").read_text().splitlines()) == 2500 - 26
