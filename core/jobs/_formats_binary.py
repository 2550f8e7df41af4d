"""The binary formats: XLSX workbooks (their parts measured before openpyxl opens them) and Parquet
files (read with polars in batches, written with pyarrow when it is installed, else with polars)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import IO, Any, ClassVar

from portico.jobs._formats import FileRejected, RawChunk, _chunk_rows, escape_formula
from portico.jobs._limits import RATIO_CHECK_AFTER, ReadLimits

__all__ = ["ParquetFormat", "XlsxFormat"]


class XlsxFormat:
    """Excel workbooks (openpyxl, read-only streaming); first row is the header.

    Before openpyxl opens a workbook its parts are measured (:func:`_check_workbook`): a zip member
    too large or too compressed, or a shared-string table too long, refuses the file.
    """

    name = "xlsx"
    extensions: tuple[str, ...] = (".xlsx",)
    line_numbers = True
    columnar = False
    needs_path: ClassVar[bool] = True

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        from zipfile import BadZipFile

        import openpyxl

        _check_workbook(stream, ReadLimits.from_options(options, format_name=self.name), file=file)
        try:
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except (BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileRejected(
                f"not a readable XLSX workbook: {type(exc).__name__}: {exc}", file=file
            ) from None
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

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
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


_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_CONTENT_TYPES_LIMIT = 1024 * 1024


def _check_workbook(stream: IO[bytes], limits: ReadLimits, *, file: str) -> None:
    """Refuse a workbook whose uncompressed parts would take unbounded memory or time to parse.

    openpyxl reads the whole shared-string table into memory when it opens a workbook, so its size,
    its entry count and its total length are bounded here, streaming, before openpyxl sees it. zipfile
    stops a member at its declared size (a larger one fails its CRC), so the sizes checked are the
    sizes read. Leaves ``stream`` at its start.

    Raises:
        FileRejected: a limit is exceeded (the message names the part and the limit).
    """
    import zipfile
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRejected(f"not a readable XLSX workbook: {type(exc).__name__}: {exc}", file=file) from None
    with archive:
        members = archive.infolist()
        total = 0
        for info in members:
            total += info.file_size
            if info.file_size > limits.max_part_bytes:
                raise FileRejected(
                    f"workbook part {info.filename} expands to {info.file_size} bytes, past max_part_bytes ({limits.max_part_bytes})",
                    file=file,
                )
            if info.file_size > RATIO_CHECK_AFTER and info.file_size > limits.max_compression_ratio * max(
                1, info.compress_size
            ):
                raise FileRejected(
                    f"workbook part {info.filename} expands {info.compress_size} bytes to {info.file_size}, past max_compression_ratio ({limits.max_compression_ratio}:1)",
                    file=file,
                )
        if total > limits.max_decompressed_bytes:
            raise FileRejected(
                f"workbook expands to {total} bytes, past max_decompressed_bytes ({limits.max_decompressed_bytes})",
                file=file,
            )
        names = {info.filename for info in members}
        shared = {n for n in names if n.lower().endswith("sharedstrings.xml")}
        if (
            "[Content_Types].xml" in names
            and archive.getinfo("[Content_Types].xml").file_size <= _CONTENT_TYPES_LIMIT
        ):
            try:
                types = fromstring(archive.read("[Content_Types].xml"))
            except (ParseError, DefusedXmlException):
                types = None  # openpyxl reports a broken manifest in its own words
            for override in types.iter() if types is not None else ():
                if override.get("ContentType") == _SHARED_STRINGS_TYPE and override.get("PartName"):
                    shared.add(override.get("PartName", "").lstrip("/"))
        for part in sorted(shared & names):
            # openpyxl keeps the whole table in memory: its size bounds the strings' total length
            size = archive.getinfo(part).file_size
            if size > limits.max_shared_strings_bytes:
                raise FileRejected(
                    f"{part} expands to {size} bytes, past max_shared_strings_bytes ({limits.max_shared_strings_bytes})",
                    file=file,
                )
            with archive.open(part) as handle:
                _count_shared_strings(handle, limits, part=part, file=file)
    stream.seek(0)


# a shared string's start tag, with any namespace prefix; text that merely looks like one (in a
# comment) is counted too, which only errs towards refusing
_SHARED_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


def _count_shared_strings(handle: IO[bytes], limits: ReadLimits, *, part: str, file: str) -> None:
    count = 0
    carry = b""
    while block := handle.read(1 << 20):
        data = carry + block
        count += len(_SHARED_STRING_TAG.findall(data))
        # keep a tail shorter than any tag, so a tag split across blocks is counted once, in the next
        keep = data[-64:]
        cut = keep.rfind(b"<")
        carry = keep[cut:] if cut >= 0 and not _SHARED_STRING_TAG.match(keep[cut:]) else b""
        if count > limits.max_shared_strings:
            raise FileRejected(
                f"{part} holds more than max_shared_strings ({limits.max_shared_strings}) strings", file=file
            )


class ParquetFormat:
    """Apache Parquet: read with polars (a main dependency) in batches; written with pyarrow when it is installed, else with polars."""

    name = "parquet"
    extensions: tuple[str, ...] = (".parquet", ".pq")
    line_numbers = False
    columnar = True

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        import polars as pl

        try:
            schema = pl.read_parquet_schema(stream)
        except pl.exceptions.DuplicateError as exc:
            raise FileRejected(
                f"header has blank or repeated column names: {exc}", file=file, line=1
            ) from None
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise FileRejected(f"not a readable Parquet file: {_first_line(exc)}", file=file) from None
        if any(not name.strip() for name in schema):
            raise FileRejected(
                f"header has blank or repeated column names: {list(schema)}", file=file, line=1
            )
        stream.seek(0)
        n = 0
        try:
            for batch in pl.scan_parquet(stream).collect_batches(chunk_size=_chunk_rows(options)):
                chunk = RawChunk()
                for record in batch.iter_rows(named=True):
                    n += 1
                    chunk.records.append((n, record))
                yield chunk
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise FileRejected(
                f"corrupt Parquet data after record {n}: {_first_line(exc)}", file=file
            ) from None

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
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


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _write_parquet_with_polars(
    rows: Iterable[Mapping[str, Any]], columns: list[str], stream: IO[bytes]
) -> int:
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
    frame = (
        pl.concat(frames, how="vertical_relaxed")
        if frames
        else pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    )
    frame.write_parquet(stream)
    return count


def _parquet_cell(value: Any) -> Any:
    # decimals of mixed scale do not share one arrow type; keep them exact as text
    if isinstance(value, Decimal):
        return str(value)
    return value
