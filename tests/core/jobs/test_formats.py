"""Every format reads and writes; gzip is transparent; hostile and broken input fails cleanly."""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from portico.jobs import escape_formula
from tests.core.jobs.conftest import GOOD, HEADER, stored, write

ROWS = [dict(zip(HEADER.split("|"), line.split("|"), strict=True)) for line in GOOD]
COLUMNS = HEADER.split("|")
FIXED = {"columns": [{"name": "account", "width": 6}, {"name": "isin", "width": 12}, {"name": "symbol", "width": 6}, {"name": "quantity", "width": 10}, {"name": "price", "width": 10}, {"name": "currency", "width": 3}, {"name": "date", "width": 10}]}


_FORMATS = [
    ("csv", ".csv", {}),
    ("psv", ".psv", {}),
    ("json", ".json", {}),
    ("jsonl", ".jsonl", {}),
    ("xml", ".xml", {}),
    ("fixed_width", ".fw", FIXED),
    ("xlsx", ".xlsx", {}),
    ("parquet", ".parquet", {}),
]


# zip (xlsx) and parquet containers are compressed already: no gzip variant for them
@pytest.mark.parametrize(
    ("fmt", "suffix", "options", "gzipped"),
    [(*f, False) for f in _FORMATS] + [(*f, True) for f in _FORMATS if f[0] not in ("xlsx", "parquet")],
)
def test_every_format_round_trips_through_writer_and_importer(service, db, tmp_path: Path, fmt: str, suffix: str, options: dict, gzipped: bool) -> None:
    writer = service.formats.get(fmt)
    buf = io.BytesIO()
    assert writer.write(ROWS, COLUMNS, buf, options) == 3
    data = buf.getvalue()
    path = tmp_path / f"positions{suffix}{'.gz' if gzipped else ''}"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    result = service.importer.import_file(path, "positions", options=options)
    assert result.status == "loaded", result.error
    assert result.format == fmt
    assert [(r["account"], r["quantity"], r["currency"]) for r in stored(db)] == [("A1", "100", "USD"), ("A1", "-5", "USD"), ("A2", "250.25", "EUR")]


def test_csv_options_from_config_delimiter_quotechar_encoding(db, clock, tmp_path: Path) -> None:
    from portico.jobs import JobService

    svc = JobService(db=db, clock=clock, config={"data_import": {"formats": {"csv": {"delimiter": ";", "quotechar": "'", "encoding": "latin-1"}}}})
    path = tmp_path / "p.csv"
    path.write_bytes("account;isin;symbol;quantity;price;currency;date\n'Müller; AG';US0378331005;AAPL;1;2;USD;2026-01-05\n".encode("latin-1"))
    result = svc.importer.import_file(path, "positions")
    assert result.status == "loaded", result.error
    assert stored(db)[0]["account"] == "Müller; AG"


def test_csv_quoted_field_spanning_lines_keeps_line_numbers_exact(service, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "account,isin,symbol,quantity,price,currency,date", '"A\nB",US0378331005,AAPL,1,1,USD,2026-01-05', "A2,US0378331005,AAPL,x,1,USD,2026-01-05")
    result = service.importer.import_file(path, "positions")
    assert result.fast_path is False
    # the quoted line break itself is refused (no canonical field is multi-line); numbering stays physical
    assert [(r["line"], r["field"]) for r in result.rejects] == [(2, "account"), (4, "quantity")]


def test_malformed_rows_are_rejected_and_the_rest_loads(service, db, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "account,isin,symbol,quantity,price,currency,date", "A1,US0378331005,AAPL,1,1,USD,2026-01-05", 'A2,"US0378331005"x,AAPL,1,1,USD,2026-01-05', "A3,US0378331005,AAPL,1,1,USD,2026-01-05,extra")
    result = service.importer.import_file(path, "positions")
    assert result.loaded == 1 and result.rejected == 2
    assert {r["line"] for r in result.rejects} == {3, 4}


def test_jsonl_bad_lines_rejected_individually(service, tmp_path: Path) -> None:
    good = json.dumps(ROWS[0])
    result = service.importer.import_file(write(tmp_path / "p.jsonl", good, "{not json", "[1, 2]", json.dumps(ROWS[1])), "positions")
    assert result.loaded == 2 and result.rejected == 2
    assert [r["line"] for r in result.rejects] == [2, 3]


def test_json_numbers_become_exact_decimals(service, db, tmp_path: Path) -> None:
    row = {**ROWS[0], "quantity": 0.1, "price": 3}
    service.importer.import_file(write(tmp_path / "p.json", json.dumps({"records": [row]})), "positions")
    assert stored(db)[0]["quantity"] == "0.1" and stored(db)[0]["price"] == "3"


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("laughs.xml", '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><records><record><account>&b;</account></record></records>', "hostile XML refused"),
        ("xxe.xml", '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><records><record><account>&x;</account></record></records>', "hostile XML refused"),
        ("deep.xml", "<records>" + "<a>" * 100 + "</a>" * 100 + "</records>", "nested deeper than 32"),
        ("truncated.xml", "<records><record><account>A1</account><isin>US0378331005", "malformed or truncated XML"),
        ("trunc.json", '[{"account": "A1", "isin": "US03', "not valid JSON"),
    ],
)
def test_hostile_and_truncated_documents_fail_the_file(service, db, tmp_path: Path, name: str, body: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    result = service.importer.import_file(path, "positions")
    assert result.status == "failed" and result.exit_code == 1
    assert message in result.error
    assert stored(db) == []


def test_truncated_gzip_fails_the_file(service, db, tmp_path: Path) -> None:
    data = gzip.compress(("\n".join([HEADER, *GOOD]) + "\n").encode())
    path = tmp_path / "p.psv.gz"
    path.write_bytes(data[: len(data) // 2])
    result = service.importer.import_file(path, "positions")
    assert result.status == "failed" and "truncated or corrupt compressed file" in result.error


def test_oversized_field_is_rejected_not_loaded(service, db, tmp_path: Path) -> None:
    big = "A" * 300
    result = service.importer.import_file(write(tmp_path / "p.psv", HEADER, f"{big}|US0378331005|AAPL|1|1|USD|2026-01-05", GOOD[0]), "positions")
    assert result.loaded == 1 and result.rejected == 1
    assert result.rejects[0]["field"] == "account" and "oversized" in result.rejects[0]["reason"]
    huge = write(tmp_path / "q.csv", "account,isin,symbol,quantity,price,currency,date", "A" * 200_000 + ",US0378331005,AAPL,1,1,USD,2026-01-05", GOOD[0].replace("|", ","))
    result = service.importer.import_file(huge, "positions")
    assert result.status == "partial" and result.loaded == 1 and result.rejected == 1


def test_xlsx_corrupt_workbook_fails(service, tmp_path: Path) -> None:
    path = tmp_path / "p.xlsx"
    path.write_bytes(b"PK\x03\x04not really a zip")
    result = service.importer.import_file(path, "positions")
    assert result.status == "failed" and "not a readable XLSX" in result.error


def test_formula_injection_is_escaped_in_csv_and_xlsx(tmp_path: Path, service) -> None:
    import openpyxl

    rows = [{"name": "=HYPERLINK(\"http://x\")", "n": Decimal("-12.5"), "t": "-12.5", "at": "@SUM(A1)", "plain": "ok"}]
    cols = list(rows[0])
    buf = io.BytesIO()
    service.formats.get("csv").write(rows, cols, buf, {})
    text = buf.getvalue().decode()
    assert "'=HYPERLINK" in text and "'@SUM" in text and ",-12.5,-12.5," in text
    buf = io.BytesIO()
    service.formats.get("xlsx").write(rows, cols, buf, {})
    sheet = openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active
    values = [c.value for c in sheet[2]]
    assert values[0].startswith("'=") and values[3] == "'@SUM(A1)" and values[1] == -12.5
    assert escape_formula("+1") == "+1" and escape_formula("+cmd") == "'+cmd"


def test_fixed_width_without_a_column_spec_is_a_configuration_error(service, tmp_path: Path) -> None:
    result = service.importer.import_file(write(tmp_path / "p.fw", "A1    US0378331005"), "positions")
    assert result.status == "failed" and "column specification" in result.error


def test_format_plugin_through_the_hook(db, clock, tmp_path: Path) -> None:
    from portico.hookspecs import hookimpl
    from portico.jobs import JobService
    from portico.jobs._formats import CsvFormat
    from portico.plugins import PluginManager

    class Semicolon(CsvFormat):
        name = "vendor_x"
        extensions = (".vx",)
        default_delimiter = ";"

    class Plugin:
        @hookimpl
        def portico_formats(self):
            return [Semicolon()]

    pm = PluginManager(autoload=False)
    pm.register(Plugin(), name="vendor-x")
    svc = JobService(db=db, clock=clock, plugins=pm)
    result = svc.importer.import_file(write(tmp_path / "p.vx", HEADER.replace("|", ";"), GOOD[0].replace("|", ";")), "positions")
    assert result.format == "vendor_x" and result.status == "loaded"
