"""The import pipeline: stages, rejects, quarantine, idempotency, redelivery, control totals, mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico.jobs import FieldMapping
from tests.core.jobs.conftest import GOOD, HEADER, stored, write


def test_clean_file_loads_every_record_with_stages_and_totals(service, db, tmp_path: Path, monitor) -> None:
    path = write(tmp_path / "positions_20260105.psv", HEADER, *GOOD)
    result = service.importer.import_file(path, "positions")
    assert result.status == "loaded" and result.exit_code == 0
    assert (result.records, result.loaded, result.rejected, result.quarantined) == (3, 3, 0, 0)
    assert [s.name for s in result.stages] == ["arrival", "file_validation", "parsing", "record_validation", "mapping", "loading", "control_totals"]
    assert all(s.status == "ok" for s in result.stages)
    assert result.control_totals["source"]["sums"] == {"quantity": "345.25"}
    assert result.control_totals["loaded"] == {"records": 3, "sums": {"quantity": "345.25"}}
    rows = stored(db)
    assert [(r["line"], r["symbol"], r["quantity"], r["price"]) for r in rows] == [
        (2, "AAPL", "100", "190.5"),
        (3, "MSFT", "-5", "400"),
        (4, "AAPL", "250.25", "190.5"),
    ]
    assert Path(result.manifest_path).is_file()
    assert "jobs.import_completed" in monitor.names()


@pytest.mark.parametrize("columnar", [True, False])
def test_bad_records_rejected_with_line_and_field_unmapped_codes_quarantined(service, db, tmp_path: Path, columnar: bool) -> None:
    lines = [
        HEADER,
        GOOD[0],
        "A3|US0378331005|AAPL|abc|1|USD|2026-01-05",  # 3: not a number
        "A4|US0378331006|AAPL|1|1|USD|2026-01-05",  # 4: bad ISIN check digit
        "A5|US0378331005|AAPL|1|1|XXY|2026-01-05",  # 5: unmapped currency code
        "A6|US0378331005|AAPL|1|-1|USD|2026-01-05",  # 6: negative price
        "A7|US0378331005|AAPL|1|1|USD|2026-02-30",  # 7: impossible date
        GOOD[0],  # 8: duplicate of line 2
        "|US0378331005|AAPL|1|1|USD|2026-01-05",  # 9: missing account
    ]
    if not columnar:
        lines.append("A9|short")  # 10: ragged row: the per-record path reads the file
    result = service.importer.import_file(write(tmp_path / "p.psv", *lines), "positions")
    assert result.fast_path is columnar
    assert result.status == "partial" and result.exit_code == 3
    rejects = {r["line"]: r for r in result.rejects}
    assert rejects[3]["field"] == "quantity" and "'abc'" in rejects[3]["reason"]
    assert rejects[4]["field"] == "isin" and "check digit" in rejects[4]["reason"]
    assert rejects[6]["field"] == "price"
    assert rejects[7]["field"] == "date"
    assert "duplicate" in rejects[8]["reason"] and "line 2" in rejects[8]["reason"]
    assert rejects[9]["field"] == "account"
    if not columnar:
        assert "expected 7 fields, found 2" in rejects[10]["reason"]
    assert [(q["line"], q["field"], q["value"]) for q in result.quarantine] == [(5, "currency", "XXY")]
    assert result.loaded == 1
    assert result.loaded + result.rejected + result.quarantined == result.records
    assert [r["line"] for r in stored(db)] == [2]


def test_same_file_twice_is_a_noop(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    first = service.importer.import_file(path, "positions")
    before = stored(db)
    second = service.importer.import_file(path, "positions")
    assert second.status == "duplicate" and second.exit_code == 0 and second.load_id == first.load_id
    assert stored(db) == before


def test_corrected_redelivery_replaces_the_earlier_load(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.psv", HEADER, *GOOD, "A9|US0378331005|AAPL|1|1|XXY|2026-01-05")
    first = service.importer.import_file(path, "positions")
    assert first.quarantined == 1
    write(path, HEADER, GOOD[0], "A1|US5949181045|MSFT|-7|401|USD|2026-01-05")
    second = service.importer.import_file(path, "positions")
    assert second.status == "loaded" and second.supersedes == first.load_id
    assert [(r["symbol"], r["quantity"]) for r in stored(db)] == [("AAPL", "100"), ("MSFT", "-7")]
    from portico.jobs import DeadLetterQueue

    dlq = DeadLetterQueue(service.importer)
    assert dlq.list() == []  # the earlier load's quarantine is superseded with it
    assert dlq.list(status="superseded")[0]["value"] == "XXY"


def test_trailer_count_mismatch_fails_the_file_and_loads_nothing(service, db, tmp_path: Path, monitor) -> None:
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD, "TRAILER|4"), "positions")
    assert result.status == "failed" and result.exit_code == 1
    assert "trailer says 4 records, the file has 3" in result.error
    assert stored(db) == []
    ok = service.importer.import_file(write(tmp_path / "q.psv", HEADER, *GOOD, "TRAILER|3"), "positions")
    assert ok.status == "loaded" and ok.control_totals["trailer"] == 3
    assert "jobs.import_failed" in monitor.names()


def test_header_missing_a_needed_column_fails_the_file(service, db, tmp_path: Path) -> None:
    result = service.importer.import_file(write(tmp_path / "p.csv", "account,isin,symbol,quantity,price,date", "A1,US0378331005,AAPL,1,1,2026-01-05"), "positions")
    assert result.status == "failed" and "header lacks columns ['currency']" in result.error


def test_checksum_sidecar_is_verified(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    (tmp_path / "p.psv.sha256").write_text("0" * 64 + "  p.psv\n")
    result = service.importer.import_file(path, "positions")
    assert result.status == "failed" and "checksum mismatch" in result.error
    import hashlib

    (tmp_path / "p.psv.sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "  p.psv\n")
    result = service.importer.import_file(path, "positions")
    assert result.status == "loaded" and result.stage("file_validation").detail["checksum_verified"]


def test_empty_file_and_header_only_file_fail_with_an_alert(service, tmp_path: Path, monitor) -> None:
    (tmp_path / "e.psv").write_bytes(b"")
    assert service.importer.import_file(tmp_path / "e.psv", "positions").error.endswith("file is empty")
    result = service.importer.import_file(write(tmp_path / "h.psv", HEADER), "positions")
    assert result.status == "failed" and "no records" in result.error
    assert monitor.names().count("jobs.file_empty") == 2


def test_wrong_encoding_fails_naming_the_line(service, db, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(("account,isin,symbol,quantity,price,currency,date\nA1,US0378331005,AAPL,1,1,USD,2026-01-05\nMüller,US0378331005,AAPL,1,1,USD,2026-01-05\n").encode("latin-1"))
    result = service.importer.import_file(path, "positions")
    assert result.status == "failed" and "not valid utf-8" in result.error and "p.csv:3" in result.error
    assert stored(db) == []
    latin = service.importer.import_file(path, "positions", options={"encoding": "latin-1"}, source_key="latin")
    assert latin.status == "loaded" and stored(db)[1]["account"] == "Müller"


def test_dry_run_validates_but_writes_nothing(service, db, tmp_path: Path) -> None:
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD, "A|x|y|1|1|USD|2026-01-05"), "positions", dry_run=True)
    assert result.status == "dry_run" and result.loaded == 3 and result.rejected == 1 and result.exit_code == 3
    assert stored(db) == []
    assert service.importer.import_file(tmp_path / "p.psv", "positions").status == "partial"  # not marked loaded by the dry run


def test_declarative_mapping_rename_split_combine_constant_lookup_and_normalisation(service, db, tmp_path: Path) -> None:
    mapping = FieldMapping.model_validate(
        {
            "name": "custodian",
            "version": 3,
            "data_type": "positions",
            "lookups": {"books": {"B1": "ACC-ONE"}},
            "fields": {
                "account": {"source": "BOOK", "lookup": "books"},
                "isin": "ISIN_CODE",
                "symbol": {"split": "TICKER", "separator": " ", "index": 0},
                "quantity": {"source": "QTY", "decimal_separator": ",", "thousands_separator": "."},
                "price": {"source": "PX"},
                "currency": {"source": "CCY", "translate": {"US$": "USD"}},
                "date": {"source": "ASOF", "format": "%d/%m/%Y"},
            },
        }
    )
    path = write(
        tmp_path / "c.csv",
        "BOOK;ISIN_CODE;TICKER;QTY;PX;CCY;ASOF",
        "B1;US0378331005;AAPL US;1.234,5;190.5;US$;05/01/2026",
        "B2;US0378331005;AAPL US;1;1;USD;05/01/2026",
        "B1;US5949181045;MSFT US;2;1;ZZZ;05/01/2026",
    )
    result = service.importer.import_file(path, "positions", mapping=mapping, options={"delimiter": ";"})
    rows = stored(db)
    assert [(r["account"], r["symbol"], r["quantity"], r["currency"], r["date"]) for r in rows] == [("ACC-ONE", "AAPL", "1234.5", "USD", "2026-01-05")]
    assert {(q["field"], q["value"]) for q in result.quarantine} == {("account", "B2"), ("currency", "ZZZ")}
    assert result.mapping == "custodian" and result.mapping_version == 3
    mapping2 = FieldMapping.model_validate({"fields": {"account": {"combine": ["A", "B"], "separator": "-"}, "symbol": {"constant": "X"}}})
    path2 = write(tmp_path / "d.csv", "A,B,isin,quantity,price,currency,date", "x,1,US0378331005,1,2,usd,2026-01-05")
    service.importer.import_file(path2, "positions", mapping=mapping2)
    assert [(r["account"], r["symbol"], r["currency"]) for r in stored(db)][-1] == ("x-1", "X", "USD")


def test_reference_check_validator_quarantines(db, clock, monitor, tmp_path: Path) -> None:
    from portico.jobs import JobService
    from portico.plugins import PluginManager

    class KnownIsins:
        data_types = ("positions",)

        def validate(self, data_type, records):
            return {i: f"unknown ISIN {r['isin']}" for i, r in enumerate(records) if r["isin"] != "US0378331005"}

    class Plugin:
        from portico.hookspecs import hookimpl

        @hookimpl
        def portico_record_validators(self):
            return [KnownIsins()]

    pm = PluginManager(autoload=False)
    pm.register(Plugin(), name="refcheck")
    svc = JobService(db=db, clock=clock, monitor=monitor, plugins=pm)
    result = svc.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD), "positions")
    assert result.loaded == 2 and result.quarantined == 1
    assert "reference check: unknown ISIN US5949181045" in result.quarantine[0]["reason"]


def test_row_count_change_beyond_ten_percent_alerts(service, tmp_path: Path, monitor, clock) -> None:
    write(tmp_path / "pos_20260105.psv", HEADER, *[f"A{i}|US0378331005|AAPL|1|1|USD|2026-01-05" for i in range(20)])
    write(tmp_path / "pos_20260106.psv", HEADER, *[f"A{i}|US0378331005|AAPL|1|1|USD|2026-01-06" for i in range(21)])
    write(tmp_path / "pos_20260107.psv", HEADER, *[f"A{i}|US0378331005|AAPL|1|1|USD|2026-01-07" for i in range(30)])
    for name in ("pos_20260105.psv", "pos_20260106.psv"):
        service.importer.import_file(tmp_path / name, "positions")
        clock.advance(86400)
    assert "jobs.row_count_changed" not in monitor.names()  # 5% is within tolerance
    service.importer.import_file(tmp_path / "pos_20260107.psv", "positions")
    event = next(e for e in monitor.events if e[0] == "jobs.row_count_changed")
    assert event[2]["previous"] == 21 and event[2]["current"] == 30 and event[1] == "warning"


def test_unknown_data_type_and_mapping_fail_clearly(service, tmp_path: Path) -> None:
    from portico.errors import ConfigurationError

    path = write(tmp_path / "p.psv", HEADER, *GOOD)
    with pytest.raises(ConfigurationError, match="known record types"):
        service.importer.import_file(path, "widgets")
    result = service.importer.import_file(path, "positions", mapping="nope")
    assert result.status == "failed" and "unknown mapping 'nope'" in result.error


def test_the_store_refuses_a_second_committed_load_of_one_delivery(service, db, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from portico.jobs._tables import job_tables

    first = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *GOOD), "positions")
    loads = job_tables()["loads"]
    with db.begin() as conn:
        row = dict(conn.execute(sa.select(loads).where(loads.c.load_id == first.load_id)).mappings().one())
    row.update(load_id="racing-process", checksum="0" * 64, load_no=None)
    with pytest.raises(sa.exc.IntegrityError), db.begin() as conn:
        conn.execute(loads.insert().values(**row))


def test_bulk_insert_in_multi_row_statements_keeps_every_row_and_line(service, db, tmp_path: Path) -> None:
    rows = [f"A{i:04d}|US0378331005|AAPL|{i}|1.5|USD|2026-01-05" for i in range(257)]  # 2 full statements + 57
    result = service.importer.import_file(write(tmp_path / "bulk.psv", HEADER, *rows), "positions")
    assert result.fast_path and result.loaded == 257
    loaded = stored(db)
    assert [(r["line"], r["account"], r["quantity"]) for r in loaded] == [(i + 2, f"A{i:04d}", str(i)) for i in range(257)]
    assert result.control_totals["loaded"]["sums"] == {"quantity": str(sum(range(257)))}
