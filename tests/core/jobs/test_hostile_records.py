"""Hostile records: duplicate fields, control characters, byte-order marks (issue 14 items 4, 21, 22).

Every case states the outcome it expects: which line is rejected, naming which field, and what is
loaded. Both the columnar fast path and the per-record path are exercised where they apply.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portico.jobs import DataImporter
from tests.core.jobs.conftest import GOOD, HEADER, stored, write

CSV_HEADER = HEADER.replace("|", ",")
ROW = {"account": "A1", "isin": "US0378331005", "symbol": "AAPL", "quantity": "100", "price": "190.5", "currency": "USD", "date": "2026-01-05"}
PRICE_HEADER = "symbol|date|close|currency"


def _importer(db, clock, *, columnar: bool) -> DataImporter:
    from portico.jobs._registry import collect

    formats, sinks, _ = collect(None)
    return DataImporter(db=db, clock=clock, formats=formats, sinks=sinks, columnar=columnar)


# -- 14.4 duplicate fields -------------------------------------------------------------------------


def test_json_record_with_a_repeated_key_is_rejected_naming_the_field(service, db, tmp_path: Path) -> None:
    body = '[{"symbol": "AAPL", "date": "2026-01-05", "close": "1", "currency": "USD", "close": "999"},\n' ' {"symbol": "MSFT", "date": "2026-01-05", "close": "2", "currency": "USD"}]'
    path = tmp_path / "prices.json"
    path.write_text(body)
    result = service.importer.import_file(path, "prices")
    assert result.status == "partial", result.error
    assert (result.loaded, result.rejected) == (1, 1)
    assert result.rejects == [{"line": 1, "field": "close", "reason": "duplicate field 'close' in the record"}]
    assert [r["symbol"] for r in stored(db, "portico_import_prices")] == ["MSFT"]


def test_jsonl_record_with_a_repeated_key_is_rejected_with_its_line(service, db, tmp_path: Path) -> None:
    good = json.dumps({"symbol": "MSFT", "date": "2026-01-05", "close": "2", "currency": "USD"})
    dup = '{"symbol": "AAPL", "date": "2026-01-05", "close": "1", "currency": "USD", "close": "999"}'
    result = service.importer.import_file(write(tmp_path / "prices.jsonl", good, dup, good.replace("MSFT", "IBM")), "prices")
    assert (result.loaded, result.rejected) == (2, 1)
    assert result.rejects == [{"line": 2, "field": "close", "reason": "duplicate field 'close' in the record"}]
    assert sorted(r["close"] for r in stored(db, "portico_import_prices")) == ["2", "2"]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ("<record><symbol>AAPL</symbol><date>2026-01-05</date><close>1</close><currency>USD</currency><close>999</close></record>", "close"),
        ('<record close="1"><symbol>AAPL</symbol><date>2026-01-05</date><currency>USD</currency><close>999</close></record>', "close"),
    ],
    ids=["two-elements", "attribute-and-element"],
)
def test_xml_record_with_a_repeated_field_is_rejected(service, db, tmp_path: Path, record: str, field: str) -> None:
    good = "<record><symbol>MSFT</symbol><date>2026-01-05</date><close>2</close><currency>USD</currency></record>"
    path = tmp_path / "prices.xml"
    path.write_text(f"<records>{good}{record}</records>")
    result = service.importer.import_file(path, "prices")
    assert (result.loaded, result.rejected) == (1, 1), result.error
    assert result.rejects == [{"line": 2, "field": field, "reason": f"duplicate field '{field}' in the record"}]
    assert [r["close"] for r in stored(db, "portico_import_prices")] == ["2"]


def test_parquet_with_a_repeated_column_name_fails_like_a_csv_header(service, db, tmp_path: Path) -> None:
    import polars as pl

    # polars refuses to build such a frame; write the file with two identical column names through arrow
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_arrays([pa.array(["AAPL"]), pa.array(["2026-01-05"]), pa.array(["1"]), pa.array(["USD"]), pa.array(["999"])], names=["symbol", "date", "close", "currency", "close"])
    path = tmp_path / "prices.parquet"
    pq.write_table(table, path)
    assert pl  # polars is what reads it
    result = service.importer.import_file(path, "prices")
    assert result.status == "failed"
    assert "repeated column names" in result.error and "close" in result.error
    assert stored(db, "portico_import_prices") == []


# -- 14.21 control characters ----------------------------------------------------------------------


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar", "per-record"])
@pytest.mark.parametrize(("char", "code"), [("\x00", "U+0000"), ("\x07", "U+0007"), ("\x1b", "U+001B"), ("\x7f", "U+007F"), ("\x85", "U+0085"), ("\t", "U+0009")])
def test_control_character_inside_a_text_field_is_rejected_naming_it(db, clock, tmp_path: Path, columnar: bool, char: str, code: str) -> None:
    path = tmp_path / "p.psv"
    path.write_text(HEADER + "\n" + GOOD[0] + "\n" + f"A1|US5949181045|MS{char}FT|-5|400|USD|2026-01-05" + "\n", encoding="utf-8")
    result = _importer(db, clock, columnar=columnar).import_file(path, "positions")
    assert (result.loaded, result.rejected) == (1, 1), result.error
    assert result.rejects[0]["line"] == 3 and result.rejects[0]["field"] == "symbol"
    assert f"control character {code}" in result.rejects[0]["reason"]
    assert [r["symbol"] for r in stored(db)] == ["AAPL"]


@pytest.mark.parametrize("columnar", [True, False], ids=["columnar", "per-record"])
def test_surrounding_tabs_and_spaces_are_trimmed_not_rejected(db, clock, tmp_path: Path, columnar: bool) -> None:
    path = tmp_path / "p.psv"
    path.write_text(HEADER + "\n" + "A1|US0378331005|\tAAPL \t|100|190.5|USD|2026-01-05\n", encoding="utf-8")
    result = _importer(db, clock, columnar=columnar).import_file(path, "positions")
    assert result.status == "loaded", result.rejects
    assert [r["symbol"] for r in stored(db)] == ["AAPL"]


def test_line_break_inside_a_quoted_csv_field_is_rejected(service, db, tmp_path: Path) -> None:
    """Decision: no canonical field holds multi-line text, so a quoted CR/LF inside a value is refused."""
    path = write(tmp_path / "p.csv", CSV_HEADER, '"A\nB",US0378331005,AAPL,1,1,USD,2026-01-05', '"A\r\nC",US0378331005,AAPL,1,1,USD,2026-01-06', GOOD[0].replace("|", ","))
    result = service.importer.import_file(path, "positions")
    assert (result.loaded, result.rejected) == (1, 2)
    assert [(r["line"], r["field"]) for r in result.rejects] == [(2, "account"), (4, "account")]
    assert "control character U+000A" in result.rejects[0]["reason"]


def test_nul_in_a_json_value_is_rejected(service, db, tmp_path: Path) -> None:
    rows = [{**ROW, "account": "A\u00001"}, {**ROW, "date": "2026-01-06"}]
    result = service.importer.import_file(write(tmp_path / "p.json", json.dumps(rows)), "positions")
    assert (result.loaded, result.rejected) == (1, 1)
    assert result.rejects[0]["field"] == "account" and "control character U+0000" in result.rejects[0]["reason"]


def test_control_character_in_a_code_field_is_rejected_not_quarantined(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.psv", HEADER, GOOD[0].replace("|USD|", "|US\x00D|"), GOOD[1])
    result = service.importer.import_file(path, "positions")
    assert (result.loaded, result.rejected, result.quarantined) == (1, 1, 0)
    assert result.rejects[0]["field"] == "currency" and "control character U+0000" in result.rejects[0]["reason"]


# -- 14.22 byte-order marks ------------------------------------------------------------------------


def test_bom_before_a_quoted_csv_header_is_accepted(service, db, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    header = ",".join(f'"{c}"' for c in CSV_HEADER.split(","))
    path.write_bytes(("\ufeff" + header + "\r\n" + '"A1","US0378331005","AAPL","100","190.5","USD","2026-01-05"\r\n').encode("utf-8"))
    result = service.importer.import_file(path, "positions")
    assert result.status == "loaded", result.error
    assert [(r["account"], r["quantity"]) for r in stored(db)] == [("A1", "100")]


@pytest.mark.parametrize(("name", "body"), [("p.json", json.dumps([ROW])), ("p.jsonl", json.dumps(ROW) + "\n")])
def test_bom_before_json_is_accepted(service, db, tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_bytes(("\ufeff" + body).encode("utf-8"))
    result = service.importer.import_file(path, "positions")
    assert result.status == "loaded", (result.error, result.rejects)
    assert [r["account"] for r in stored(db)] == ["A1"]
