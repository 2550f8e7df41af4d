"""File formats: readers that stream records in chunks, and writers. Every format is a plugin.

A format turns a byte stream into :class:`RawChunk` s (records with their line or record number, and
per-record parse errors) and writes rows back. Per-file problems (hostile XML, a truncated document,
an undecodable byte) raise :class:`FileRejected`; per-record problems (a ragged CSV row, a JSONL line
that is not JSON) are reported in the chunk and the rest of the file is still read.

The built-ins are registered through the ``portico_formats`` hook by :mod:`portico.jobs.plugin`, the
same way a vendor plugin adds its own layout.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol, runtime_checkable

from portico.errors import PayloadRejected

__all__ = [
    "CsvFormat",
    "FileRejected",
    "FixedWidthFormat",
    "Format",
    "JsonFormat",
    "JsonLinesFormat",
    "ParquetFormat",
    "PipeFormat",
    "RawChunk",
    "XlsxFormat",
    "XmlFormat",
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

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, **kwargs: Any) -> None:
        where = f"{file}" if file else ""
        if line is not None:
            where += f":{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message, line=line, **kwargs)
        self.file = file
        self.reason = message


@dataclass
class RawChunk:
    """Records read from a file: ``(line, record)`` pairs and ``(line, message)`` parse errors."""

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    trailer_count: int | None = None


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

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        """Write ``rows`` (with ``columns`` in order) to ``stream``; returns the number written."""
        ...


def open_maybe_gzip(path: Path) -> IO[bytes]:
    """Open ``path`` for reading, decompressing it transparently when it is gzip (by magic bytes)."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


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


def _text(stream: IO[bytes], options: Mapping[str, Any]) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding=options.get("encoding", "utf-8"), errors="strict", newline="")


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
        text = _text(stream, options)
        reader = csv.reader(
            text, delimiter=self.delimiter(options), quotechar=options.get("quotechar", '"'), strict=True
        )
        size = _chunk_rows(options)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected(f"unreadable header: {exc}", file=file, line=1) from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        if len(set(header)) != len(header) or any(not h for h in header):
            raise FileRejected(f"header has blank or repeated column names: {header}", file=file, line=1)
        chunk = RawChunk()
        pending: tuple[int, list[str]] | None = None
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                chunk.errors.append((line, f"malformed row: {exc}"))
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

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        text = io.TextIOWrapper(stream, encoding=options.get("encoding", "utf-8"), newline="", write_through=True)
        writer = csv.writer(
            text, delimiter=self.delimiter(options), quotechar=options.get("quotechar", '"'), lineterminator="\n"
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
    max_bytes = 512 * 1024 * 1024

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        limit = int(options.get("max_bytes", self.max_bytes))
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise FileRejected(f"JSON document larger than {limit} bytes; use JSON Lines for big files", file=file)
        try:
            doc = json.loads(data.decode(options.get("encoding", "utf-8")), parse_float=Decimal)
        except UnicodeDecodeError as exc:
            raise FileRejected(f"not valid {options.get('encoding', 'utf-8')} at byte {exc.start}", file=file) from None
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
            if isinstance(item, dict):
                chunk.records.append((n, item))
            else:
                chunk.errors.append((n, f"record is a {type(item).__name__}, not an object"))
            if len(chunk.records) + len(chunk.errors) >= size:
                yield chunk
                chunk = RawChunk()
        yield chunk

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        indent = options.get("indent")
        encoding = options.get("encoding", "utf-8")
        count = 0
        stream.write(b"[")
        for row in rows:
            body = _json_record(row, columns, indent)
            stream.write((("," if count else "") + ("\n" if indent is not None else "") + body).encode(encoding))
            count += 1
        stream.write(b"\n]\n" if indent is not None else b"]\n")
        return count


class JsonLinesFormat:
    """One JSON object per line; streams any size."""

    name = "jsonl"
    extensions: tuple[str, ...] = (".jsonl", ".ndjson")
    line_numbers = True
    columnar = False

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        size = _chunk_rows(options)
        chunk = RawChunk()
        for n, raw_line in enumerate(_text(stream, options), start=1):
            if not raw_line.strip():
                continue
            try:
                item = json.loads(raw_line, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                chunk.errors.append((n, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            except RecursionError:
                chunk.errors.append((n, "JSON nested too deeply"))
            else:
                if isinstance(item, dict):
                    chunk.records.append((n, item))
                else:
                    chunk.errors.append((n, f"record is a {type(item).__name__}, not an object"))
            if len(chunk.records) + len(chunk.errors) >= size:
                yield chunk
                chunk = RawChunk()
        yield chunk

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        encoding = options.get("encoding", "utf-8")
        count = 0
        for row in rows:
            line = _json_record(row, columns, None)
            stream.write((line + "\n").encode(encoding))
            count += 1
        return count


class XmlFormat:
    """``<records><record><field>value</field>...</record></records>`` (or fields as attributes).

    Parsed with defusedxml: DTDs, entity declarations (billion laughs) and external references are
    refused, and element depth and text size are bounded.
    """

    name = "xml"
    extensions: tuple[str, ...] = (".xml",)
    line_numbers = False
    columnar = False
    max_depth = 32
    max_text = 64 * 1024

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        from xml.etree.ElementTree import ParseError

        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import iterparse

        max_depth = int(options.get("max_depth", self.max_depth))
        max_text = int(options.get("max_text", self.max_text))
        record_tag = options.get("record_tag")
        size = _chunk_rows(options)
        chunk = RawChunk()
        depth = 0
        n = 0
        root: Any = None
        try:
            for event, elem in iterparse(stream, events=("start", "end"), forbid_dtd=True):
                if event == "start":
                    depth += 1
                    if root is None:
                        root = elem
                    if depth > max_depth:
                        raise FileRejected(f"XML nested deeper than {max_depth} elements", file=file)
                    continue
                depth -= 1
                is_record = elem.tag == record_tag if record_tag else depth == 1
                if not is_record:
                    continue
                n += 1
                record: dict[str, Any] = dict(elem.attrib)
                problem = None
                for child in elem:
                    if len(child):
                        problem = f"field <{child.tag}> has nested elements"
                    value = child.text or ""
                    if len(value) > max_text:
                        problem = f"field <{child.tag}> longer than {max_text} characters"
                    record[child.tag] = value.strip()
                if problem:
                    chunk.errors.append((n, problem))
                else:
                    chunk.records.append((n, record))
                elem.clear()
                if root is not None and depth == 1:
                    root.clear()
                if len(chunk.records) + len(chunk.errors) >= size:
                    yield chunk
                    chunk = RawChunk()
        except DefusedXmlException as exc:
            raise FileRejected(f"hostile XML refused: {type(exc).__name__}: {exc}", file=file) from None
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else None
            raise FileRejected(f"malformed or truncated XML: {exc}", file=file, line=line) from None
        yield chunk

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        from xml.sax.saxutils import escape

        encoding = options.get("encoding", "utf-8")
        root = options.get("root_tag", "records")
        tag = options.get("record_tag", "record")
        names = {c: _xml_name(c) for c in columns}
        stream.write(f'<?xml version="1.0" encoding="{encoding}"?>\n<{root}>\n'.encode(encoding))
        count = 0
        for row in rows:
            cells = "".join(f"<{names[c]}>{escape(str(_cell(row.get(c))))}</{names[c]}>" for c in columns)
            stream.write(f"  <{tag}>{cells}</{tag}>\n".encode(encoding, errors="xmlcharrefreplace"))
            count += 1
        stream.write(f"</{root}>\n".encode(encoding))
        return count


def _xml_name(column: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", column)
    return name if re.match(r"^[A-Za-z_]", name) else f"_{name}"


class FixedWidthFormat:
    """Fixed-width text; ``columns`` (or ``layout``) in config: ``[{name, start, width}]`` (start is 1-based) or ``[{name, width}]``."""

    name = "fixed_width"
    extensions: tuple[str, ...] = (".fw", ".fixed")
    line_numbers = True
    columnar = False

    @staticmethod
    def spec(options: Mapping[str, Any]) -> list[tuple[str, int, int]]:
        from portico.errors import ConfigurationError

        # "layout" is the name to use in exports, where "columns" means column selection
        columns = options.get("layout") or options.get("columns")
        if not columns:
            raise ConfigurationError("fixed_width needs a column specification: columns: [{name, start, width}]", path="formats.fixed_width.columns")
        out: list[tuple[str, int, int]] = []
        pos = 0
        for i, col in enumerate(columns):
            try:
                start = int(col["start"]) - 1 if "start" in col else pos
                width = int(col["width"])
                name = str(col["name"])
            except (KeyError, TypeError, ValueError):
                raise ConfigurationError(f"column {i} needs name and width (and optionally start)", path=f"formats.fixed_width.columns[{i}]") from None
            out.append((name, start, width))
            pos = start + width
        return out

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        spec = self.spec(options)
        end = max(s + w for _, s, w in spec)
        skip = int(options.get("skip_lines", 0))
        size = _chunk_rows(options)
        chunk = RawChunk()
        pending: tuple[int, str] | None = None
        for n, raw_line in enumerate(_text(stream, options), start=1):
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

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
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
                    raise PayloadRejected(f"record {n}: {c} value {text[:20]!r} is wider than its {w} columns", field=c, line=n)
                buf[s : s + w] = list(text.ljust(w))
            stream.write(("".join(buf).rstrip() + "\n").encode(encoding))
            count += 1
        return count


class XlsxFormat:
    """Excel workbooks (openpyxl, read-only streaming); first row is the header."""

    name = "xlsx"
    extensions: tuple[str, ...] = (".xlsx",)
    line_numbers = True
    columnar = False
    needs_path: ClassVar[bool] = True

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        from zipfile import BadZipFile

        import openpyxl

        try:
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileRejected(f"not a readable XLSX workbook: {type(exc).__name__}: {exc}", file=file) from None
        try:
            sheet_name = options.get("sheet")
            if sheet_name and sheet_name not in book.sheetnames:
                raise FileRejected(f"no sheet {sheet_name!r}; sheets: {book.sheetnames}", file=file)
            sheet = book[sheet_name] if sheet_name else book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header_row = next(rows, None)
            if header_row is None:
                return
            header = [str(h).strip() if h is not None else "" for h in header_row]
            while header and not header[-1]:
                header.pop()
            if len(set(header)) != len(header) or any(not h for h in header):
                raise FileRejected(f"header has blank or repeated column names: {header}", file=file, line=1)
            size = _chunk_rows(options)
            chunk = RawChunk()
            for n, row in enumerate(rows, start=2):
                values = list(row)
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                extra = [v for v in values[len(header) :] if v not in (None, "")]
                if extra:
                    chunk.errors.append((n, f"values beyond the {len(header)} header columns"))
                else:
                    values += [None] * (len(header) - len(values))
                    chunk.records.append((n, dict(zip(header, values[: len(header)], strict=True))))
                if len(chunk.records) + len(chunk.errors) >= size:
                    yield chunk
                    chunk = RawChunk()
            yield chunk
        finally:
            book.close()

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        import openpyxl
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font, PatternFill

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet(options.get("sheet", "data"))
        styled = options.get("report", False)
        widths = [len(c) for c in columns]
        header = []
        for c in columns:
            cell = WriteOnlyCell(sheet, value=escape_formula(c))
            if styled:
                cell.font = Font(bold=True, color="FFFFFF")
                cell.fill = PatternFill("solid", fgColor="305496")
            header.append(cell)
        if styled:
            sheet.freeze_panes = "A2"
        # column widths must be set before the first row in write-only mode; estimate from the header
        for i, w in enumerate(widths, start=1):
            from openpyxl.utils import get_column_letter

            sheet.column_dimensions[get_column_letter(i)].width = max(10, min(60, w + 4))
        sheet.append(header)
        number_format = options.get("number_format", "#,##0.00##")
        count = 0
        for row in rows:
            cells = []
            for c in columns:
                value = row.get(c)
                if isinstance(value, Decimal):
                    cell = WriteOnlyCell(sheet, value=value)
                    if styled:
                        cell.number_format = number_format
                elif isinstance(value, datetime):
                    cell = WriteOnlyCell(sheet, value=value.replace(tzinfo=None) if value.tzinfo else value)
                elif isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=escape_formula(value))
                else:
                    cell = WriteOnlyCell(sheet, value=value)
                cells.append(cell)
            sheet.append(cells)
            count += 1
        book.save(stream)
        return count


class ParquetFormat:
    """Apache Parquet (pyarrow), read in record batches."""

    name = "parquet"
    extensions: tuple[str, ...] = (".parquet", ".pq")
    line_numbers = False
    columnar = True

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(stream)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise FileRejected(f"not a readable Parquet file: {exc}", file=file) from None
        n = 0
        try:
            for batch in pf.iter_batches(batch_size=_chunk_rows(options)):
                chunk = RawChunk()
                for record in batch.to_pylist():
                    n += 1
                    chunk.records.append((n, record))
                yield chunk
        except (pa.ArrowException, OSError) as exc:
            raise FileRejected(f"corrupt Parquet data after record {n}: {exc}", file=file) from None

    def write(self, rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes], options: Mapping[str, Any]) -> int:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            # pyarrow is an extra; polars (a dependency) writes Parquet itself, in one piece
            return _write_parquet_with_polars(rows, columns, stream)

        writer = None
        count = 0
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writer
            table = pa.Table.from_pylist([{c: _parquet_cell(r.get(c)) for c in columns} for r in batch])
            if writer is None:
                writer = pq.ParquetWriter(stream, table.schema)
            writer.write_table(table.cast(writer.schema))

        for row in rows:
            batch.append(dict(row))
            count += 1
            if len(batch) >= 50_000:
                flush()
                batch = []
        if batch or writer is None:
            if not batch:
                batch = []
                table = pa.table({c: pa.array([], type=pa.string()) for c in columns})
                pq.write_table(table, stream)
                return 0
            flush()
        assert writer is not None
        writer.close()
        return count


def _write_parquet_with_polars(rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes]) -> int:
    import polars as pl

    frames: list[pl.DataFrame] = []
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append({c: _parquet_cell(row.get(c)) for c in columns})
        count += 1
        if len(batch) >= 50_000:
            frames.append(pl.DataFrame(batch, schema=columns, infer_schema_length=None))
            batch = []
    if batch:
        frames.append(pl.DataFrame(batch, schema=columns, infer_schema_length=None))
    # the same cells pyarrow would write: decimals as exact text, an empty export as text columns
    frame = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    frame.write_parquet(stream)
    return count


def _parquet_cell(value: Any) -> Any:
    # decimals of mixed scale do not share one arrow type; keep them exact as text
    if isinstance(value, Decimal):
        return str(value)
    return value
