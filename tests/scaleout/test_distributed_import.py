"""A chunked import processed by several workers keeps the per-record accounting and commits one load."""

from __future__ import annotations

import json
import socket
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portico.clock import FakeClock
from portico.errors import ConfigurationError
from portico.jobs import JobService
from portico.jobs._distributed import DistributedImport, distributed_tables
from portico.jobs._records import record_type
from portico.jobs._tables import data_table, job_tables
from portico.store import Database
from tests.core.jobs.conftest import RecordingMonitor

HEADER = "account|isin|symbol|quantity|price|currency|date"


def position_file(path: Path, rows: int = 1000) -> Path:
    lines = [HEADER]
    for i in range(rows):
        line = i + 2  # the header is line 1
        if line == 251:
            lines.append(f"A{i}|US0378331005|AAPL|lots|190.5|USD|2026-01-05")  # rejected: quantity
        elif line == 602:
            lines.append(f"A{i}|US0378331005|AAPL|1|190.5|XXY|2026-01-05")  # quarantined: currency
        elif line == 903:
            lines.append("A8|US0378331005|AAPL|7|190.5|USD|2026-01-05")  # duplicate of line 10, another chunk
        else:
            lines.append(f"A{i}|US0378331005|AAPL|{i + 1}|190.5|USD|2026-01-05")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Any:
    if request.param == "sqlite":
        database = Database()
        yield database
        database.dispose()
    else:
        yield request.getfixturevalue("pg_db")


def accounting(db: Database) -> dict[str, Any]:
    jt = job_tables()
    table = data_table(record_type("positions"))
    with db.begin() as conn:
        committed = conn.execute(
            sa.select(
                jt["loads"].c.load_id,
                jt["loads"].c.rows_source,
                jt["loads"].c.rows_loaded,
                jt["loads"].c.rows_rejected,
                jt["loads"].c.rows_quarantined,
            ).where(jt["loads"].c.status == "committed", jt["loads"].c.destination == "store")
        ).all()
        ((load_id, *counts),) = committed
        rejects = conn.execute(
            sa.select(jt["rejects"].c.line, jt["rejects"].c.reason)
            .where(jt["rejects"].c.load_id == load_id)
            .order_by(jt["rejects"].c.line)
        ).all()
        quarantined = (
            conn.execute(sa.select(jt["dlq"].c.line).where(jt["dlq"].c.load_id == load_id)).scalars().all()
        )
        stored = conn.execute(
            sa.select(table.c.line, table.c.account, table.c.quantity).order_by(table.c.line)
        ).all()
    return {
        "counts": tuple(counts),
        "rejects": [(line, reason.split(":")[0][:40]) for line, reason in rejects],
        "quarantined": quarantined,
        "stored": [tuple(r) for r in stored],
    }


def test_chunks_by_several_workers_account_for_every_record_as_one_sequential_import_does(
    db: Database, tmp_path: Path
) -> None:
    path = position_file(tmp_path / "positions_20260105.psv")
    # the reference: the same file imported in one piece into a store of its own
    reference_db = Database(f"sqlite:///{tmp_path / 'reference.db'}")
    JobService(db=reference_db, clock=FakeClock(), config={}).importer.import_file(path, "positions")
    expected = accounting(reference_db)
    assert expected["counts"] == (1000, 997, 2, 1)

    monitor = RecordingMonitor()
    services = [JobService(db=db, clock=FakeClock(), monitor=monitor, config={}) for _ in range(3)]
    workers = [DistributedImport(s.importer) for s in services]
    import_id = workers[0].plan(path, "positions", chunk_rows=100)
    # nothing is visible before the merge
    done: list[int] = []
    threads = [threading.Thread(target=lambda w=w: done.append(w.work(import_id))) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(done) == 10
    result = workers[0].result(import_id)
    assert result is not None and (
        result.status,
        result.records,
        result.loaded,
        result.rejected,
        result.quarantined,
        result.chunks,
    ) == ("partial", 1000, 997, 2, 1, 10)
    got = accounting(db)
    assert got["counts"] == expected["counts"]
    assert [line for line, _ in got["rejects"]] == [251, 903] == [line for line, _ in expected["rejects"]]
    with db.begin() as conn:
        rejects = job_tables()["rejects"]
        reason = conn.execute(sa.select(rejects.c.reason).where(rejects.c.line == 903)).scalar_one()
    assert reason.startswith("duplicate record (") and reason.endswith(") of line 10")
    assert got["quarantined"] == expected["quarantined"] == [602]
    assert got["stored"] == expected["stored"]
    tables = distributed_tables()
    with db.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables["staged"])).scalar_one() == 0
    # one run in the job history for the import (none per chunk), with the whole file's accounting
    history = services[0].history()
    assert [
        (h["run_id"], h["job_id"], h["kind"], h["status"], h["loaded"], h["rejected"], h["quarantined"])
        for h in history
    ] == [(import_id, "adhoc:positions", "import", "partial", 997, 2, 1)]
    manifest = history[0]["manifest"]
    assert (manifest["records"], manifest["load_id"], manifest["source_key"]) == (
        1000,
        result.load_id,
        "positions_20260105.psv",
    )
    assert Path(manifest["manifest_path"]).name == f"{import_id}.json"
    assert json.loads(Path(manifest["manifest_path"]).read_text())["rejected"] == 2
    completed = [data for name, _, data in monitor.events if name == "jobs.import_completed"]
    assert [(d["run_id"], d["loaded"], d["chunks"]) for d in completed] == [(import_id, 997, 10)]
    # the same file again: a duplicate delivery, nothing loaded twice, no second run
    again = workers[1].plan(path, "positions", chunk_rows=100)
    workers[1].work(again)
    assert workers[1].result(again).status == "duplicate"  # type: ignore[union-attr]
    assert accounting(db)["counts"] == expected["counts"]
    assert len(services[1].history()) == 1


def test_a_chunk_of_a_dead_worker_is_taken_over_and_nothing_is_visible_before_the_merge(
    db: Database, tmp_path: Path
) -> None:
    path = position_file(tmp_path / "positions_20260105.psv", rows=300)
    worker = DistributedImport(JobService(db=db, clock=FakeClock(), config={}).importer)
    import_id = worker.plan(path, "positions", chunk_rows=100)
    assert worker.work(import_id, max_chunks=2) == 2
    chunks = distributed_tables()["chunks"]
    with db.begin() as conn:
        # the third chunk was claimed by a worker that then died (this host, a pid that does not exist)
        conn.execute(
            chunks.update()
            .where(chunks.c.chunk_no == 2)
            .values(status="running", owner=f"{socket.gethostname()}:999999999", attempts=1)
        )
    table = data_table(record_type("positions"))
    db.ensure_tables(table)
    with db.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0
    assert worker.result(import_id) is None
    assert worker.work(import_id) == 1
    result = worker.result(import_id)
    assert result is not None and (result.records, result.loaded, result.rejected, result.quarantined) == (
        300,
        299,
        1,
        0,
    )
    with db.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 299
        attempts = conn.execute(sa.select(chunks.c.attempts).order_by(chunks.c.chunk_no)).scalars().all()
    assert attempts == [1, 1, 2]


def test_a_file_with_quotes_is_refused_with_its_line(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_text(
        'account,isin,symbol,quantity,price,currency,date\nA1,US0378331005,"AAPL\nX",1,1,USD,2026-01-05\n'
    )
    worker = DistributedImport(JobService(db=db, clock=FakeClock(), config={}).importer)
    with pytest.raises(ConfigurationError, match=r"^positions.csv: line 2: a quote character"):
        worker.plan(path, "positions")


def test_running_schedulers_take_the_chunks_of_a_planned_import(db: Database, tmp_path: Path) -> None:
    from portico.testing import wait_for

    path = position_file(tmp_path / "positions_20260105.psv", rows=300)
    planner = JobService(db=db, clock=FakeClock(), config={})
    workers = [JobService(db=db, clock=FakeClock(), config={}) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        import_id = planner.import_distributed(path, "positions", chunk_rows=50)
        result = wait_for(lambda: planner.distributed.result(import_id), timeout=60, interval=0.1)
    finally:
        for w in workers:
            w.shutdown()
    assert (result.status, result.records, result.loaded, result.rejected, result.chunks) == (
        "partial",
        300,
        299,
        1,
        6,
    )


def test_a_worker_claiming_while_another_claims_gets_the_next_chunk(pg_db: Database, tmp_path: Path) -> None:
    """A claim used to lock every pending chunk (FOR UPDATE SKIP LOCKED over all of them): a worker
    claiming at that moment skipped them all, found nothing and stopped (2 and 3 workers slower than 1)."""
    path = position_file(tmp_path / "positions_20260105.psv")
    first = DistributedImport(JobService(db=pg_db, clock=FakeClock(), config={}).importer)
    other_db = Database(pg_db.url)
    other = DistributedImport(JobService(db=other_db, clock=FakeClock(), config={}).importer)
    import_id = first.plan(path, "positions", chunk_rows=100)
    meanwhile: list[Any] = []

    def claim_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # the first worker's claim has selected (and locked) its candidates: the other claims now
        if "FOR UPDATE" in statement and not meanwhile:
            thread = threading.Thread(target=lambda: meanwhile.append(other._claim(import_id)))
            thread.start()
            thread.join(timeout=30)
            assert not thread.is_alive()

    sa.event.listen(pg_db.engine, "after_cursor_execute", claim_meanwhile)
    try:
        mine = first._claim(import_id)
    finally:
        sa.event.remove(pg_db.engine, "after_cursor_execute", claim_meanwhile)
        other_db.dispose()
    assert mine is not None and mine["chunk_no"] == 0
    assert meanwhile[0] is not None and meanwhile[0]["chunk_no"] == 1


def test_a_staged_chunks_control_sums_are_read_back_exactly(db: Database) -> None:
    from portico.jobs._distributed_staging import StagingSink
    from portico.jobs._sinks import LoadContext

    rt = record_type("positions")
    assert "quantity" in rt.sums
    staged = distributed_tables()["staged"]
    db.ensure_tables(*distributed_tables().values())

    def row(quantity: str | None) -> str:
        return json.dumps([quantity if f == "quantity" else "x" for f in rt.fields])

    quantities = ["1.5", "2.25", None, "10", "0.000000000000000001", "-3"]
    with db.begin() as conn:
        conn.execute(
            staged.insert(),
            [{"import_id": "imp", "line": i, "chunk_no": 4, "row": row(q)} for i, q in enumerate(quantities)]
            + [{"import_id": "imp", "line": 99, "chunk_no": 5, "row": row("1000")}],  # another chunk
        )
        ctx = LoadContext(load_id="l", rt=rt, destination="staging:imp:4:0", source_key="k", conn=conn, db=db)
        sums = StagingSink().open(ctx).loaded_sums(["quantity"])
    assert sums == {"quantity": Decimal("10.750000000000000001")}
