"""The validation scan: line counts, blank lines and over-long lines, inside blocks and across their edges."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from portico.jobs._limits import ReadLimits
from portico.jobs._scan import _BLOCK, scan_file


def _scan(path: Path, **kw: object):  # type: ignore[no-untyped-def]
    return scan_file(path, encoding="utf-8", delimiter="|", **kw)  # type: ignore[arg-type]


def _filler(size: int) -> bytes:
    """A first line, then lines of ``a|b|c`` (6 bytes each with the newline): exactly ``size`` bytes."""
    first = b"h" * (size % 6 + 5) + b"\n"
    return first + b"a|b|c\n" * ((size - len(first)) // 6)


def test_counts_lines_and_delimiters_of_a_clean_file(tmp_path: Path) -> None:
    path = tmp_path / "f.psv"
    path.write_bytes(b"h1|h2|h3\n" + b"1|2|3\n" * 10)
    scan = _scan(path)
    assert (scan.lines, scan.delimiters, scan.has_blank_line, scan.has_long_line) == (11, 22, False, False)
    assert scan.last_line == "1|2|3"


def test_a_last_line_without_newline_counts(tmp_path: Path) -> None:
    path = tmp_path / "f.psv"
    path.write_bytes(b"h|x\n1|2\n3|4")
    assert _scan(path).lines == 3


@pytest.mark.parametrize(
    ("body", "blank"),
    [
        (b"h|x\n1|2\n\n3|4\n", True),  # an empty line
        (b"h|x\r\n1|2\r\n\r\n3|4\r\n", True),  # an empty CRLF line
        (b"h|x\r\n1|2\r\n3|4\r\n", False),  # CRLF, none empty
        (b"\nh|x\n1|2\n", True),  # an empty first line
        (b"h|x\n1|2\n\n", True),  # a trailing blank line
        (b"h|x\n1|\r|2\n", False),  # a lone \r inside a line is not a blank line
    ],
)
def test_blank_lines_inside_a_block(tmp_path: Path, body: bytes, blank: bool) -> None:
    path = tmp_path / "f.psv"
    path.write_bytes(body)
    assert _scan(path).has_blank_line is blank


@pytest.mark.parametrize(
    ("edge", "blank"),
    [
        (b"\n", True),  # the first block ends with "\n", the second starts with "\n"
        (b"\r\n", True),  # "\n" | "\r\n": an empty CRLF line across the edge
        (b"x\n", False),
    ],
)
def test_blank_lines_across_a_block_edge(tmp_path: Path, edge: bytes, blank: bool) -> None:
    path = tmp_path / "f.psv"
    path.write_bytes(_filler(_BLOCK) + edge + b"a|b|c\n")
    scan = _scan(path)
    assert scan.has_blank_line is blank
    assert scan.lines == _BLOCK // 6 + 2  # the filler's lines, the edge's, the last


def test_an_empty_crlf_line_split_by_the_edge(tmp_path: Path) -> None:
    # "...\n\r" | "\n...": the blank line's bytes straddle the edge
    path = tmp_path / "f.psv"
    path.write_bytes(_filler(_BLOCK - 6) + b"a|b|\n\r" + b"\na|b|c\n")
    assert _scan(path).has_blank_line is True


def test_long_lines_inside_and_across_blocks(tmp_path: Path) -> None:
    limits = ReadLimits(max_record_chars=100)
    inside = tmp_path / "inside.psv"
    inside.write_bytes(b"h|x\n" + b"a" * 100 + b"\n" + b"b" * 101 + b"\nc|d\n")
    assert _scan(inside, limits=limits).has_long_line is True
    exact = tmp_path / "exact.psv"
    exact.write_bytes(b"h|x\n" + b"a" * 100 + b"\nc|d\n")
    assert _scan(exact, limits=limits).has_long_line is False
    # a line running from the end of one block into the next: 60 + 60 bytes
    across = tmp_path / "across.psv"
    across.write_bytes(_filler(_BLOCK - 60) + b"z" * 120 + b"\n")
    assert _scan(across, limits=limits).has_long_line is True
    fits = tmp_path / "fits.psv"
    fits.write_bytes(_filler(_BLOCK - 48) + b"z" * 96 + b"\n")
    assert _scan(fits, limits=limits).has_long_line is False
    # the last line, unterminated
    tail = tmp_path / "tail.psv"
    tail.write_bytes(b"h|x\n" + b"t" * 101)
    assert _scan(tail, limits=limits).has_long_line is True


def test_gzip_is_scanned_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "f.psv.gz"
    path.write_bytes(gzip.compress(b"h|x\n1|2\n\n3|4\n", mtime=0))
    scan = _scan(path)
    assert (scan.gzip, scan.lines, scan.has_blank_line, scan.delimiters) == (True, 4, True, 3)


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (b"a|b\nc|d\n", False),
        (b"a|b\r\nc|d\r\n", False),  # CRLF line ends are not values' characters
        (b"a|b\rc|d\n", True),  # a lone \r
        (b"a|b\r\nc|\rd\r\n", True),  # a \r inside a CRLF file
        (b"a|\tb\n", True),
        (b"a|\x01b\n", True),
        (b"a|b\x7f\n", True),
        (b"a|\xc2\x85b\n", True),  # U+0085, a C1 control
    ],
)
def test_the_columnar_reader_sees_which_blocks_may_hold_a_control_character(body: bytes, verdict: bool) -> None:
    from portico.jobs._fast_read import _may_hold_control

    assert _may_hold_control(body) is verdict
