"""Import integrity: the safety checks trip, sums are exact, and nothing wrong is kept.

Each safety check of the pipeline (records read = loaded + rejected + quarantined; the destination
holds what was accepted; status ``partial`` whenever something did not load) has a test here that
fails when the check is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portico.jobs import JobService
from portico.jobs._importer import DataImporter
from portico.jobs._sinks import LoadContext
from portico.jobs._tables import job_tables
from tests.core.jobs.conftest import GOOD, HEADER, stored, write


def _committed_loads(db: Any) -> list[Any]:
    loads = job_tables()["loads"]
    with db.begin() as conn:
        return conn.execute(sa.select(loads.c.load_id, loads.c.source_key).where(loads.c.status == "committed")).all()


# -- status: quarantined records make a delivery partial ----------------------------------------------


@pytest.mark.parametrize("columnar", [True, False])
def test_a_file_whose_only_problem_is_quarantined_records_is_partial(service, db, tmp_path: Path, columnar: bool) -> None:
    service.importer.columnar = columnar
    path = write(tmp_path / "p.psv", HEADER, GOOD[0], "A5|US0378331005|AAPL|1|1|XXY|2026-01-05")
    result = service.importer.import_file(path, "positions")
    assert (result.loaded, result.rejected, result.quarantined) == (1, 0, 1)
    assert result.status == "partial" and result.exit_code == 3


def test_a_file_of_nothing_but_quarantined_records_is_partial_not_loaded(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.psv", HEADER, "A5|US0378331005|AAPL|1|1|XXY|2026-01-05", "A6|US0378331005|AAPL|2|1|XXZ|2026-01-05")
    result = service.importer.import_file(path, "positions")
    assert (result.records, result.loaded, result.rejected, result.quarantined) == (2, 0, 0, 2)
    assert result.status == "partial" and result.exit_code == 3
    assert stored(db) == []


# -- the destination must hold what was accepted -------------------------------------------------------


class _ListSession:
    """A sink session keeping rows in a list, with a fault: ``drop`` rows lost, or every row written twice."""

    def __init__(self, *, drop: int = 0, twice: bool = False) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.drop = drop
        self.twice = twice
        self.committed = False

    def back_out(self, previous_load_id: str) -> None:
        return None

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        kept = list(rows)[self.drop :]
        self.drop = max(0, self.drop - len(rows))
        self.rows.extend(kept * 2 if self.twice else kept)

    def loaded_count(self) -> int:
        return len(self.rows)

    def commit(self) -> None:
        self.committed = True

    def abort(self) -> None:
        self.rows.clear()


class _FaultySink:
    name = "faulty"

    def __init__(self, session: _ListSession) -> None:
        self.session = session

    def matches(self, destination: str) -> bool:
        return destination.startswith("faulty://")

    def open(self, ctx: LoadContext) -> _ListSession:
        return self.session


@pytest.mark.parametrize(("session", "holds"), [(_ListSession(drop=1), 2), (_ListSession(twice=True), 6)], ids=["drops-a-row", "writes-twice"])
def test_a_destination_that_does_not_hold_what_was_accepted_fails_the_load(service, db, tmp_path: Path, session: _ListSession, holds: int) -> None:
    session.rows.clear()
    session.committed = False
    service.importer.sinks.add(_FaultySink(session))
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD), "positions", destination="faulty://x")
    assert result.status == "failed" and result.exit_code == 1
    assert result.error == f"p.psv: 3 records accepted but the destination holds {holds}"
    assert result.loaded == 0 and not session.committed
    assert _committed_loads(db) == []


# -- every record read is accounted for ----------------------------------------------------------------


class _LosingImporter(DataImporter):
    """An importer whose record stage silently loses its first record of each chunk (a bug to catch)."""

    def _row_records(self, *args: Any, **kwargs: Any) -> tuple[list[tuple[Any, ...]], list[int]]:
        rows, lines = super()._row_records(*args, **kwargs)
        return rows[1:], lines[1:]


class _DoublingImporter(DataImporter):
    """An importer whose record stage emits its first record of each chunk twice (a bug to catch)."""

    def _row_records(self, *args: Any, **kwargs: Any) -> tuple[list[tuple[Any, ...]], list[int]]:
        rows, lines = super()._row_records(*args, **kwargs)
        return rows + rows[:1], lines + lines[:1]


@pytest.mark.parametrize(("importer_type", "accounted"), [(_LosingImporter, 2), (_DoublingImporter, 4)], ids=["loses-a-record", "counts-one-twice"])
def test_records_read_must_equal_loaded_rejected_and_quarantined(service: JobService, db, clock, tmp_path: Path, importer_type: type[DataImporter], accounted: int) -> None:
    importer = importer_type(db=db, clock=clock, formats=service.formats, sinks=service.sinks, columnar=False)
    result = importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD), "positions")
    assert result.status == "failed"
    assert result.error == f"p.psv: 3 records read but {accounted} accounted for"
    assert stored(db) == [] and _committed_loads(db) == []


# -- control totals are exact on every engine ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_db(request: pytest.FixtureRequest, portico_home: Path) -> Any:
    """The embedded SQLite store, or a fresh PostgreSQL database (needs ``PORTICO_TEST_POSTGRES_URL``)."""
    import os
    import uuid

    from portico.store import Database

    if request.param == "sqlite":
        database = Database()
        yield database
        database.dispose()
        return
    base = os.environ.get("PORTICO_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PORTICO_TEST_POSTGRES_URL is not set")
    psycopg = pytest.importorskip("psycopg")
    from sqlalchemy.engine import make_url

    url = make_url(base if "+" in base.split("://", 1)[0] else base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"portico_jobs_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = Database(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_control_totals_of_many_decimals_are_exact_on_every_engine(engine_db, clock, tmp_path: Path) -> None:
    path = tmp_path / "prices_20260105.csv"
    path.write_text("symbol,date,close,currency\n" + "".join(f"S{i:06d},2026-01-05,123.45,USD\n" for i in range(100_000)))
    svc = JobService(db=engine_db, clock=clock, config={})
    result = svc.importer.import_file(path, "prices")
    assert result.error is None and result.status == "loaded" and result.loaded == 100_000
    assert result.control_totals["source"]["sums"] == {"close": "12345000"}
    assert result.control_totals["loaded"] == {"records": 100_000, "sums": {"close": "12345000"}}


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar", "per-record"])
def test_control_totals_keep_every_digit_of_wide_decimals(service, tmp_path: Path, columnar: bool) -> None:
    service.importer.columnar = columnar
    wide = "12345678901234567890123.123456789012"  # 35 digits: beyond Decimal's default 28-digit precision
    lines = [f"A{i}|US0378331005|AAPL|{wide}|1|USD|2026-01-05" for i in range(3)]
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *lines), "positions")
    assert result.error is None and result.status == "loaded"
    want = "37037036703703703670369.370370367036"
    assert result.control_totals["source"]["sums"] == {"quantity": want}
    assert result.control_totals["loaded"]["sums"] == {"quantity": want}


# -- a file that changes while it is imported loads nothing ----------------------------------------------

_ORIGINAL = [HEADER, *(f"A{i}|US0378331005|AAPL|{100 + i}|190.5|USD|2026-01-05" for i in range(6))]
# the same size, other quantities: only the bytes tell them apart
_CHANGED = [HEADER, *(f"A{i}|US0378331005|AAPL|{900 + i}|190.5|USD|2026-01-05" for i in range(6))]


class _RewritingMonitor:
    """Rewrites the delivery in place when the first chunk has been loaded: a producer writing mid-import."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path, self.lines, self.done = path, lines, False

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        if event == "jobs.chunk_loaded" and not self.done:
            self.done = True
            write(self.path, *self.lines)


class _RewritingFormat:
    """The pipe format, rewriting the delivery just before parsing starts (after it was validated)."""

    def __init__(self, inner: Any, path: Path, lines: list[str]) -> None:
        self.inner, self.path, self.lines = inner, path, lines
        self.name, self.extensions = inner.name, inner.extensions

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, stream: Any, options: Any, *, file: str) -> Any:
        write(self.path, *self.lines)
        return self.inner.read(stream, options, file=file)


def _assert_changed_file_loaded_nothing(result: Any, db: Any) -> None:
    assert result.status == "failed" and result.loaded == 0
    assert result.error.startswith("p.psv: the file changed while it was being imported"), result.error
    assert stored(db) == [] and _committed_loads(db) == []


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar", "per-record"])
def test_a_file_rewritten_during_the_import_loads_nothing_and_its_original_still_loads(db, clock, tmp_path: Path, columnar: bool) -> None:
    path = write(tmp_path / "p.psv", *_ORIGINAL)
    svc = JobService(db=db, clock=clock, monitor=_RewritingMonitor(path, _CHANGED), config={"data_import": {"chunk_rows": 2}})
    svc.importer.columnar = columnar
    _assert_changed_file_loaded_nothing(svc.importer.import_file(path, "positions"), db)

    write(path, *_ORIGINAL)  # the original again: not a "duplicate", it loads
    again = svc.importer.import_file(path, "positions")
    assert again.status == "loaded" and again.supersedes is None
    assert [r["quantity"] for r in stored(db)] == ["100", "101", "102", "103", "104", "105"]


def test_a_file_rewritten_between_validation_and_parsing_loads_nothing(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.psv", *_ORIGINAL)
    service.importer.columnar = False
    service.importer.formats.add(_RewritingFormat(service.importer.formats.get("psv"), path, _CHANGED))
    _assert_changed_file_loaded_nothing(service.importer.import_file(path, "positions"), db)


def test_a_gzip_file_rewritten_between_validation_and_parsing_loads_nothing(service, db, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "p.psv.gz"
    path.write_bytes(gzip.compress(("\n".join(_ORIGINAL) + "\n").encode(), mtime=0))
    changed = ("\n".join(_CHANGED) + "\n").encode()

    class _GzipRewrite(_RewritingFormat):
        def read(self, stream: Any, options: Any, *, file: str) -> Any:
            path.write_bytes(gzip.compress(changed, mtime=0))
            return self.inner.read(stream, options, file=file)

    service.importer.columnar = False  # the format's read is the per-record path (gzip is columnar too now)
    service.importer.formats.add(_GzipRewrite(service.importer.formats.get("psv"), path, []))
    result = service.importer.import_file(path, "positions")
    assert result.status == "failed" and "the file changed while it was being imported" in result.error
    assert stored(db) == [] and _committed_loads(db) == []


def test_an_unchanged_file_read_by_seeking_parsers_still_loads(service, db, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for line in [HEADER, *GOOD]:
        sheet.append(line.split("|"))
    path = tmp_path / "p.xlsx"
    book.save(path)
    result = service.importer.import_file(path, "positions")
    assert result.error is None and result.status == "loaded" and result.loaded == 3


# -- concurrent imports of one delivery ------------------------------------------------------------------


class _RacingStoreSink:
    """The store sink, but another importer loads ``path`` as the same delivery (and commits) just as
    this load opens: the two ledger checks both passed, and this load is the one to commit second."""

    name = "store"

    def __init__(self, rival: DataImporter, path: Path) -> None:
        from portico.jobs._sinks import StoreSink

        self.rival, self.path, self.inner, self.rival_result = rival, path, StoreSink(), None

    def matches(self, destination: str) -> bool:
        return destination == "store"

    def open(self, ctx: LoadContext) -> Any:
        if self.rival_result is None:
            self.rival_result = self.rival.import_file(self.path, "positions", source_key=ctx.source_key)
        return self.inner.open(ctx)


def _racing_importers(db: Any, clock: Any, service: JobService, rival_file: Path, monitor: Any) -> tuple[DataImporter, _RacingStoreSink]:
    from portico.jobs._registry import SinkRegistry

    rival = DataImporter(db=db, clock=clock, formats=service.formats, sinks=service.sinks)
    sink = _RacingStoreSink(rival, rival_file)
    return DataImporter(db=db, clock=clock, formats=service.formats, sinks=SinkRegistry([sink]), monitor=monitor), sink


def test_the_loser_of_two_concurrent_imports_of_one_delivery_reports_a_duplicate(engine_db, clock, monitor, tmp_path: Path) -> None:
    service = JobService(db=engine_db, clock=clock, config={})
    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    importer, sink = _racing_importers(engine_db, clock, service, path, monitor)
    result = importer.import_file(path, "positions")
    assert sink.rival_result is not None and sink.rival_result.status == "loaded"
    assert result.error is None and result.status == "duplicate" and result.exit_code == 0
    assert result.load_id == sink.rival_result.load_id and (result.loaded, result.rejected, result.quarantined) == (0, 0, 0)
    assert [r["line"] for r in stored(engine_db)] == [2, 3, 4]
    assert [(s, d["winner"]) for e, s, d in monitor.events if e == "jobs.import_raced"] == [("info", sink.rival_result.load_id)]
    assert not [e for e in monitor.events if e[1] in ("error", "critical")]


def test_concurrent_imports_of_different_bytes_end_as_a_corrected_redelivery(engine_db, clock, monitor, tmp_path: Path) -> None:
    service = JobService(db=engine_db, clock=clock, config={})
    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    (tmp_path / "rival").mkdir()
    rival_file = write(tmp_path / "rival" / "p.psv", HEADER, GOOD[0])
    importer, sink = _racing_importers(engine_db, clock, service, rival_file, monitor)
    result = importer.import_file(path, "positions")
    assert sink.rival_result is not None and sink.rival_result.status == "loaded"
    # as if run one after the other: this run's bytes replace the rival's load
    assert result.error is None and result.status == "loaded" and result.loaded == 3
    assert result.supersedes == sink.rival_result.load_id
    assert [r["line"] for r in stored(engine_db)] == [2, 3, 4]
    assert [(load_id, key) for load_id, key in _committed_loads(engine_db)] == [(result.load_id, "p.psv")]


# -- a full disk after the load committed ------------------------------------------------------------------


class _FullDisk:
    """A file writer for PORTICO_HOME that fails as a full disk does (ENOSPC), until ``freed``."""

    def __init__(self) -> None:
        self.freed = False

    def __call__(self, path: Path, produce: Any) -> None:
        import errno
        import os

        from portico.jobs._sinks import atomic_write

        if not self.freed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        atomic_write(path, produce)


def test_a_full_disk_after_the_commit_reports_the_load_and_the_manifest_failure_apart(service, db, monitor, portico_home: Path, tmp_path: Path) -> None:
    disk = _FullDisk()
    service.importer.write_file = disk
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD), "positions")  # never raises
    assert result.status == "loaded" and result.error is None and result.exit_code == 0 and result.loaded == 3
    manifest = portico_home / "manifests" / f"{result.run_id}.json"
    assert result.manifest_path is None
    assert result.manifest_error == f"manifest not written: No space left on device: {manifest}"
    assert [(s, d["error"]) for e, s, d in monitor.events if e == "jobs.manifest_failed"] == [("error", result.manifest_error)]
    assert [r["line"] for r in stored(db)] == [2, 3, 4] and _committed_loads(db) == [(result.load_id, "p.psv")]
    (run,) = service.history()  # committed with the load, before the manifest was attempted
    assert (run["run_id"], run["status"], run["loaded"]) == (result.run_id, "loaded", 3)

    disk.freed = True
    again = service.importer.import_file(tmp_path / "p.psv", "positions")
    assert again.status == "duplicate" and again.control_totals["restored_manifest"] == str(manifest)
    assert '"loaded": 3' in manifest.read_text()


def test_portico_import_with_no_room_for_the_manifest_says_the_load_committed(portico_home: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from portico.cli import cli

    (portico_home / "manifests").write_text("not a folder")  # every manifest write fails, for real
    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    outcome = CliRunner().invoke(cli, ["import", str(path), "--type", "positions"])
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.output
    assert outcome.exit_code == 0, outcome.output
    assert "p.psv: loaded" in outcome.stdout and "loaded 3  rejected 0  quarantined 0" in outcome.stdout
    (warning,) = [line for line in outcome.stderr.splitlines() if line.startswith("warning:")]
    assert warning.startswith("warning: manifest not written: ") and str(portico_home / "manifests") in warning
    assert "Traceback" not in outcome.output


# -- temporary files of dead runs are removed, those of live runs kept ---------------------------------


def test_a_spool_left_by_a_live_process_is_kept_and_one_of_a_dead_process_removed(service, tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    host = socket.gethostname()
    live = tmp_path / f".out.jsonl.{os.getpid()}@{host}.abcd1234.rows"  # this very process: still writing
    gone = tmp_path / f".out.jsonl.{int(dead.stdout)}@{host}.efgh5678.rows"
    gone_tmp = tmp_path / f".out.jsonl.{int(dead.stdout)}@{host}.ijkl9012.tmp"
    elsewhere = tmp_path / f".out.jsonl.{int(dead.stdout)}@another-host.mnop3456.rows"  # a shared folder: not ours to judge
    for path in (live, gone, gone_tmp, elsewhere):
        path.write_text("{}\n")
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD), "positions", destination=f"file://{tmp_path / 'out.jsonl'}")
    assert result.status == "loaded"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")) == sorted([live.name, elsewhere.name])


def test_an_integrity_error_that_is_no_race_fails_the_file_and_is_not_retried(service, db, tmp_path: Path) -> None:
    class _RefusingSession(_ListSession):
        commits = 0

        def commit(self) -> None:
            _RefusingSession.commits += 1
            if _RefusingSession.commits > 1:  # the corrected redelivery's commit: the destination refuses it
                raise sa.exc.IntegrityError("INSERT ...", {}, Exception("destination constraint"))

    session = _RefusingSession()
    service.importer.sinks.add(_FaultySink(session))
    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    first = service.importer.import_file(path, "positions", destination="faulty://x")
    assert first.status == "loaded"
    session.rows.clear()
    write(path, HEADER, GOOD[0])
    second = service.importer.import_file(path, "positions", destination="faulty://x")
    assert second.status == "failed" and second.error.startswith("p.psv: unexpected IntegrityError") and "destination constraint" in second.error
    assert _RefusingSession.commits == 2  # tried once: no retry of a failure that no rival caused
    assert _committed_loads(db) == [(first.load_id, "p.psv")]
