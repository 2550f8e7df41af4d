"""Fire-time claims: one process per fire time, and a dead runner's fire retried by exactly one other."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portico.clock import FakeClock
from portico.jobs._fires import FireLedger, fires_table
from portico.store import Database

FIRE = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def dead_owner() -> str:
    """``host:pid`` of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return f"{socket.gethostname()}:{proc.pid}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Any:
    if request.param == "sqlite":
        database = Database()
        yield database
        database.dispose()
    else:
        yield request.getfixturevalue("pg_db")


def statuses(db: Database) -> list[tuple[str, str, int]]:
    fires = fires_table()
    with db.begin() as conn:
        rows = conn.execute(
            sa.select(fires.c.job_id, fires.c.status, fires.c.attempts).order_by(fires.c.job_id)
        ).all()
    return [tuple(r) for r in rows]


def test_a_fire_time_is_claimed_by_one_of_many_concurrent_processes(db: Database) -> None:
    clock = FakeClock()
    ledgers = [FireLedger(db, clock=clock, owner=f"host-{i}:1") for i in range(8)]
    wins: list[str] = []
    barrier = threading.Barrier(len(ledgers))

    def claim(ledger: FireLedger) -> None:
        barrier.wait(timeout=10)
        if ledger.claim("import-a", FIRE):
            wins.append(ledger.owner)

    threads = [threading.Thread(target=claim, args=(ledger,)) for ledger in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(wins) == 1
    # the next fire time is a claim of its own
    assert ledgers[0].claim("import-a", FIRE + timedelta(seconds=5)) is True


def test_a_dead_processs_running_fire_is_taken_over_by_exactly_one_sweeper(db: Database) -> None:
    clock = FakeClock()
    dead = FireLedger(db, clock=clock, owner=dead_owner())
    assert dead.claim("import-a", FIRE)
    sweepers = [FireLedger(db, clock=clock, owner=f"{socket.gethostname()}:{n}") for n in (1, 2)]
    taken = [fire for sweeper in sweepers for fire in sweeper.orphans()]
    assert [(f.job_id, f.fire_time, f.previous_owner, f.attempts) for f in taken] == [
        ("import-a", FIRE, dead.owner, 2)
    ]
    assert statuses(db) == [("import-a", "running", 2)]


def test_a_live_owners_fire_is_left_alone_until_its_lease_runs_out(db: Database) -> None:
    clock = FakeClock()
    other_host = FireLedger(db, clock=clock, owner="elsewhere:42", lease=timedelta(seconds=30))
    assert other_host.claim("export-b", FIRE)
    sweeper = FireLedger(db, clock=clock, owner="here:1")
    clock.advance(20)
    other_host.renew()  # still alive: renews
    clock.advance(20)
    assert sweeper.orphans() == []
    clock.advance(11)  # 31 s since the renewal: the other host stopped renewing
    assert [f.previous_owner for f in sweeper.orphans()] == ["elsewhere:42"]


def test_a_fire_that_keeps_killing_its_runner_is_abandoned_after_max_attempts(db: Database) -> None:
    clock = FakeClock()
    assert FireLedger(db, clock=clock, owner=dead_owner()).claim("import-c", FIRE)
    # two retriers took it over and died in turn
    assert [f.attempts for f in FireLedger(db, clock=clock, owner=dead_owner()).orphans()] == [2]
    assert [f.attempts for f in FireLedger(db, clock=clock, owner=dead_owner()).orphans()] == [3]
    assert FireLedger(db, clock=clock, owner="here:9").orphans(max_attempts=3) == []
    assert statuses(db) == [("import-c", "abandoned", 3)]


def test_processes_creating_the_tables_together_on_postgresql_do_not_collide(postgres_url: str) -> None:
    # three runtimes starting at once on a fresh database used to fail one of them with a duplicate key
    # in pg_type (CREATE TABLE racing on the catalog)
    code = (
        "import sys; from portico.store import Database; from portico.jobs._tables import job_tables; "
        "from portico.jobs._fires import fires_table; db = Database(sys.argv[1]); "
        "db.ensure_tables(*job_tables().values(), fires_table()); print('ok')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, postgres_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outcomes = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err.decode()[-500:] for _, err in outcomes]


def test_schedulers_of_one_instance_starting_together_on_postgresql_all_start(postgres_url: str) -> None:
    # APScheduler creates its schedule table itself (checkfirst, no lock): three workers of one instance
    # starting at once on a fresh database killed one with a duplicate key in pg_type (seen in the soak)
    code = (
        "import sys; from portico.store import Database; from portico.clock import SystemClock; "
        "from portico.jobs import JobService; db = Database(sys.argv[1]); "
        "s = JobService(db=db, clock=SystemClock(), config={}, instance='race'); s.start(); "
        "s.shutdown(); print('ok')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, postgres_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outcomes = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err.decode()[-500:] for _, err in outcomes]
    assert [out.decode().strip() for out, _ in outcomes] == ["ok"] * 4


def test_a_job_whose_worker_was_killed_mid_run_is_rerun_once_by_the_sweep(tmp_path: Any) -> None:
    from portico.jobs import JobService
    from portico.jobs._tables import job_tables

    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    prices = tmp_path / "prices_20260105.csv"
    prices.write_text("symbol,date,close,currency\nAAPL,2026-01-05,190.5,USD\nMSFT,2026-01-05,400,USD\n")
    clock = FakeClock()
    service = JobService(db=db, clock=clock, config={})
    service.start()
    try:
        job_id = service._schedule("import", _spec(prices))
        # a worker claimed the fire, took the job's lock, started the run... and was SIGKILLed
        dead = dead_owner()
        FireLedger(db, clock=clock, owner=dead).claim(job_id, FIRE)
        locks = job_tables()["locks"]
        with db.begin() as conn:
            conn.execute(
                locks.insert().values(
                    job_id=job_id, owner=dead, run_id="dead-run", expires_at=clock.now() + timedelta(hours=6)
                )
            )
        assert service.sweep_fires() == [job_id]
        assert service.sweep_fires() == []  # once
    finally:
        service.shutdown()
    assert statuses(db) == [(job_id, "done", 2)]
    history = service.history(job_id)
    assert [(h["status"], h["loaded"]) for h in history] == [("loaded", 2)]


def _spec(path: Any) -> Any:
    from portico.jobs._config import ScheduledImport

    return ScheduledImport(id="nightly-prices", source=str(path), data_type="prices", interval_seconds=3600)
