"""The parsing, record-validation and mapping stages: the columnar plan or the per-record path, with every record accounted for."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from portico.jobs._fast_read import FallBack, fast_frames
from portico.jobs._formats import FileRejected, RawChunk, _trailer_count, open_maybe_gzip
from portico.jobs._import_accounting import _Accounting, _KeyIndex
from portico.jobs._import_result import (
    _HEADER_FORMATS,
    ImportResult,
    Stage,
    _reset_counts,
    storage_value,
)
from portico.jobs._import_state import _ImporterState
from portico.jobs._limits import ReadLimits
from portico.jobs._mapping import CompiledMapping, MappingError, UnmappedCode
from portico.jobs._readguard import ReadGuard
from portico.jobs._records import RecordType
from portico.jobs._scan import FileScan
from portico.jobs._sinks import SinkSession

if TYPE_CHECKING:
    import polars as pl


class _RecordStages(_ImporterState):
    """Stages of :class:`~portico.jobs._importer.DataImporter` (a mixin: its methods run on the importer)."""

    def _run(
        self,
        result: ImportResult,
        rt: RecordType,
        cm: CompiledMapping,
        fmt: Any,
        opts: dict[str, Any],
        path: Path,
        scan: FileScan,
        guard: ReadGuard,
        dry_run: bool,
        progress: Callable[[int, int | None], None] | None,
    ) -> None:
        expected_records = max(0, scan.lines - (1 if fmt.name in ("csv", "psv", "xlsx") else 0)) or None
        fast = self._fast_plan(rt, cm, fmt, opts, path, scan)
        if fast is not None:
            try:
                self._load(
                    result,
                    rt,
                    cm,
                    None,
                    fast,
                    dry_run,
                    progress,
                    expected_records,
                    scan.sha256,
                    guard=guard,
                    fmt=fmt,
                    opts=opts,
                )
                result.fast_path = True
                return
            except FallBack as exc:
                result.stage("parsing").detail["columnar_fallback"] = str(exc)
                _reset_counts(result)

        def chunks() -> Iterator[RawChunk]:
            with guard.open(limits=ReadLimits.from_options(opts, format_name=fmt.name)) as stream:
                yield from fmt.read(stream, opts, file=path.name)

        self._load(
            result,
            rt,
            cm,
            chunks(),
            None,
            dry_run,
            progress,
            expected_records,
            scan.sha256,
            guard=guard,
            fmt=fmt,
            opts=opts,
        )

    def _fast_plan(
        self,
        rt: RecordType,
        cm: CompiledMapping,
        fmt: Any,
        opts: Mapping[str, Any],
        path: Path,
        scan: FileScan,
    ) -> Any:
        from portico.jobs._columnar import columnar_plan
        from portico.jobs._fast_read import FastFile

        if not self.columnar or fmt.name not in ("csv", "psv") or scan.has_long_line or self.validators:
            return None
        if str(opts.get("encoding", "utf-8")).lower().replace("_", "-") not in ("utf-8", "utf8"):
            return None
        delim = str(opts.get("delimiter", fmt.default_delimiter))
        quotechar = str(opts.get("quotechar", '"') or "")
        if len(delim) != 1 or not delim.isascii() or delim in "\r\n":
            return None
        if scan.has_quote and (len(quotechar) != 1 or not quotechar.isascii() or quotechar == delim):
            return None
        limits = ReadLimits.from_options(opts, format_name=fmt.name)
        with open_maybe_gzip(path, limits, file=path.name) as handle:
            first = handle.readline(limits.max_record_chars + 1)
        text = first.decode("utf-8", "replace").rstrip("\r\n")
        text = text[1:] if text.startswith("\ufeff") else text
        if scan.has_quote and quotechar in text:
            import csv

            try:
                cells = next(csv.reader([text], delimiter=delim, quotechar=quotechar, strict=True), [])
            except csv.Error:
                return None
        else:
            cells = text.split(delim)
        header = [h.strip().lstrip("\ufeff") for h in cells]
        trailer = _trailer_count(scan.last_line.split(delim))
        if trailer is not None and scan.has_blank_line:
            return None  # where the per-record reader finds the trailer then depends on the blank lines: let it decide
        physical = scan.lines - 1 - (1 if trailer is not None else 0)
        if physical <= 0 or len(set(header)) != len(header) or not all(header):
            return None
        if not scan.has_quote and not scan.has_blank_line:
            expected_delims = (len(header) - 1) * (physical + 1) + (
                scan.last_line.count(delim) if trailer is not None else 0
            )
            if scan.delimiters != expected_delims:
                return None
        plan = columnar_plan(cm, header)
        if plan is None:
            return None
        spec = FastFile(
            header, delim, quotechar if scan.has_quote else None, physical, blank_lines=scan.has_blank_line
        )
        return (plan, spec, trailer, limits)

    def _process(
        self,
        result: ImportResult,
        rt: RecordType,
        cm: CompiledMapping,
        chunks: Iterator[RawChunk] | None,
        fast: Any,
        acct: _Accounting,
        session: SinkSession | None,
        progress: Callable[[int, int | None], None] | None,
        expected: int | None,
        guard: ReadGuard | None,
        opts: Mapping[str, Any] | None,
    ) -> int | None:
        keys = _KeyIndex()
        parsing, mapping_stage, loading = (
            result.stage("parsing"),
            result.stage("mapping"),
            result.stage("loading"),
        )
        validation = result.stage("record_validation")
        trailer: int | None = None
        header_checked = False
        if fast is not None:
            plan, spec, trailer, limits = fast
            data_rows = spec.physical_lines
            result.stage("parsing").detail["columnar"] = True
            assert guard is not None

            def parsed_and_mapped() -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.Series, float]]:
                for frame, control in fast_frames(
                    guard, spec, int((opts or {}).get("chunk_rows", self.chunk_rows)), limits
                ):
                    t0 = time.perf_counter()
                    mapped_frame, accepted = plan.run(frame, control=control)
                    yield frame, mapped_frame, accepted, time.perf_counter() - t0

            # parsing and mapping (polars, off the GIL) run one chunk ahead in a thread while this
            # thread writes the previous chunk: the two cores overlap instead of taking turns
            for df, mapped, ok, seconds in _prefetch(parsed_and_mapped()):
                mapping_stage.seconds += seconds
                result.records += df.height
                good = mapped.filter(ok)
                bad_idx = ok.not_().arg_true().to_list()
                rows: list[tuple[Any, ...]] = []
                lines: list[int] = []
                if bad_idx:
                    bad = df[bad_idx]
                    cols = [c for c in bad.columns if c != "__line"]
                    raw_rows = [
                        (row[0], dict(zip(cols, ("" if v is None else v for v in row[1:]), strict=True)))
                        for row in bad.select("__line", *cols).iter_rows()
                    ]
                    rows, lines = self._row_records(rt, cm, raw_rows, acct, validation, mapping_stage)
                self._write_columnar(rt, good, rows, lines, acct, session, keys, loading)
                if progress:
                    progress(result.records, data_rows)
            result.stage("parsing").status = "ok"
        else:
            assert chunks is not None
            while True:
                t0 = time.perf_counter()
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                finally:
                    parsing.seconds += time.perf_counter() - t0
                if chunk.trailer_count is not None:
                    trailer = chunk.trailer_count
                if chunk.detail:
                    parsing.detail.update(chunk.detail)
                if not header_checked and chunk.records and result.format in _HEADER_FORMATS:
                    self._check_header(result, cm, chunk.records[0][1])
                    header_checked = True
                result.records += len(chunk.records) + len(chunk.errors)
                for line, message in chunk.errors:
                    acct.reject(line, chunk.error_fields.get(line), message, None)
                rows, lines = self._row_records(rt, cm, chunk.records, acct, validation, mapping_stage)
                self._dedupe_and_write(rt, rows, lines, acct, session, keys, loading, sums_for=rows)
                if progress:
                    progress(result.records, expected)
            parsing.status = "ok"
        parsing.detail["records"] = result.records
        validation.status = mapping_stage.status = loading.status = "ok"
        validation.detail = {"rejected": result.rejected}
        mapping_stage.detail = {
            "quarantined": result.quarantined,
            "mapping": result.mapping,
            "version": result.mapping_version,
        }
        return trailer

    def _check_header(self, result: ImportResult, cm: CompiledMapping, first: Mapping[str, Any]) -> None:
        columns = set(first)
        needed = {
            c for f, cols in cm.mapping.source_columns(cm.rt).items() for c in cols if f in cm.rt.required
        }
        missing = sorted(needed - columns)
        if missing:
            result.stage("file_validation").status = "failed"
            raise FileRejected(
                f"header lacks columns {missing} needed by mapping {cm.mapping.name!r} v{cm.mapping.version} (header: {sorted(columns)})",
                file=Path(result.source).name,
                line=1,
            )

    def _row_records(
        self,
        rt: RecordType,
        cm: CompiledMapping,
        records: Sequence[tuple[int, Mapping[str, Any]]],
        acct: _Accounting,
        validation: Stage,
        mapping_stage: Stage,
    ) -> tuple[list[tuple[Any, ...]], list[int]]:
        rows: list[tuple[Any, ...]] = []
        lines: list[int] = []
        raws: list[Mapping[str, Any]] = []
        fields = rt.fields
        model = rt.model
        for line, raw in records:
            t0 = time.perf_counter()
            try:
                values = cm.map_row(raw)
            except MappingError as exc:
                acct.reject(line, exc.field, str(exc), raw)
                continue
            except UnmappedCode as exc:
                acct.quarantine(line, exc.field, exc.value, str(exc), raw)
                continue
            finally:
                mapping_stage.seconds += time.perf_counter() - t0
            t0 = time.perf_counter()
            try:
                record = model.model_validate({k: v for k, v in values.items() if v is not None})
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"]) or None
                acct.reject(line, loc, f"{loc or 'record'}: {err['msg']}", raw)
                continue
            finally:
                validation.seconds += time.perf_counter() - t0
            rows.append(tuple(storage_value(getattr(record, f)) for f in fields))
            lines.append(line)
            raws.append(raw)
        if self.validators and rows:
            rows, lines = self._reference_checks(rt, rows, lines, raws, acct)
        return rows, lines

    def _reference_checks(
        self,
        rt: RecordType,
        rows: list[tuple[Any, ...]],
        lines: list[int],
        raws: list[Mapping[str, Any]],
        acct: _Accounting,
    ) -> tuple[list[tuple[Any, ...]], list[int]]:
        fields = rt.fields
        dicts = [dict(zip(fields, r, strict=True)) for r in rows]
        failed: dict[int, str] = {}
        for validator in self.validators:
            types = getattr(validator, "data_types", None)
            if types and rt.name not in types:
                continue
            for idx, reason in (validator.validate(rt.name, dicts) or {}).items():
                failed.setdefault(int(idx), str(reason))
        if not failed:
            return rows, lines
        keep_rows, keep_lines = [], []
        for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
            if i in failed:
                acct.quarantine(line, None, None, f"reference check: {failed[i]}", raws[i])
            else:
                keep_rows.append(row)
                keep_lines.append(line)
        return keep_rows, keep_lines


def _prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run ``items`` in a worker thread, at most ``depth`` items ahead; its exceptions re-raise here.

    When the consumer stops early (an error while loading), the worker is told to stop and joined,
    so no thread outlives the load.
    """
    import queue
    import threading

    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:
            put(("error", exc))

    worker = threading.Thread(target=work, name="portico-import-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()
