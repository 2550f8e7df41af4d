"""The store's bulk paths: exact control totals summed inside SQLite, and COPY on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from portico.jobs import JobService
from portico.jobs._sinks import _StoreSession
from portico.store import Database
from tests.core.jobs.conftest import HEADER, write


def _rows(quantities: list[str]) -> list[str]:
    return [f"A{i}|US0378331005|AAPL|{q}|1|USD|2026-01-05" for i, q in enumerate(quantities)]


@pytest.mark.parametrize(
    ("quantities", "in_sql", "total"),
    [
        (
            ["-0.5", "12.000000000001", "100", "-99999999999999999.25", "0", "-0"],
            True,
            "-99999999999999887.749999999999",
        ),
        (
            [
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
                "999999999999999999",
            ],
            False,
            "9999999999999999990",
        ),  # the integer sum overflows 64 bits
        (
            ["1234567890123456789.5", "1"],
            False,
            "1234567890123456790.5",
        ),  # 19 whole digits: summed as Decimal
    ],
    ids=["in_sqlite", "overflow", "wide"],
)
def test_sqlite_control_totals_are_exact_in_sql_or_by_reading_back(
    service, tmp_path: Path, monkeypatch, quantities: list[str], in_sql: bool, total: str
) -> None:
    used: list[bool] = []
    original = _StoreSession._sqlite_sums

    def spy(self: _StoreSession, fields: list[str]) -> dict[str, Decimal] | None:
        out = original(self, fields)
        used.append(out is not None)
        return out

    monkeypatch.setattr(_StoreSession, "_sqlite_sums", spy)
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, *_rows(quantities)), "positions")
    assert result.error is None and result.status == "loaded"
    assert used == [in_sql]
    assert result.control_totals["source"]["sums"] == {"quantity": total}
    assert result.control_totals["loaded"]["sums"] == {"quantity": total}


@pytest.fixture
def postgres_db() -> Iterator[Database]:
    base = os.environ.get("PORTICO_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PORTICO_TEST_POSTGRES_URL is not set")
    psycopg = pytest.importorskip("psycopg")
    import sqlalchemy as sa

    url = sa.engine.make_url(base)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"portico_bulk_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = Database(
        url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    )
    try:
        yield database
    finally:
        database.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar", "per-record"])
def test_postgresql_loads_through_copy_with_every_value_and_line(
    postgres_db: Database, clock, tmp_path: Path, monkeypatch, columnar: bool
) -> None:
    import sqlalchemy as sa

    copied: list[int] = []
    original = _StoreSession._copy

    def spy(self: _StoreSession, rows: list[tuple[object, ...]]) -> bool:
        done = original(self, rows)
        copied.append(len(rows) if done else -1)
        return done

    monkeypatch.setattr(_StoreSession, "_copy", spy)
    lines = [
        f"A{i}|US0378331005|S\\{i}\t|{i}.5|1|USD|2026-01-05"
        if i == 7
        else f"A{i}|US0378331005|AAPL|{i}.5|1|USD|2026-01-05"
        for i in range(300)
    ]
    svc = JobService(db=postgres_db, clock=clock, config={"data_import": {"chunk_rows": 100}})
    svc.importer.columnar = columnar
    try:
        result = svc.importer.import_file(write(tmp_path / "p.psv", HEADER, *lines), "positions")
    finally:
        svc.shutdown()
    assert result.error is None and result.status == "loaded" and result.loaded == 300
    assert sum(copied) == 300 and all(n > 0 for n in copied)
    assert result.control_totals["loaded"] == {"records": 300, "sums": {"quantity": "45000"}}
    with postgres_db.begin() as conn:
        rows = conn.execute(
            sa.text("SELECT line, account, symbol, quantity FROM portico_import_positions ORDER BY line")
        ).all()
    assert [r.line for r in rows] == list(range(2, 302))
    assert rows[7] == (9, "A7", "S\\7", "7.5")  # a backslash survives COPY; edge whitespace is trimmed


def test_postgresql_copy_of_a_columnar_chunk_keeps_quotes_nulls_and_copy_markers(
    postgres_db: Database, clock, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    header = "transaction_id|account|trade_date|settle_date|type|symbol|isin|quantity|price|amount|currency"
    lines = [
        'T1|A1|2026-01-05|2026-01-07|buy|"say ""hi"""|US0378331005|10|1.5|15|USD',  # quotes inside
        "T2|A1|2026-01-05||sell|\\.||3||-4.5|EUR",  # empty optional fields; a lone \. as a value
        "T3|A1|2026-01-05|2026-01-06|buy|a,b\\N|US0378331005|1|2|2|USD",  # CSV and text-format markers
    ]
    svc = JobService(db=postgres_db, clock=clock)
    try:
        result = svc.importer.import_file(write(tmp_path / "t.psv", header, *lines), "transactions")
    finally:
        svc.shutdown()
    assert result.error is None and result.status == "loaded" and result.loaded == 3
    assert result.fast_path is True
    with postgres_db.begin() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT line, settle_date, symbol, isin, price, amount FROM portico_import_transactions ORDER BY line"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (2, "2026-01-07", 'say "hi"', "US0378331005", "1.5", "15"),
        (3, None, "\\.", None, None, "-4.5"),
        (4, "2026-01-06", "a,b\\N", "US0378331005", "2", "2"),
    ]
