"""Decompression bombs and huge records: refused or rejected with memory bounded (issue 14 items 8, 9).

Each bomb is built small at test time (the attack is a ratio; see ``bombs.py``) and imported in a
child interpreter whose own peak RSS (VmHWM) is measured. A child importing one small file peaks near 60 MB;
every bomb below must stay under ``PEAK_RSS_MB`` however far it would expand (the huge records are
sized so that holding one of them whole would pass it), and end with the reason stated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.jobs import bombs

PEAK_RSS_MB = 200
NO_RATIO_CAP = {"max_compression_ratio": 10**9}
CSV_HEAD = b"account,isin,symbol,quantity,price,currency,date\n"
CSV_GOOD = b"A1,US0378331005,AAPL,100,190.5,USD,2026-01-05\n"
JSON_GOOD = {"account": "A1", "isin": "US0378331005", "symbol": "AAPL", "quantity": "100", "price": "190.5", "currency": "USD", "date": "2026-01-05"}

# (suffix, bytes before the expanding run, bytes after it): each a format whose one record grows to gigabytes
_ONE_HUGE_RECORD = {
    "csv": (".csv.gz", CSV_HEAD + CSV_GOOD + b"A", b",US0378331005,AAPL,1,1,USD,2026-01-06\n" + CSV_GOOD.replace(b"A1", b"A3")),
    "jsonl": (
        ".jsonl.gz",
        json.dumps(JSON_GOOD).encode() + b'\n{"account": "',
        b'", "isin": "US0378331005", "symbol": "AAPL", "quantity": "1", "price": "1", "currency": "USD", "date": "2026-01-06"}\n' + json.dumps({**JSON_GOOD, "account": "A3"}).encode() + b"\n",
    ),
    "xml": (
        ".xml.gz",
        b"<records><record><account>A1</account><isin>US0378331005</isin><symbol>AAPL</symbol><quantity>100</quantity><price>190.5</price><currency>USD</currency><date>2026-01-05</date></record><record><account>",
        b"</account><isin>US0378331005</isin><symbol>AAPL</symbol><quantity>1</quantity><price>1</price><currency>USD</currency><date>2026-01-06</date></record>"
        b"<record><account>A3</account><isin>US0378331005</isin><symbol>AAPL</symbol><quantity>100</quantity><price>190.5</price><currency>USD</currency><date>2026-01-05</date></record></records>",
    ),
    "json": (".json.gz", b'[{"account": "', b'"}]'),
}


@pytest.mark.parametrize("fmt", sorted(_ONE_HUGE_RECORD))
def test_two_gigabyte_gzip_bomb_is_refused_by_its_ratio(tmp_path: Path, fmt: str) -> None:
    suffix, head, tail = _ONE_HUGE_RECORD[fmt]
    path = bombs.gzip_with_huge_record(tmp_path / f"bomb{suffix}", head, 2048, tail)
    assert path.stat().st_size < 3 * bombs.MIB  # 2 GiB expanded
    result = bombs.measured_import(path, "positions")
    assert result["status"] == "failed" and result["loaded"] == 0
    assert "refused as a decompression bomb" in result["error"] and "max_compression_ratio (500:1)" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_decompressed_size_is_capped_when_the_ratio_is_allowed(tmp_path: Path) -> None:
    suffix, head, tail = _ONE_HUGE_RECORD["csv"]
    path = bombs.gzip_with_huge_record(tmp_path / f"bomb{suffix}", head, 2048, tail)
    result = bombs.measured_import(path, "positions", {**NO_RATIO_CAP, "max_decompressed_bytes": 64 * bombs.MIB})
    assert result["status"] == "failed"
    assert "refused as a decompression bomb: expands past max_decompressed_bytes (67108864 bytes)" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


@pytest.mark.parametrize(
    ("fmt", "line", "reason"),
    [
        ("csv", 3, "record longer than max_record_chars (1048576 characters)"),
        ("jsonl", 2, "record longer than max_record_chars (1048576 characters)"),
        ("xml", 2, "field <account> longer than 65536 characters"),
    ],
)
def test_one_huge_record_is_rejected_while_streaming_and_the_rest_loads(tmp_path: Path, fmt: str, line: int, reason: str) -> None:
    """A 128 MiB value inside a valid delivery whose ratio is allowed: only that record is rejected."""
    suffix, head, tail = _ONE_HUGE_RECORD[fmt]
    path = bombs.gzip_with_huge_record(tmp_path / f"huge{suffix}", head, 128, tail)
    result = bombs.measured_import(path, "positions", NO_RATIO_CAP)
    assert result["status"] == "partial", result
    assert (result["loaded"], result["rejected"]) == (2, 1)
    assert result["rejects"][0]["line"] == line and reason in result["rejects"][0]["reason"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_plain_csv_with_a_huge_line_is_rejected_by_record_not_held(tmp_path: Path) -> None:
    """Not compressed at all: a 128 MiB line must not be gathered whole (the columnar path would)."""
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(CSV_HEAD + CSV_GOOD + b"A")
        for _ in range(128):
            handle.write(bombs.MIB * b"A")
        handle.write(b",US0378331005,AAPL,1,1,USD,2026-01-06\n")
    result = bombs.measured_import(path, "positions")
    assert (result["status"], result["loaded"], result["rejected"]) == ("partial", 1, 1), result
    assert result["rejects"][0]["line"] == 3 and "record longer than max_record_chars" in result["rejects"][0]["reason"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_huge_json_document_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    suffix, head, tail = _ONE_HUGE_RECORD["json"]
    path = bombs.gzip_with_huge_record(tmp_path / f"huge{suffix}", head, 80, tail)
    result = bombs.measured_import(path, "positions", NO_RATIO_CAP)
    assert result["status"] == "failed"
    assert "JSON document larger than 67108864 bytes (max_bytes); use JSON Lines" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


# -- XLSX shared strings (14.9) --------------------------------------------------------------------


def test_xlsx_with_a_gigabyte_shared_string_is_refused(tmp_path: Path) -> None:
    path = bombs.xlsx_with_shared_strings(tmp_path / "bomb.xlsx", bombs.SST_START + b"<si><t>", bombs.MIB * b"A", 1024, b"</t></si></sst>")
    assert path.stat().st_size < 3 * bombs.MIB
    result = bombs.measured_import(path, "prices")
    assert result["status"] == "failed"
    assert "workbook part xl/sharedStrings.xml expands to" in result["error"] and "max_part_bytes (536870912)" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_xlsx_shared_string_ratio_and_total_length_are_bounded(tmp_path: Path) -> None:
    path = bombs.xlsx_with_shared_strings(tmp_path / "bomb.xlsx", bombs.SST_START + b"<si><t>", bombs.MIB * b"A", 128, b"</t></si></sst>")
    result = bombs.measured_import(path, "prices")
    assert result["status"] == "failed" and "past max_compression_ratio (500:1)" in result["error"]
    result = bombs.measured_import(path, "prices", NO_RATIO_CAP)
    assert result["status"] == "failed"
    assert "xl/sharedStrings.xml expands to" in result["error"] and "past max_shared_strings_bytes (134217728)" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_xlsx_with_millions_of_tiny_shared_strings_is_refused_quickly(tmp_path: Path) -> None:
    path = bombs.xlsx_with_shared_strings(tmp_path / "bomb.xlsx", bombs.SST_START, bombs.TINY_STRINGS, 2_000_000 // 4096)
    result = bombs.measured_import(path, "prices", {**NO_RATIO_CAP, "max_shared_strings": 200_000})
    assert result["status"] == "failed"
    assert "xl/sharedStrings.xml holds more than max_shared_strings (200000) strings" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_xlsx_twenty_million_tiny_shared_strings_in_a_small_file_are_refused_by_default(tmp_path: Path) -> None:
    path = bombs.xlsx_with_shared_strings(tmp_path / "bomb.xlsx", bombs.SST_START, bombs.TINY_STRINGS, 20_000_000 // 4096)
    assert path.stat().st_size < 2 * bombs.MIB
    result = bombs.measured_import(path, "prices")
    assert result["status"] == "failed" and "past max_shared_strings_bytes (134217728)" in result["error"]
    assert result["peak_rss_mb"] < PEAK_RSS_MB, result


def test_xlsx_within_the_limits_still_loads(tmp_path: Path) -> None:
    path = bombs.xlsx_with_shared_strings(tmp_path / "book.xlsx", bombs.SST_START)
    result = bombs.measured_import(path, "prices")
    assert (result["status"], result["loaded"]) == ("loaded", 1), result


def test_a_limit_that_is_not_a_positive_number_is_a_configuration_error(service, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(CSV_HEAD + CSV_GOOD)
    result = service.importer.import_file(path, "positions", options={"max_record_chars": "lots"})
    assert result.status == "failed"
    assert result.error.endswith("max_record_chars must be a positive whole number, got 'lots'")
