"""Fuzzing the parsers: arbitrary input never crashes the process, and every record is accounted for.

The corpus under ``corpus/`` keeps the hostile and broken files found or built so far; each is
imported with its expected outcome in ``corpus/expected.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portico.jobs import DataImporter
from tests.core.jobs.conftest import HEADER, stored

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_outcome(service, db, tmp_path: Path, name: str) -> None:
    result = service.importer.import_file(CORPUS / name, "positions")
    assert result.status == EXPECTED[name], result.error
    if result.status == "failed":
        assert result.error and result.loaded == 0
        assert stored(db) == []
    else:
        assert result.loaded + result.rejected + result.quarantined == result.records
        assert len(stored(db)) == result.loaded


def _check_accounting(service, db, path: Path, fmt: str) -> None:
    result = service.importer.import_file(path, "positions", format=fmt, source_key=path.name + str(path.stat().st_mtime_ns))
    assert result.status in ("loaded", "partial", "failed", "duplicate")
    if result.status == "failed":
        assert result.error
    elif result.status != "duplicate":
        assert result.loaded + result.rejected + result.quarantined == result.records


@pytest.mark.parametrize("fmt", ["csv", "psv", "json", "jsonl", "xml", "xlsx", "parquet"])
@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"\x1f\x8b\x08\x00garbage")
@example(data=b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>")
def test_arbitrary_bytes_never_crash(service, db, tmp_path: Path, fmt: str, data: bytes) -> None:
    path = tmp_path / f"fuzz.{fmt}"
    path.write_bytes(data)
    _check_accounting(service, db, path, fmt)


_cell = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="|\n\r"), max_size=12),
    st.sampled_from(["US0378331005", "US5949181045", "100", "-5", "1.50", "007", "+3", "1e3", "USD", "usd", "XXY", "2026-01-05", "2026-02-30", " A1 ", "", "0", "-0"]),
)


@FUZZ
@given(rows=st.lists(st.lists(_cell, min_size=7, max_size=7), min_size=1, max_size=25))
def test_columnar_and_per_record_paths_agree(db, clock, tmp_path: Path, rows: list[list[str]]) -> None:
    """The polars fast path loads, rejects and quarantines exactly what the per-record path does."""
    from portico.jobs._registry import collect

    formats, sinks, _ = collect(None)
    path = tmp_path / "agree.psv"
    path.write_text(HEADER + "\n" + "".join("|".join(r) + "\n" for r in rows), encoding="utf-8")
    outcomes = []
    for columnar in (True, False):
        importer = DataImporter(db=db, clock=clock, formats=formats, sinks=sinks, columnar=columnar)
        result = importer.import_file(path, "positions", source_key=f"agree-{columnar}-{path.stat().st_mtime_ns}-{len(rows)}-{hash(str(rows))}", dry_run=False)
        import sqlalchemy as sa

        with db.begin() as conn:
            loaded = sorted(tuple(r) for r in conn.execute(sa.text("SELECT line, account, isin, symbol, quantity, price, currency, date FROM portico_import_positions p JOIN portico_import_load_numbers n ON n.load_no = p.load_no WHERE n.load_id = :l"), {"l": result.load_id}).all()) if result.load_id else []
        outcomes.append((result.status, loaded, sorted(r["line"] for r in result.rejects), sorted(q["line"] for q in result.quarantine), result.control_totals.get("source", {}).get("sums")))
    assert outcomes[0] == outcomes[1]
