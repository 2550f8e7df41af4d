"""Ordinary files on the columnar path: quoted fields, blank lines, gzip, BOM, CRLF, transactions, prices.

Each file is imported twice, columnar and per record, and both runs must account for every record the
same way: the same rows loaded from the same lines, the same rejects (line, field, reason), the same
quarantined records and control-total sums. The columnar run must also have stayed columnar (or, for
input only the per-record reader reads exactly, have fallen back to it).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portico.jobs import DataImporter
from portico.jobs._fast_read import well_formed_pattern

HEADER = "account|isin|symbol|quantity|price|currency|date"
ROWS = [
    "A1|US0378331005|AAPL|100|190.5|USD|2026-01-05",
    "A1|US5949181045|MSFT|-5|400|USD|2026-01-05",
    "A2|US0378331005|AAPL|250.25|190.5|EUR|2026-01-05",
    "A3|US0378331006|AAPL|1|1|USD|2026-01-05",  # check digit wrong: rejected naming isin
    "A4|US0378331005|AAPL|1|1|XXY|2026-01-05",  # not a currency
    "A1|US0378331005|AAPL|7|190.5|USD|2026-01-05",  # duplicate of line 2
]


def _outcome(
    db: Any, path: Path, data_type: str, columnar: bool, table: str, fields: str
) -> tuple[Any, bool]:
    from portico.clock import FakeClock
    from portico.jobs._registry import collect

    formats, sinks, _ = collect(None)
    importer = DataImporter(db=db, clock=FakeClock(), formats=formats, sinks=sinks, columnar=columnar)
    result = importer.import_file(path, data_type, source_key=f"{path.name}-{columnar}")
    assert result.status in ("loaded", "partial"), result.error
    with db.begin() as conn:
        loaded = conn.execute(
            sa.text(
                f"SELECT line, {fields} FROM {table} p JOIN portico_import_load_numbers n ON n.load_no = p.load_no WHERE n.load_id = :l ORDER BY line"
            ),
            {"l": result.load_id},
        ).all()
    outcome = (
        result.status,
        result.records,
        [tuple(r) for r in loaded],
        [(r["line"], r["field"], r["reason"]) for r in result.rejects],
        [(q["line"], q["field"], q["reason"]) for q in result.quarantine],
        result.control_totals["source"]["sums"],
    )
    return outcome, result.fast_path


POSITION_FIELDS = "account, isin, symbol, quantity, price, currency, date"


def _agree(
    db: Any,
    path: Path,
    *,
    data_type: str = "positions",
    table: str = "portico_import_positions",
    fields: str = POSITION_FIELDS,
    columnar: bool = True,
) -> Any:
    fast, fast_path = _outcome(db, path, data_type, True, table, fields)
    slow, slow_path = _outcome(db, path, data_type, False, table, fields)
    assert not slow_path
    assert fast_path is columnar
    assert fast == slow
    return fast


def _quote(row: str) -> str:
    return "|".join(f'"{c}"' for c in row.split("|"))


CASES: dict[str, bytes] = {
    "one_quoted_field": (
        HEADER
        + "\n"
        + "\n".join(
            [
                *ROWS[:1],
                'A5|US5949181045|"MS""FT"|3|2|USD|2026-01-05',
                'A6|US5949181045|"a|b"|3|2|USD|2026-01-05',
                *ROWS[1:],
            ]
        )
        + "\n"
    ).encode(),
    "every_field_quoted": ("\n".join(_quote(r) for r in [HEADER, *ROWS]) + "\n").encode(),
    "blank_lines": (HEADER + "\n" + ROWS[0] + "\n\n" + "\n".join(ROWS[1:]) + "\n\n").encode(),
    "bom": ("\ufeff" + HEADER + "\n" + "\n".join(ROWS) + "\n").encode(),
    "crlf": (HEADER + "\r\n" + "\r\n".join(ROWS) + "\r\n\r\n").encode(),
    "crlf_quoted": ("\r\n".join(_quote(r) for r in [HEADER, *ROWS]) + "\r\n").encode(),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_ordinary_file_stays_columnar_with_the_same_accounting(
    db, tmp_path: Path, name: str, compressed: bool
) -> None:
    body = CASES[name]
    path = tmp_path / f"{name}.psv"
    path.write_bytes(gzip.compress(body, mtime=0) if compressed else body)
    status, records, loaded, rejects, quarantined, sums = _agree(db, path)
    assert status == "partial"
    assert records == len(ROWS) + (2 if name == "one_quoted_field" else 0)
    lines = [row[0] for row in loaded]
    assert len(loaded) == records - 3
    reasons = {reason.split(":")[0].split(" (")[0] for _, _, reason in rejects}
    assert reasons == {"isin", "duplicate record"}, rejects
    assert [field for _, field, _ in quarantined] == ["currency"]  # an unknown code waits for a mapping
    if name == "blank_lines":
        assert lines == [2, 4, 5]  # the blank line 3 is skipped, numbering stays physical
        assert sorted(line for line, _, _ in rejects) == [6, 8]
        assert quarantined[0][0] == 7
    if name == "one_quoted_field":
        symbols = {row[3] for row in loaded}
        assert {'MS"FT', "a|b"} <= symbols
    assert sums == {"quantity": "345.25" if name != "one_quoted_field" else "351.25"}


@pytest.mark.parametrize(
    "body",
    [
        HEADER
        + '\nA1|US0378331005|"AA\nPL"|100|190.5|USD|2026-01-05\nA2|US0378331005|AAPL|1|1|USD|2026-01-05\n',  # a field spanning lines
        HEADER
        + '\nA1|US0378331005|AA"PL|100|190.5|USD|2026-01-05\nA2|US0378331005|AAPL|1|1|USD|2026-01-05\n',  # a quote inside a field
        HEADER
        + "\nA1|US0378331005|AAPL|100|190.5|USD\nA2|US0378331005|AAPL|1|1|USD|2026-01-05|x\n",  # field counts differ
        HEADER
        + "\nA1|US0378331005|AAPL|100|190.5|USD|2026-01-05\n   \nA2|US0378331005|AAPL|1|1|USD|2026-01-06\n",  # a line of spaces is a record
    ],
    ids=["field_spans_lines", "quote_inside", "ragged", "spaces_line"],
)
def test_input_the_columnar_reader_cannot_read_exactly_falls_back(db, tmp_path: Path, body: str) -> None:
    path = tmp_path / "odd.psv"
    path.write_text(body, encoding="utf-8")
    _agree(db, path, columnar=False)


def test_well_formed_pattern_counts_fields_and_quotes() -> None:
    import re

    pattern = re.compile(
        well_formed_pattern("|", '"', 3).replace("\\x{7C}", "\\x7C").replace("\\x{22}", "\\x22")
    )
    assert pattern.match('a|"b|c"|d')
    assert pattern.match('""|"x""y"|z\r')
    assert not pattern.match('a|"b|c"')  # two fields
    assert not pattern.match('a|b"c|d')  # quote inside an unquoted field
    assert not pattern.match('a|"b|d')  # unclosed


TX_HEADER = "transaction_id|account|trade_date|settle_date|type|symbol|isin|quantity|price|amount|currency"
TX_ROWS = [
    "T1|A1|2026-01-05|2026-01-07|buy|AAPL|US0378331005|10|190.5|1905|USD",
    "T2|A1|2026-01-05||sell|MSFT||-5|400|-2000|USD",
    "T3|A1|2026-01-05|2026-01-02|buy|AAPL|US0378331005|1|1|1|USD",  # settles before trade
    "T4|A1|2026-01-05|2026-01-05|fee|AAPL||0||-1.5|USD",
]


def test_transactions_stay_columnar_and_the_model_rule_rejects_the_same_record(db, tmp_path: Path) -> None:
    path = tmp_path / "tx.psv"
    path.write_text(TX_HEADER + "\n" + "\n".join(TX_ROWS) + "\n", encoding="utf-8")
    status, records, loaded, rejects, _, sums = _agree(
        db,
        path,
        data_type="transactions",
        table="portico_import_transactions",
        fields="transaction_id, settle_date, price, amount",
    )
    assert (status, records) == ("partial", 4)
    assert [row[1] for row in loaded] == ["T1", "T2", "T4"]
    assert rejects == [(4, None, "record: Value error, settle_date is before trade_date")]
    assert sums == {"quantity": "5", "amount": "-96.5"}


def test_prices_without_optional_columns_stay_columnar_and_high_below_low_is_rejected(
    db, tmp_path: Path
) -> None:
    path = tmp_path / "px.csv"
    path.write_text(
        "symbol,date,close,currency,high,low\n"
        "AAPL,2026-01-05,190.5,USD,191,189.25\n"
        "MSFT,2026-01-05,400,USD,399,401\n"  # high below low
        "XYZ,2026-01-05,12,USD,,\n",
        encoding="utf-8",
    )
    status, records, loaded, rejects, _, sums = _agree(
        db,
        path,
        data_type="prices",
        table="portico_import_prices",
        fields="symbol, close, open, high, low, source",
    )
    assert (status, records) == ("partial", 3)
    assert loaded == [
        (2, "AAPL", "190.5", None, "191", "189.25", None),
        (4, "XYZ", "12", None, None, None, None),
    ]
    assert rejects == [(3, None, "record: Value error, high is below low")]
    assert sums == {"close": "202.5"}


def test_a_gzip_file_rewritten_during_a_columnar_import_loads_nothing(db, tmp_path: Path) -> None:
    from portico.clock import FakeClock
    from portico.jobs import JobService

    original = (
        HEADER
        + "\n"
        + "\n".join(f"A{i}|US0378331005|AAPL|{100 + i}|1|USD|2026-01-05" for i in range(6))
        + "\n"
    ).encode()
    changed = original.replace(b"|10", b"|90")
    path = tmp_path / "p.psv.gz"
    path.write_bytes(gzip.compress(original, mtime=0))

    class Rewriting:
        done = False

        def emit(self, event: str, **data: Any) -> None:
            if event == "jobs.chunk_loaded" and not self.done:
                self.done = True
                path.write_bytes(gzip.compress(changed, mtime=0))

    svc = JobService(db=db, clock=FakeClock(), monitor=Rewriting(), config={"data_import": {"chunk_rows": 2}})
    try:
        result = svc.importer.import_file(path, "positions")
        assert result.status == "failed" and result.loaded == 0
        assert "the file changed while it was being imported" in (result.error or "")
        assert "columnar_fallback" not in result.stage("parsing").detail
        with db.begin() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM portico_import_positions")).scalar() == 0
    finally:
        svc.shutdown()


@pytest.mark.parametrize(
    "value",
    ["AA\tPL", "AA\x01PL", "AA\u0085PL", "AA\x7fPL", "£AAPL"],
    ids=["tab", "c0", "c1", "del", "pound"],
)
def test_a_control_character_in_a_value_is_judged_as_per_record(db, tmp_path: Path, value: str) -> None:
    path = tmp_path / "ctl.psv"
    body = [*ROWS[:3], f"A9|US0378331005|{value}|1|1|USD|2026-01-05"]
    path.write_bytes((HEADER + "\r\n" + "\r\n".join(body) + "\r\n").encode())
    status, records, loaded, rejects, _, _ = _agree(db, path)
    assert records == 4
    if value == "£AAPL":
        assert status == "loaded" and len(loaded) == 4
    else:
        assert [(line, field) for line, field, _ in rejects] == [(5, "symbol")]
