"""The parsing stage of the columnar path: blocks of whole lines into polars frames, with exact line numbers.

Plain delimited files, gzip ones (decompressed as read, under the read limits), files with a
byte-order mark, CRLF line ends, blank lines (skipped, as the per-record reader skips them) and
quoted fields all parse here. Anything whose reading could differ from the per-record ``csv`` reader
raises :class:`FallBack`, and the file is read record by record instead (the authority):

- a line holding the quote character must be a well-formed row of exactly the header's field count
  (every field either free of quotes or wholly quoted, ``""`` for a quote inside), else a quoted field
  might span lines or be read differently;
- every other non-blank line must hold exactly the header's field count (counted per block);
- polars must read as many rows as there are non-blank lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from portico.jobs._limits import ReadLimits
    from portico.jobs._readguard import ReadGuard

__all__ = ["FallBack", "FastFile", "fast_frames", "well_formed_pattern"]


class FallBack(Exception):
    """The columnar path met input only the per-record path can read exactly; redo the file that way."""


def _hex(char: str) -> str:
    return f"\\x{{{ord(char):X}}}"


def well_formed_pattern(delimiter: str, quotechar: str, fields: int) -> str:
    """A regex matching one line of exactly ``fields`` fields, each unquoted or wholly quoted."""
    d, q = _hex(delimiter), _hex(quotechar)
    field = f"(?:[^{q}{d}\\r\\n]*|{q}(?:[^{q}\\r\\n]|{q}{q})*{q})"
    return f"^{field}(?:{d}{field}){{{fields - 1}}}\\r?$"


class FastFile:
    """What the columnar reader needs to know about one file (from the scan and the header)."""

    def __init__(
        self,
        header: list[str],
        delimiter: str,
        quotechar: str | None,
        physical_lines: int,
        *,
        blank_lines: bool,
    ) -> None:
        self.header = header
        self.delimiter = delimiter
        self.quotechar = quotechar  # None: the file holds no quote character
        self.physical_lines = physical_lines  # lines after the header to read (a trailer excluded)
        self.blank_lines = blank_lines
        self.pattern = well_formed_pattern(delimiter, quotechar, len(header)) if quotechar else None


def fast_frames(
    guard: ReadGuard, spec: FastFile, chunk: int, limits: ReadLimits
) -> Iterator[tuple[pl.DataFrame, bool]]:
    """Frames of at most ``chunk`` records (string columns plus ``__line``), read block by block, each
    with whether its values may hold a control character (False: the block's bytes hold none, so the
    per-value check can be skipped).

    Reading blocks ourselves (instead of a streaming scan) bounds memory to one block and one frame,
    and gives exact line numbers.
    """
    import polars as pl

    header = spec.header
    line_no = 2
    remaining = spec.physical_lines
    with guard.open(decompress=True, limits=limits) as handle:
        _skip_line(handle)
        leftover = b""
        while remaining > 0:
            block = handle.read(max(1 << 20, chunk * 64))
            data = leftover + block
            if block:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    leftover = data
                    continue
                body, leftover = data[:cut], data[cut:]
            else:
                body, leftover = data, b""
            if not body:
                break
            body, lines, physical = _records_of(body, spec, line_no, remaining)
            take = len(lines) if lines is not None else physical
            if take:
                try:
                    df = pl.read_csv(
                        body,
                        has_header=False,
                        new_columns=header,
                        separator=spec.delimiter,
                        quote_char=spec.quotechar,
                        infer_schema=False,
                        n_rows=take,
                        empty_string_is_null=False,
                        eol_char="\n",
                    )
                except pl.exceptions.PolarsError as exc:
                    raise FallBack(
                        f"columnar parse failed ({type(exc).__name__}); re-read record by record"
                    ) from None
                if df.height != take or df.width != len(header):
                    raise FallBack("columnar parse disagreed with the line count; re-read record by record")
                if df.width and df.schema[header[-1]] == pl.String:
                    # CRLF files: the last column may carry the \r
                    df = df.with_columns(pl.col(header[-1]).str.strip_suffix("\r"))
                if lines is None:
                    number = pl.int_range(line_no, line_no + take, eager=True, dtype=pl.Int64)
                else:
                    number = pl.Series("__line", lines, dtype=pl.Int64)
                df = df.with_columns(number.alias("__line"))
                control = _may_hold_control(body)
                for start in range(0, df.height, chunk):
                    yield df.slice(start, chunk), control
            line_no += physical
            remaining -= physical
            if not block:
                break


def _may_hold_control(body: bytes) -> bool:
    """Whether a value in ``body`` (whole lines) may hold a control character (C0, DEL or C1).

    False only when every byte under 0x20 is a line end (``\n``, or ``\r`` right before it) and no
    DEL or 0xC2 byte (the lead byte of the UTF-8 C1 controls) occurs.
    """
    import numpy as np

    if b"\x7f" in body or b"\xc2" in body:
        return True
    crlf = 0
    if b"\r" in body:  # a two-byte count is a slow scan: only a file holding \r pays it
        crlf = body.count(b"\r\n")
        if body.count(b"\r") != crlf:
            return True
    low = int(np.count_nonzero(np.frombuffer(body, dtype=np.uint8) < 0x20))
    return low != body.count(b"\n") + crlf


def _skip_line(handle: Any) -> None:
    # a decompressing stream has no fast readline: read the header line in small pieces
    while True:
        piece = handle.peek(4096)[:4096] if hasattr(handle, "peek") else b""
        if piece:
            end = piece.find(b"\n")
            if end >= 0:
                handle.read(end + 1)
                return
            handle.read(len(piece))
            continue
        byte = handle.read(1)
        if not byte or byte == b"\n":
            return


def _records_of(body: bytes, spec: FastFile, line_no: int, remaining: int) -> tuple[bytes, Any, int]:
    """The block's records to parse: (bytes without blank lines, their line numbers or None, physical lines used).

    Line numbers are None when every physical line is a record (no blank lines: numbering is a range).

    Raises:
        FallBack: a line's field count or quoting is not one the columnar reader reads as ``csv`` does.
    """
    import numpy as np

    delim = spec.delimiter.encode()
    physical = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if physical > remaining:
        # the trailer follows: leave it out
        cut = -1
        for _ in range(remaining):
            cut = body.index(b"\n", cut + 1)
        body, physical = body[: cut + 1], remaining
    fields = len(spec.header) - 1
    if not spec.blank_lines and spec.quotechar is None:
        if body.count(delim) != fields * physical:
            raise FallBack("a line has another field count than the header; re-read record by record")
        return body, None, physical
    blank = starts = ends = None
    if spec.blank_lines:
        arr = np.frombuffer(body, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        if not body.endswith(b"\n"):
            ends = np.append(ends, len(body))
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts
        blank = lengths == 0
        one = np.flatnonzero(lengths == 1)
        if one.size:
            blank[one] = arr[starts[one]] == 13  # "\r\n" alone: blank in a CRLF file
    quoted_delims = 0
    quoted = 0
    if spec.quotechar is not None and spec.quotechar.encode() in body:
        import polars as pl

        # the lines as one native string column (no Python object per line): those holding a quote
        # must be well-formed rows of the header's field count
        lines = pl.Series([body.decode("utf-8", "replace")], dtype=pl.String).str.split("\n").explode()
        with_quotes = lines.filter(lines.str.contains(spec.quotechar, literal=True))
        if not bool(with_quotes.str.contains(spec.pattern or "").all()):
            raise FallBack(
                "a quoted field is not one the columnar reader reads exactly (it may span lines); re-read record by record"
            )
        quoted = with_quotes.len()
        quoted_delims = int(with_quotes.str.count_matches(spec.delimiter, literal=True).sum() or 0)
    blanks = 0 if blank is None else int(blank.sum())
    if body.count(delim) - quoted_delims != fields * (physical - blanks - quoted):
        raise FallBack("a line has another field count than the header; re-read record by record")
    if not blanks:
        return body, None, physical
    assert blank is not None and starts is not None and ends is not None
    pieces = []
    prev = 0
    for i in np.flatnonzero(blank).tolist():
        pieces.append(body[prev : int(starts[i])])
        prev = int(ends[i]) + 1
    pieces.append(body[prev:])
    numbers = line_no + np.flatnonzero(~blank)
    return b"".join(pieces), numbers, physical
