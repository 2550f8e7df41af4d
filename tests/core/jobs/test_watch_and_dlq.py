"""File arrival watches (late, missing, empty, arrived) and the dead-letter queue (list, show, replay, discard)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from portico.clock import FakeClock
from portico.jobs import DeadLetterQueue, JobService
from tests.core.jobs.conftest import GOOD, HEADER, stored, write


def _service(db, monitor, tmp_path: Path, clock: FakeClock, **mappings) -> JobService:
    config = {
        "data_import": {
            "watches": [{"id": "custodian", "path": str(tmp_path / "positions_{date}.psv"), "data_type": "positions", "deadline": "02:30", "missing_after_minutes": 60}],
            "mappings": mappings,
        }
    }
    return JobService(db=db, clock=clock, monitor=monitor, config=config)


def test_waiting_then_late_then_missing_then_arrival(db, monitor, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))  # a Monday
    svc = _service(db, monitor, tmp_path, clock)
    assert svc.check_watch("custodian") == "waiting"
    clock.set(datetime(2026, 1, 5, 2, 45, tzinfo=UTC))
    assert svc.check_watch("custodian") == "late"
    assert svc.check_watch("custodian") == "late"
    assert monitor.names().count("jobs.file_late") == 1  # once per state change
    clock.set(datetime(2026, 1, 5, 3, 31, tzinfo=UTC))
    assert svc.check_watch("custodian") == "missing"
    event = next(e for e in monitor.events if e[0] == "jobs.file_missing")
    assert event[1] == "critical" and event[2]["late_minutes"] == 61
    write(tmp_path / "positions_20260105.psv", HEADER, *GOOD)
    assert svc.check_watch("custodian") == "loaded"
    assert len(stored(db)) == 3
    assert svc.check_watch("custodian") == "loaded"  # done for the day: not imported twice


def test_weekend_is_not_expected_and_empty_file_alerts(db, monitor, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 3, 9, 0, tzinfo=UTC))  # Saturday
    svc = _service(db, monitor, tmp_path, clock)
    assert svc.check_watch("custodian") == "not_expected"
    clock.set(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    (tmp_path / "positions_20260105.psv").write_bytes(b"")
    assert svc.check_watch("custodian") == "empty"
    assert "jobs.file_empty" in monitor.names()


def test_on_time_arrival_raises_no_alert(db, monitor, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    svc = _service(db, monitor, tmp_path, clock)
    write(tmp_path / "positions_20260105.psv", HEADER, *GOOD)
    assert svc.check_watch("custodian") == "loaded"
    assert not {"jobs.file_late", "jobs.file_missing", "jobs.file_empty"} & set(monitor.names())


def test_dlq_list_show_replay_after_fixing_the_mapping_and_discard(db, monitor, tmp_path: Path, clock) -> None:
    path = write(
        tmp_path / "p.psv",
        HEADER,
        GOOD[0],
        "A2|US0378331005|AAPL|5|1|US$|2026-01-05",
        "A3|US0378331005|AAPL|6|1|XXY|2026-01-05",
    )
    svc = _service(db, monitor, tmp_path, clock)
    result = svc.importer.import_file(path, "positions", mapping=None)
    assert result.quarantined == 2
    dlq = DeadLetterQueue(svc.importer)
    entries = dlq.list()
    assert [(e["line"], e["value"]) for e in entries] == [(3, "US$"), (4, "XXY")]
    shown = dlq.show(entries[0]["id"])
    assert shown["raw"]["currency"] == "US$" and shown["mapping"] == "identity"
    assert dlq.replay([entries[0]["id"]])["still_failing"]  # nothing fixed yet
    assert dlq.show(entries[0]["id"])["attempts"] == 1

    # the operator adds the translation to the (versioned) mapping and replays
    fixed = _service(db, monitor, tmp_path, clock, identity={"version": 2, "fields": {"currency": {"source": "currency", "translate": {"US$": "USD"}}}})
    dlq = DeadLetterQueue(fixed.importer)
    outcome = dlq.replay()
    assert outcome["replayed"] == [entries[0]["id"]] and list(outcome["still_failing"]) == [entries[1]["id"]]
    assert sorted((r["line"], r["currency"]) for r in stored(db)) == [(2, "USD"), (3, "USD")]
    assert dlq.discard([entries[1]["id"]]) == 1
    assert dlq.list() == [] and dlq.list(status="discarded")[0]["id"] == entries[1]["id"]
    import sqlalchemy as sa

    with db.begin() as conn:
        counts = conn.execute(sa.text("SELECT rows_loaded, rows_quarantined FROM portico_import_loads WHERE status='committed'")).one()
    assert tuple(counts) == (2, 1)
    # a corrected redelivery backs the replayed record out with the rest of its load
    write(path, HEADER, GOOD[1])
    svc.importer.import_file(path, "positions")
    assert [(r["line"], r["symbol"]) for r in stored(db)] == [(2, "MSFT")]


def test_watched_feed_row_count_change_uses_the_watch_tolerance(db, monitor, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    svc = _service(db, monitor, tmp_path, clock)
    write(tmp_path / "positions_20260105.psv", HEADER, *[f"A{i}|US0378331005|AAPL|1|1|USD|2026-01-05" for i in range(20)])
    assert svc.check_watch("custodian") == "loaded"
    clock.set(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))
    write(tmp_path / "positions_20260106.psv", HEADER, *[f"A{i}|US0378331005|AAPL|1|1|USD|2026-01-06" for i in range(15)])
    assert svc.check_watch("custodian") == "loaded"
    event = next(e for e in monitor.events if e[0] == "jobs.row_count_changed")
    assert (event[2]["previous"], event[2]["current"], event[2]["change_pct"]) == (20, 15, -25.0)


def _quarantined_us_dollar(db, monitor, tmp_path: Path, clock: FakeClock, destination: str = "store") -> tuple[JobService, JobService]:
    path = write(tmp_path / "p.psv", HEADER, GOOD[0], GOOD[1], "A2|US0378331005|AAPL|5|1|US$|2026-01-05")
    svc = _service(db, monitor, tmp_path, clock)
    assert svc.importer.import_file(path, "positions", destination=destination).quarantined == 1
    fixed = _service(db, monitor, tmp_path, clock, identity={"version": 2, "fields": {"currency": {"source": "currency", "translate": {"US$": "USD"}}}})
    return svc, fixed


def test_replaying_into_a_file_destination_is_refused_and_leaves_the_file_whole(db, monitor, tmp_path: Path, clock) -> None:
    out = tmp_path / "out.jsonl"
    _, fixed = _quarantined_us_dollar(db, monitor, tmp_path, clock, destination=f"file://{out}")
    before = out.read_text()
    assert len(before.splitlines()) == 2
    dlq = DeadLetterQueue(fixed.importer)
    (entry,) = dlq.list()
    outcome = dlq.replay()
    assert outcome["replayed"] == []
    assert outcome["still_failing"] == {entry["id"]: f"its destination file://{out} is written whole by each load, so one record cannot be added to it; import the corrected delivery instead"}
    assert out.read_text() == before and dlq.list()[0]["status"] == "open"


def test_an_entry_replayed_twice_at_once_loads_once(db, monitor, tmp_path: Path, clock) -> None:
    from portico.jobs import DataImporter

    _, fixed = _quarantined_us_dollar(db, monitor, tmp_path, clock)

    class _RivalReplay:
        """A reference check that, the first time it runs, lets another replay of the same entry finish first."""

        data_types = ("positions",)

        def __init__(self) -> None:
            self.dlq: DeadLetterQueue | None = None
            self.entry: int | None = None

        def validate(self, data_type: str, rows: list[dict]) -> dict:
            if self.dlq is not None and self.entry is not None:
                rival, self.dlq = self.dlq, None
                assert rival.replay([self.entry])["replayed"] == [self.entry]
            return {}

    check = _RivalReplay()
    importer = DataImporter(db=db, clock=clock, formats=fixed.formats, sinks=fixed.sinks, validators=[check], mappings=fixed.importer.mappings)
    dlq = DeadLetterQueue(importer)
    (entry,) = dlq.list()
    check.dlq, check.entry = DeadLetterQueue(importer), entry["id"]
    outcome = dlq.replay([entry["id"]])
    assert outcome == {"replayed": [], "still_failing": {entry["id"]: "entry is replayed, not open"}}
    assert sorted(r["line"] for r in stored(db)) == [2, 3, 4]
    import sqlalchemy as sa

    with db.begin() as conn:
        counts = conn.execute(sa.text("SELECT rows_loaded, rows_quarantined FROM portico_import_loads WHERE status='committed'")).one()
    assert tuple(counts) == (3, 0)
