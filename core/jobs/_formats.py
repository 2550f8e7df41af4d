"""File formats: readers that stream records in chunks, and writers. Every format is a plugin.

A format turns a byte stream into :class:`RawChunk` s (records with their line or record number, and
per-record parse errors) and writes rows back. Per-file problems (hostile XML, a truncated document,
an undecodable byte) raise :class:`FileRejected`; per-record problems (a ragged CSV row, a JSONL line
that is not JSON) are reported in the chunk and the rest of the file is still read.

Hostile input is bounded while it streams (the limits are in :mod:`portico.jobs._limits`): gzip
expansion is capped in size and ratio, every line is read with a length bound, XML text is counted as
expat delivers it, and an XLSX workbook's parts are measured before openpyxl opens it. A record that
repeats a field (a JSON key, an XML element, or an attribute and an element of one name) is rejected
with the field named, as a CSV header that repeats a column fails the file. A UTF-8 byte-order mark
before the first line is dropped in every text format.

The built-ins are registered through the ``portico_formats`` hook by :mod:`portico.jobs.plugin`, the
same way a vendor plugin adds its own layout.

This module holds what every format shares (:class:`Format`, :class:`RawChunk`, :class:`FileRejected`,
the gzip cap, the bounded line reader, cell and JSON value helpers) and the line-oriented text
formats (CSV, pipe-delimited, JSON, JSON Lines, fixed-width); XML is in :mod:`._formats_xml`, XLSX and
Parquet in :mod:`._formats_binary`. It stays over 600 lines because it is one catalogue: the text
formats are each short and read through the same bounded readers, and parting them from those readers
would only move the shared code to yet another module.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from portico.errors import ConfigurationError, PayloadRejected
from portico.jobs._limits import RATIO_CHECK_AFTER, ReadLimits

__all__ = [
    "CsvFormat",
    "FileRejected",
    "FixedWidthFormat",
    "Format",
    "JsonFormat",
    "JsonLinesFormat",
    "PipeFormat",
    "RawChunk",
    "escape_formula",
    "open_maybe_gzip",
]

CHUNK_ROWS = 50_000
TRAILER_RE = re.compile(r"^\s*(?:TRAILER|TRL|EOF)\s*[|,;\t ]\s*(\d+)\s*[|,;\t ]?.*$", re.IGNORECASE)


class FileRejected(PayloadRejected):
    """The file as a whole cannot be processed; nothing from it is loaded.

    Attributes:
        file: the file's name.
        line: the line (or record) where the problem was found, when known.
    """

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, **kwargs: Any
    ) -> None:
        where = f"{file}" if file else ""
        if line is not None:
            where += f":{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message, line=line, **kwargs)
        self.file = file
        self.reason = message


@dataclass
class RawChunk:
    """Records read from a file: ``(line, record)`` pairs and ``(line, message)`` parse errors.

    ``error_fields`` names the field a parse error is about (by its line), when there is one.
    ``detail`` is what the format found about the file as a whole (an ISO 20022 statement's control
    totals); the importer reports it in the parsing stage.
    """

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    trailer_count: int | None = None
    error_fields: dict[int, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def reject(self, line: int, message: str, fieldname: str | None = None) -> None:
        """Record a parse error at ``line``, optionally naming the field it concerns."""
        self.errors.append((line, message))
        if fieldname is not None:
            self.error_fields[line] = fieldname


@runtime_checkable
class Format(Protocol):
    """What a format plugin provides.

    Attributes:
        name: the format's name in config and on the command line (``csv``, ``psv``).
        extensions: file suffixes that select it when no format is given.
        line_numbers: whether record positions are physical line numbers (else record numbers).
    """

    name: str
    extensions: tuple[str, ...]
    line_numbers: bool

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        """Stream the file's records in chunks of at most ``options['chunk_rows']`` records."""
        ...

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        """Write ``rows`` (with ``columns`` in order) to ``stream``; returns the number written."""
        ...


def open_maybe_gzip(path: Path, limits: ReadLimits | None = None, *, file: str | None = None) -> IO[bytes]:
    """Open ``path`` for reading, decompressing it transparently when it is gzip (by magic bytes).

    The decompressed stream refuses (:class:`FileRejected`) to expand past ``limits``'
    ``max_decompressed_bytes`` or ``max_compression_ratio`` (the defaults when not given).
    """
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return CappedDecompression(raw, limits or ReadLimits(), file=file or path.name)  # type: ignore[return-value]
    return raw


class CappedDecompression(io.BufferedIOBase):
    """A gzip-decompressing stream that refuses to expand past a size or a compression ratio.

    zlib does the work (and checks each member's CRC and length); every output byte is counted
    before it is handed on, so a bomb is refused after at most one block of it. Concatenated gzip
    members are read as one stream, as gzip(1) does.

    Args:
        compressed: the gzip file, opened for binary reading.
        limits: the delivery's limits.
        file: the file's name, for the error.

    Raises:
        FileRejected: from ``read``, past a limit.
        EOFError: the file ends inside a member (truncated).
        OSError: the compressed data is corrupt.
    """

    _INPUT = 1 << 16

    def __init__(self, compressed: IO[bytes], limits: ReadLimits, *, file: str) -> None:
        super().__init__()
        self._compressed = compressed
        self._limits = limits
        self._file = file
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._consumed = 0
        self._finished = False
        self.expanded = 0

    def readable(self) -> bool:
        """Always: this is a read stream."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` decompressed bytes (all that remain when ``size`` is negative); b"" at the end."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read1(1 << 20), b""))
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            data = self.read1(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        """At most ``size`` decompressed bytes from one step of inflation; b"" at the end."""
        data = self._inflate_some(size if size and size > 0 else 1 << 20)
        self.expanded += len(data)
        self._check()
        return data

    def readinto(self, buffer: Any) -> int:
        """Decompress into ``buffer``; 0 at the end of the last member."""
        view = memoryview(buffer).cast("B")
        data = self.read1(len(view))
        view[: len(data)] = data
        return len(data)

    def _inflate_some(self, size: int) -> bytes:
        while not self._finished:
            if not self._pending:
                self._pending = self._compressed.read(self._INPUT)
                self._consumed += len(self._pending)
                if not self._pending:
                    if self._inflate.eof:
                        self._finished = True
                        return b""
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
            if self._inflate.eof:
                # another member follows (or NUL padding, which gzip(1) also ignores)
                rest = self._pending.lstrip(b"\x00")
                if not rest:
                    self._pending = b""
                    continue
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = rest
            try:
                out = self._inflate.decompress(self._pending, size)
            except zlib.error as exc:
                raise OSError(f"corrupt gzip data: {exc}") from None
            self._pending = self._inflate.unconsumed_tail or self._inflate.unused_data
            if out:
                return out
        return b""

    def _check(self) -> None:
        limits = self._limits
        if self.expanded > limits.max_decompressed_bytes:
            raise FileRejected(
                f"refused as a decompression bomb: expands past max_decompressed_bytes ({limits.max_decompressed_bytes} bytes)",
                file=self._file,
            )
        if self.expanded > RATIO_CHECK_AFTER:
            used = max(1, self._consumed - len(self._pending))
            if self.expanded > limits.max_compression_ratio * used:
                raise FileRejected(
                    f"refused as a decompression bomb: {used} compressed bytes expanded to {self.expanded}, "
                    f"past max_compression_ratio ({limits.max_compression_ratio}:1)",
                    file=self._file,
                )

    def close(self) -> None:
        """Close the compressed file."""
        try:
            self._compressed.close()
        finally:
            super().close()


class _RecordTooLong(Exception):
    """The record being read grew past ``max_record_chars``; its physical line was skipped to its end."""


class _BoundedLines:
    """Physical lines of a text stream, read with a length bound: one huge line never sits in memory.

    Each line is read with ``readline(limit)``; a record (the lines since :meth:`start_record`) that
    grows past ``limit`` characters raises :class:`_RecordTooLong` once the rest of its current line
    has been consumed in bounded pieces. ``number`` counts the physical lines consumed.
    """

    def __init__(self, text: IO[str], limit: int) -> None:
        self.text = text
        self.limit = limit
        self.number = 0
        self._in_record = 0
        self._after_cr = False

    def start_record(self) -> None:
        """The next line begins a new record."""
        self._in_record = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self._read(self.limit + 1)
        if not line:
            raise StopIteration
        self.number += 1
        self._in_record += len(line.rstrip("\r\n"))
        if self._in_record > self.limit:
            while line and not line.endswith(("\n", "\r")):
                line = self._read(1 << 16)
            self._in_record = 0
            raise _RecordTooLong
        return line

    def _read(self, size: int) -> str:
        line = self.text.readline(size)
        # a bounded read can end between the \r and \n of one line ending: that \n is no new line
        if self._after_cr and line.startswith("\n"):
            line = line[1:] or self.text.readline(size)
        self._after_cr = line.endswith("\r")
        return line


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")


def escape_formula(value: Any) -> Any:
    """Neutralise a spreadsheet formula in a text cell (OWASP CSV injection): prefix it with ``'``.

    Numbers (and text that is a plain number, like ``-12.5``) pass unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json_record(row: Mapping[str, Any], columns: list[str], indent: int | str | None) -> str:
    """``row`` as a JSON object, laid out as ``json.dumps`` lays out a flat object.

    Decimals are written as JSON numbers with their exact digits: ``json`` can write a number only
    from a float, which would round 12345678901234.123456789012.
    """
    members = [f"{json.dumps(c, ensure_ascii=False)}: {_json_value(row.get(c), c)}" for c in columns]
    if not members:
        return "{}"
    if indent is None:
        return "{" + ", ".join(members) + "}"
    pad = indent if isinstance(indent, str) else " " * indent
    return "{\n" + ",\n".join(pad + m for m in members) + "\n}"


def _json_value(value: Any, column: str) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PayloadRejected(f"{column}: {value} cannot be written as a JSON number", field=column)
        # plain digits where that stays short; exponent form (valid JSON) for extreme magnitudes
        return format(value, "f") if -30 < value.adjusted() < 30 else str(value)
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encoding(options: Mapping[str, Any]) -> str:
    encoding = str(options.get("encoding", "utf-8"))
    # utf-8-sig drops a byte-order mark before the first line (spreadsheet exports write one) and
    # reads everything else exactly as utf-8 does
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _text(stream: IO[bytes], options: Mapping[str, Any]) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding=_encoding(options), errors="strict", newline="")


def _record_too_long(limits: ReadLimits) -> str:
    return f"record longer than max_record_chars ({limits.max_record_chars} characters); skipped to the end of its line"


def _chunk_rows(options: Mapping[str, Any]) -> int:
    return int(options.get("chunk_rows", CHUNK_ROWS))


class CsvFormat:
    """Delimited text with a header row (delimiter, quote char and encoding from config)."""

    name = "csv"
    extensions: tuple[str, ...] = (".csv",)
    line_numbers = True
    default_delimiter = ","
    columnar = True

    def delimiter(self, options: Mapping[str, Any]) -> str:
        return str(options.get("delimiter", self.default_delimiter))

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        limits = ReadLimits.from_options(options, format_name=self.name)
        lines = _BoundedLines(_text(stream, options), limits.max_record_chars)
        reader = csv.reader(
            lines, delimiter=self.delimiter(options), quotechar=options.get("quotechar", '"'), strict=True
        )
        size = _chunk_rows(options)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected(f"unreadable header: {exc}", file=file, line=1) from None
        except _RecordTooLong:
            raise FileRejected(
                f"header longer than max_record_chars ({limits.max_record_chars} characters)",
                file=file,
                line=1,
            ) from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        if len(set(header)) != len(header) or any(not h for h in header):
            raise FileRejected(f"header has blank or repeated column names: {header}", file=file, line=1)
        chunk = RawChunk()
        pending: tuple[int, list[str]] | None = None
        while True:
            # our own count of physical lines: the reader's line_num skips a line it was refused
            line = lines.number + 1
            lines.start_record()
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                chunk.errors.append((line, f"malformed row: {exc}"))
                continue
            except _RecordTooLong:
                chunk.errors.append((line, _record_too_long(limits)))
                continue
            if pending is not None:
                self._add(chunk, header, *pending)
                if len(chunk.records) + len(chunk.errors) >= size:
                    yield chunk
                    chunk = RawChunk()
            pending = (line, row) if row else None
        if pending is not None:
            count = _trailer_count(pending[1])
            if count is not None:
                chunk.trailer_count = count
            else:
                self._add(chunk, header, *pending)
        yield chunk

    @staticmethod
    def _add(chunk: RawChunk, header: list[str], line: int, row: list[str]) -> None:
        if len(row) != len(header):
            chunk.errors.append((line, f"expected {len(header)} fields, found {len(row)}"))
        else:
            chunk.records.append((line, dict(zip(header, row, strict=True))))

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        text = io.TextIOWrapper(
            stream, encoding=options.get("encoding", "utf-8"), newline="", write_through=True
        )
        writer = csv.writer(
            text,
            delimiter=self.delimiter(options),
            quotechar=options.get("quotechar", '"'),
            lineterminator="\n",
        )
        escape = options.get("escape_formulas", True)
        writer.writerow([escape_formula(c) if escape else c for c in columns])
        count = 0
        for row in rows:
            cells = [_cell(row.get(c)) for c in columns]
            writer.writerow([escape_formula(v) for v in cells] if escape else cells)
            count += 1
        text.flush()
        text.detach()
        return count


def _trailer_count(row: list[str]) -> int | None:
    # a trailer is a last row like "TRAILER|1000" (or TRL/EOF): a marker then the record count
    if len(row) >= 2 and row[0].strip().upper() in ("TRAILER", "TRL", "EOF") and row[1].strip().isdigit():
        return int(row[1].strip())
    return None


class PipeFormat(CsvFormat):
    """Pipe-delimited text (the reference-data feeds), with an optional ``TRAILER|count`` last line."""

    name = "psv"
    extensions = (".psv", ".pipe", ".dat", ".txt")
    default_delimiter = "|"


class JsonFormat:
    """A JSON array of objects, or an object holding one under ``records_path`` (``data.items``)."""

    name = "json"
    extensions: tuple[str, ...] = (".json",)
    line_numbers = False
    columnar = False
    # a document is parsed whole (several times its size in memory): bigger deliveries belong in JSON Lines
    max_bytes = 64 * 1024 * 1024

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        limit = int(options.get("max_bytes", self.max_bytes))
        # read in pieces into one growing buffer: a single read(limit + 1) of a compressed stream joins
        # its pieces into a second copy, doubling the peak of a document refused for its size
        data = bytearray()
        while len(data) <= limit:
            piece = stream.read(min(1 << 20, limit + 1 - len(data)))
            if not piece:
                break
            data += piece
        if len(data) > limit:
            raise FileRejected(
                f"JSON document larger than {limit} bytes (max_bytes); use JSON Lines for big files",
                file=file,
            )
        try:
            doc = json.loads(
                data.decode(_encoding(options)), parse_float=Decimal, object_pairs_hook=_object_pairs
            )
        except UnicodeDecodeError as exc:
            raise FileRejected(
                f"not valid {options.get('encoding', 'utf-8')} at byte {exc.start}", file=file
            ) from None
        except json.JSONDecodeError as exc:
            raise FileRejected(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno) from None
        except RecursionError:
            raise FileRejected("JSON nested too deeply", file=file) from None
        path = options.get("records_path")
        if path:
            for key in str(path).split("."):
                if not isinstance(doc, dict) or key not in doc:
                    raise FileRejected(f"no {path!r} in the document", file=file)
                doc = doc[key]
        if isinstance(doc, dict) and "records" in doc and not path:
            doc = doc["records"]
        if not isinstance(doc, list):
            raise FileRejected("expected a JSON array of records", file=file)
        size = _chunk_rows(options)
        chunk = RawChunk()
        for n, item in enumerate(doc, start=1):
            _add_json_record(chunk, n, item)
            if len(chunk.records) + len(chunk.errors) >= size:
                yield chunk
                chunk = RawChunk()
        yield chunk

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        indent = options.get("indent")
        encoding = options.get("encoding", "utf-8")
        count = 0
        stream.write(b"[")
        for row in rows:
            body = _json_record(row, columns, indent)
            stream.write(
                (("," if count else "") + ("\n" if indent is not None else "") + body).encode(encoding)
            )
            count += 1
        stream.write(b"\n]\n" if indent is not None else b"]\n")
        return count


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers the first key it held twice."""

    __slots__ = ("duplicate",)

    def __init__(self) -> None:
        super().__init__()
        self.duplicate: str | None = None


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    # json.loads keeps the last of repeated keys silently: this hook sees every pair
    obj = _JsonObject()
    for key, value in pairs:
        if key in obj and obj.duplicate is None:
            obj.duplicate = key
        obj[key] = value
    return obj


def _add_json_record(chunk: RawChunk, n: int, item: Any) -> None:
    if not isinstance(item, dict):
        chunk.reject(n, f"record is a {type(item).__name__}, not an object")
    elif isinstance(item, _JsonObject) and item.duplicate is not None:
        chunk.reject(n, f"duplicate field {item.duplicate!r} in the record", item.duplicate)
    else:
        chunk.records.append((n, item))


class JsonLinesFormat:
    """One JSON object per line; streams any size."""

    name = "jsonl"
    extensions: tuple[str, ...] = (".jsonl", ".ndjson")
    line_numbers = True
    columnar = False

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        limits = ReadLimits.from_options(options, format_name=self.name)
        lines = _BoundedLines(_text(stream, options), limits.max_record_chars)
        size = _chunk_rows(options)
        chunk = RawChunk()
        while True:
            lines.start_record()
            try:
                raw_line = next(lines)
            except StopIteration:
                break
            except _RecordTooLong:
                chunk.errors.append((lines.number, _record_too_long(limits)))
                continue
            n = lines.number
            if not raw_line.strip():
                continue
            try:
                item = json.loads(raw_line, parse_float=Decimal, object_pairs_hook=_object_pairs)
            except json.JSONDecodeError as exc:
                chunk.errors.append((n, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            except RecursionError:
                chunk.errors.append((n, "JSON nested too deeply"))
            else:
                _add_json_record(chunk, n, item)
            if len(chunk.records) + len(chunk.errors) >= size:
                yield chunk
                chunk = RawChunk()
        yield chunk

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        encoding = options.get("encoding", "utf-8")
        count = 0
        for row in rows:
            line = _json_record(row, columns, None)
            stream.write((line + "\n").encode(encoding))
            count += 1
        return count


class FixedWidthFormat:
    """Fixed-width text; ``columns`` (or ``layout``) in config: ``[{name, start, width}]`` (start is 1-based) or ``[{name, width}]``."""

    name = "fixed_width"
    extensions: tuple[str, ...] = (".fw", ".fixed")
    line_numbers = True
    columnar = False

    @staticmethod
    def spec(options: Mapping[str, Any]) -> list[tuple[str, int, int]]:
        # "layout" is the name to use in exports, where "columns" means column selection
        columns = options.get("layout") or options.get("columns")
        if not columns:
            raise ConfigurationError(
                "fixed_width needs a column specification: columns: [{name, start, width}]",
                path="formats.fixed_width.columns",
            )
        out: list[tuple[str, int, int]] = []
        pos = 0
        for i, col in enumerate(columns):
            try:
                start = int(col["start"]) - 1 if "start" in col else pos
                width = int(col["width"])
                name = str(col["name"])
            except (KeyError, TypeError, ValueError):
                raise ConfigurationError(
                    f"column {i} needs name and width (and optionally start)",
                    path=f"formats.fixed_width.columns[{i}]",
                ) from None
            out.append((name, start, width))
            pos = start + width
        return out

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        spec = self.spec(options)
        end = max(s + w for _, s, w in spec)
        skip = int(options.get("skip_lines", 0))
        limits = ReadLimits.from_options(options, format_name=self.name)
        lines = _BoundedLines(_text(stream, options), limits.max_record_chars)
        size = _chunk_rows(options)
        chunk = RawChunk()
        pending: tuple[int, str] | None = None
        while True:
            lines.start_record()
            try:
                raw_line = next(lines)
            except StopIteration:
                break
            except _RecordTooLong:
                chunk.errors.append((lines.number, _record_too_long(limits)))
                continue
            n = lines.number
            line = raw_line.rstrip("\r\n")
            if n <= skip or not line.strip():
                continue
            if pending is not None:
                self._add(chunk, spec, end, *pending)
                if len(chunk.records) + len(chunk.errors) >= size:
                    yield chunk
                    chunk = RawChunk()
            pending = (n, line)
        if pending is not None:
            match = TRAILER_RE.match(pending[1])
            if match:
                chunk.trailer_count = int(match.group(1))
            else:
                self._add(chunk, spec, end, *pending)
        yield chunk

    @staticmethod
    def _add(chunk: RawChunk, spec: list[tuple[str, int, int]], end: int, n: int, line: str) -> None:
        if len(line.rstrip()) > end or len(line) < min(s for _, s, _ in spec) + 1:
            chunk.errors.append((n, f"line is {len(line)} characters; the layout spans {end}"))
            return
        chunk.records.append((n, {name: line[s : s + w].strip() for name, s, w in spec}))

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        spec = {name: (s, w) for name, s, w in self.spec(options)}
        missing = [c for c in columns if c not in spec]
        if missing:
            raise PayloadRejected(f"fixed_width layout has no width for columns {missing}")
        encoding = options.get("encoding", "utf-8")
        width = max(s + w for s, w in spec.values())
        count = 0
        for n, row in enumerate(rows, start=1):
            buf = [" "] * width
            for c in columns:
                s, w = spec[c]
                text = str(_cell(row.get(c)))
                if len(text) > w:
                    raise PayloadRejected(
                        f"record {n}: {c} value {text[:20]!r} is wider than its {w} columns", field=c, line=n
                    )
                buf[s : s + w] = list(text.ljust(w))
            stream.write(("".join(buf).rstrip() + "\n").encode(encoding))
            count += 1
        return count
