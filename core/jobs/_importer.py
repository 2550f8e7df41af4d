"""DataImporter: file (or connector) -> validated, mapped records -> a destination, with every record accounted for.

Stages (each recorded in the result manifest): arrival, file validation, parsing, record validation,
mapping, loading, control totals. The load runs in one store transaction: data, the load ledger,
rejects, quarantined records and (under a JobService) the run record commit together or not at all,
so a crash (even ``kill -9``) at any point leaves the state of before the run, or a load whose
history is complete and whose manifest file the re-run restores; the re-run ends where a clean run would.
The bytes loaded are proven to be the bytes validated (see :mod:`portico.jobs._readguard`).

Idempotency is by delivery: ``(data_type, source_key, destination)``. The same bytes again is a
no-op; different bytes under the same key is a corrected redelivery, which backs the earlier load out
and applies the new one in the same transaction.
"""

from __future__ import annotations

import gc
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from portico.errors import ConfigurationError, PorticoError
from portico.jobs._formats import FileRejected, RawChunk, _trailer_count
from portico.jobs._limits import ReadLimits
from portico.jobs._mapping import CompiledMapping, FieldMapping, MappingError, UnmappedCode, default_mapping
from portico.jobs._readguard import ReadGuard, file_identity
from portico.jobs._records import RecordType, record_type
from portico.jobs._reference_pull import loaded_rows
from portico.jobs._scan import FileScan, scan_file
from portico.jobs._sinks import LoadContext, SinkSession, atomic_write, exact_sum, loaded_sums
from portico.jobs._tables import ensure_job_tables, job_tables

if TYPE_CHECKING:
    import polars as pl
    import sqlalchemy as sa

    from portico.clock import Clock
    from portico.jobs._registry import FormatRegistry, SinkRegistry
    from portico.store import Database

__all__ = ["DataImporter", "ImportResult", "Stage", "storage_value"]

STAGES = ("arrival", "file_validation", "parsing", "record_validation", "mapping", "loading", "control_totals")
_SAMPLE = 100
_RAW_LIMIT = 4096
_TEXT_FORMATS = {"csv", "psv", "jsonl", "fixed_width", "json"}
_HEADER_FORMATS = {"csv", "psv", "xlsx", "parquet"}


class ControlTotalsMismatch(FileRejected):
    """Source and loaded counts or sums differ: the load is rolled back."""


class _FallBack(Exception):
    """The columnar path met input only the per-record path can read exactly; redo the file that way."""


class _LostRace(FileRejected):
    """A concurrent import committed other bytes of this delivery while this one loaded: load again on top."""

    def __init__(self, winner: str) -> None:
        super().__init__(f"another import committed this delivery (load {winner}) while this one was loading, twice; nothing was loaded by this run: run it again")
        self.winner = winner


@dataclass
class Stage:
    """One pipeline stage of a run: status, timing and what it found."""

    name: str
    status: str = "pending"
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportResult:
    """The result manifest of one import run.

    ``status`` is ``loaded`` (every record loaded), ``partial`` (some rejected or quarantined),
    ``duplicate`` (this exact delivery was already loaded: nothing changed), ``failed`` (the file
    itself failed: nothing loaded) or ``dry_run``. ``manifest_error`` says why the manifest file could
    not be written (a full disk): the status still tells what the load did.
    """

    run_id: str
    data_type: str
    source: str
    source_key: str
    destination: str
    status: str = "pending"
    load_id: str | None = None
    checksum: str | None = None
    format: str | None = None
    mapping: str | None = None
    mapping_version: int | None = None
    supersedes: str | None = None
    feed: str | None = None
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    quarantined: int = 0
    control_totals: dict[str, Any] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    manifest_path: str | None = None
    manifest_error: str | None = None
    fast_path: bool = False
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when every record loaded (or already had), 3 when some were rejected/quarantined, 1 when the file failed."""
        if self.status == "failed":
            return 1
        if self.rejected or self.quarantined:
            return 3
        return 0

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        s = Stage(name)
        self.stages.append(s)
        return s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the manifest."""
        return json.loads(json.dumps(asdict(self), default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | datetime | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def storage_value(value: Any) -> Any:
    """A canonical value as the store keeps it: Decimal -> exact text, date -> ISO text, bool -> 0/1."""
    if isinstance(value, Decimal):
        # plain notation ("1000", not "1E+3"): the same text the columnar path keeps for canonical input
        return format(value, "f")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _raw_json(raw: Any) -> str:
    text = json.dumps(raw, default=_json_default, ensure_ascii=False)
    return text if len(text) <= _RAW_LIMIT else text[: _RAW_LIMIT - 20] + '..."(truncated)"'


def feed_of(source_key: str) -> str:
    """The feed a delivery belongs to: its name with digits folded, so daily files compare with each other."""
    return re.sub(r"\d+", "#", source_key)


class _Accounting:
    """Counts, sums, samples, and the batched writes of rejects and quarantined records."""

    def __init__(self, importer: DataImporter, conn: sa.Connection | None, result: ImportResult, ctx: dict[str, Any]) -> None:
        self.imp = importer
        self.conn = conn
        self.result = result
        self.ctx = ctx
        self.sums: dict[str, Decimal] = {}
        self._rejects: list[dict[str, Any]] = []
        self._dlq: list[dict[str, Any]] = []

    def reject(self, line: int | None, fieldname: str | None, reason: str, raw: Any) -> None:
        self.result.rejected += 1
        entry = {"line": line, "field": fieldname, "reason": reason}
        if len(self.result.rejects) < _SAMPLE:
            self.result.rejects.append(entry)
        if self.conn is not None:
            self._rejects.append({"load_id": self.ctx["load_id"], **entry, "raw": _raw_json(raw)})
            if len(self._rejects) >= 5000:
                self.flush()

    def quarantine(self, line: int | None, fieldname: str | None, value: Any, reason: str, raw: Any) -> None:
        self.result.quarantined += 1
        entry = {"line": line, "field": fieldname, "value": None if value is None else str(value), "reason": reason}
        if len(self.result.quarantine) < _SAMPLE:
            self.result.quarantine.append(entry)
        if self.conn is not None:
            now = self.imp.clock.now()
            self._dlq.append(
                {
                    "load_id": self.ctx["load_id"],
                    "data_type": self.result.data_type,
                    "destination": self.result.destination,
                    "source_key": self.result.source_key,
                    **entry,
                    "raw": _raw_json(raw),
                    "mapping": self.result.mapping,
                    "mapping_version": self.result.mapping_version,
                    "status": "open",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(self._dlq) >= 5000:
                self.flush()

    def flush(self) -> None:
        if self.conn is None:
            return
        tables = job_tables()
        if self._rejects:
            self.conn.execute(tables["rejects"].insert(), self._rejects)
            self._rejects = []
        if self._dlq:
            self.conn.execute(tables["dlq"].insert(), self._dlq)
            self._dlq = []

    def add_sums(self, sums: Mapping[str, Decimal]) -> None:
        for k, v in sums.items():
            self.sums[k] = exact_sum((v,), self.sums.get(k, Decimal(0)))


class _KeyIndex:
    """Natural keys seen so far in this file, as 64-bit hashes with their first line.

    The hashes live in 256 sorted buckets (by their top byte): a chunk is checked with binary
    searches and merged into small arrays, so the cost per chunk stays flat as the file grows, and
    memory is 12 bytes per record. A hash hit is confirmed against the actual key values (in the
    chunk, or read back from the destination when it can), so a collision never rejects a record.
    """

    _BUCKETS = 256

    def __init__(self) -> None:
        import numpy as np

        self.hashes = [np.empty(0, dtype=np.uint64) for _ in range(self._BUCKETS)]
        self.lines = [np.empty(0, dtype=np.int32) for _ in range(self._BUCKETS)]

    def check(self, keys: pl.DataFrame, lines: Sequence[int], confirm: Callable[[int, int], bool] | None = None) -> dict[int, int]:
        """Positions (in ``keys``) of duplicates -> the line of the first occurrence.

        Args:
            keys: the chunk's key columns as text.
            lines: each row's line.
            confirm: ``confirm(pos, earlier_line)`` says whether row ``pos`` really has the key of the
                earlier line's record (from a previous chunk); without it a hash hit counts.
        """
        import numpy as np

        if keys.height == 0:
            return {}
        h = keys.hash_rows(seed=11).to_numpy()
        ln = np.asarray(lines, dtype=np.int32)
        order = np.argsort(h, kind="stable")
        sorted_h = h[order]
        dups: dict[int, int] = {}
        repeats = np.nonzero(sorted_h[1:] == sorted_h[:-1])[0]
        if repeats.size:
            rows = keys.rows()
            for i in repeats.tolist():
                later = int(order[i + 1])
                # walk back through the run of equal hashes to a row with equal key values
                j = i
                while j >= 0 and sorted_h[j] == sorted_h[i + 1]:
                    earlier = int(order[j])
                    if rows[earlier] == rows[later] and earlier not in dups:
                        dups[later] = int(ln[earlier])
                        break
                    j -= 1
        bounds = np.searchsorted(sorted_h >> np.uint64(56), np.arange(self._BUCKETS + 1, dtype=np.uint64))
        for b in range(self._BUCKETS):
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            if lo == hi or not self.hashes[b].size:
                continue
            bucket = self.hashes[b]
            idx = np.minimum(np.searchsorted(bucket, sorted_h[lo:hi]), bucket.size - 1)
            for k in np.nonzero(bucket[idx] == sorted_h[lo:hi])[0].tolist():
                pos = int(order[lo + k])
                earlier_line = int(self.lines[b][idx[k]])
                if pos not in dups and (confirm is None or confirm(pos, earlier_line)):
                    dups[pos] = earlier_line
        keep = np.ones(h.size, dtype=bool)
        if dups:
            keep[list(dups)] = False
        kept_sorted = keep[order]
        new_h, new_l = sorted_h[kept_sorted], ln[order][kept_sorted]
        bounds = np.searchsorted(new_h >> np.uint64(56), np.arange(self._BUCKETS + 1, dtype=np.uint64))
        for b in range(self._BUCKETS):
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            if lo == hi:
                continue
            merged = np.concatenate([self.hashes[b], new_h[lo:hi]])
            merged_lines = np.concatenate([self.lines[b], new_l[lo:hi]])
            o = np.argsort(merged, kind="stable")
            self.hashes[b], self.lines[b] = merged[o], merged_lines[o]
        return dups


class DataImporter:
    """Imports files and record streams into destinations, accounting for every record.

    Args:
        db: the embedded store (ledger, rejects, dead-letter queue, and the default destination).
        clock: time source.
        formats: the format registry.
        sinks: the sink registry.
        validators: reference-check validators (``portico_record_validators`` hook results).
        monitor: anything with ``.emit(event, *, system=None, severity="info", **data)``; optional.
        format_options: per-format options from the ``data_import.formats`` config.
        mappings: named field mappings from config.
        home: where result manifests are written (``<home>/manifests``).
        market_data: the runtime's market data service, for ``market_data_service`` loads.
        http_transport: an httpx transport for HTTP sinks (tests inject one).
        chunk_rows: records per chunk (memory is bounded by a few chunks).
        columnar: allow the polars fast path for plain delimited files (False: always per record).
        write_file: writes a file under ``home`` atomically, as ``write_file(path, produce)`` with
            ``produce(handle)`` writing the bytes (default :func:`~portico.jobs._sinks.atomic_write`;
            tests inject a full disk).
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        formats: FormatRegistry,
        sinks: SinkRegistry,
        validators: Sequence[Any] = (),
        monitor: Any = None,
        format_options: Mapping[str, Mapping[str, Any]] | None = None,
        mappings: Mapping[str, FieldMapping] | None = None,
        home: Path | None = None,
        market_data: Any = None,
        http_transport: Any = None,
        chunk_rows: int = 100_000,
        columnar: bool = True,
        write_file: Callable[[Path, Callable[[Any], None]], None] = atomic_write,
    ) -> None:
        from portico.home import portico_home

        self.db = db
        self.clock = clock
        self.formats = formats
        self.sinks = sinks
        self.validators = list(validators)
        self.monitor = monitor
        self.format_options = dict(format_options or {})
        self.mappings = dict(mappings or {})
        self.home = home or portico_home()
        self.market_data = market_data
        self.http_transport = http_transport
        self.chunk_rows = chunk_rows
        self.columnar = columnar
        self.write_file = write_file
        self.committed_listeners: list[Callable[[ImportResult, RecordType, Callable[[], list[dict[str, Any]]]], None]] = []
        """Called after each committed load with (result, record type, a function reading the load's rows):
        how a service acts on what a destination it owns received (the runtime applies ``trading_book``
        corporate actions); the rows are read only by a listener that asks."""
        # set by the JobService: runs a coroutine on the runtime's event loop (services live there)
        self.run_coroutine: Callable[[Any], Any] | None = None
        # set by the JobService: records the run in its history inside the load's own transaction, so a
        # load that commits always has its run record (a crash right after the commit loses nothing)
        self.record_run: Callable[[sa.Connection, ImportResult], None] | None = None
        ensure_job_tables(db)

    # -- public ------------------------------------------------------------------------------------

    def resolve_mapping(self, mapping: str | FieldMapping | Mapping[str, Any] | None, rt: RecordType) -> FieldMapping:
        """A mapping by name (from config), as an object, as a dict, or the identity mapping."""
        if mapping is None:
            return default_mapping(rt)
        if isinstance(mapping, FieldMapping):
            found = mapping
        elif isinstance(mapping, str):
            if mapping in self.mappings:
                found = self.mappings[mapping]
            elif Path(mapping).is_file():
                found = _mapping_from_file(Path(mapping))
            else:
                known = ", ".join(sorted(self.mappings)) or "none configured"
                raise ConfigurationError(f"unknown mapping {mapping!r}; mappings: {known}", path="mapping")
        else:
            found = FieldMapping.model_validate(mapping)
        if found.data_type and record_type(found.data_type).name != rt.name:
            raise ConfigurationError(f"mapping {found.name!r} is for {found.data_type}, not {rt.name}", path="mapping")
        return found

    def options_for(self, fmt_name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Format options: config ``data_import.formats.<name>`` then per-call overrides."""
        opts: dict[str, Any] = {"chunk_rows": self.chunk_rows}
        opts.update(self.format_options.get(fmt_name, {}))
        if fmt_name == "psv" and "psv" not in self.format_options:
            opts.update({k: v for k, v in self.format_options.get("csv", {}).items() if k != "delimiter"})
        opts.update(overrides or {})
        return opts

    def import_file(
        self,
        path: str | Path,
        data_type: str,
        *,
        format: str | None = None,
        mapping: str | FieldMapping | Mapping[str, Any] | None = None,
        destination: str = "store",
        source_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        expected_checksum: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        run_id: str | None = None,
        feed: str | None = None,
        row_change_tolerance: float = 0.10,
    ) -> ImportResult:
        """Import one file. Never raises for bad input: a failed file is a result with ``status='failed'``.

        Args:
            path: the file (gzip is decompressed transparently).
            data_type: a record type name (``positions``, ``prices``...).
            format: a format name; default: chosen by the file's extension.
            mapping: a configured mapping name, a mapping file, or a mapping object.
            destination: ``store`` (default), ``file://...``, ``https://...``, ``market_data_service``.
            source_key: the delivery's identity for idempotency; default: the file name.
            options: format option overrides.
            dry_run: validate and map everything, load nothing, write nothing.
            expected_checksum: sha256 the file must have (else the ``<file>.sha256`` sidecar, when present).
            progress: called with (records done, records expected) as chunks complete.
            run_id: the run id to record (the scheduler passes its own).
            feed: the feed name for row-count comparisons; default: ``source_key`` with digits folded.
            row_change_tolerance: a record count differing from the feed's previous delivery by more
                than this fraction raises ``jobs.row_count_changed``.
        """
        path = Path(path)
        rt = record_type(data_type)
        result = ImportResult(
            run_id=run_id or uuid.uuid4().hex,
            data_type=rt.name,
            source=str(path),
            source_key=source_key or path.name,
            destination=destination,
            started_at=self.clock.now().isoformat(),
        )
        result.feed = feed or feed_of(result.source_key)
        for name in STAGES:
            result.stage(name)
        try:
            fmt = self.formats.for_path(path, format)
            result.format = fmt.name
            opts = self.options_for(fmt.name, options)
            # a format whose files hold several record types (a camt.053 statement) reads the one asked for
            opts.setdefault("data_type", rt.name)
            fm = self.resolve_mapping(mapping, rt)
            cm = fm.compile(rt)
            result.mapping, result.mapping_version = fm.name, fm.version
            scan, guard = self._arrive_and_validate(path, fmt, opts, result, expected_checksum)
            if self._already_loaded(result, scan.sha256):
                return self._finish(result)
            try:
                self._run(result, rt, cm, fmt, opts, path, scan, guard, dry_run, progress)
            except _LostRace:
                # a sequential re-run would replace the winner's load with these bytes: do just that, once
                self._run(result, rt, cm, fmt, opts, path, scan, guard, dry_run, progress)
        except PorticoError as exc:
            self._fail(result, exc)
        except Exception as exc:  # the process never crashes on input; the manifest names the failure
            self._fail(result, FileRejected(f"unexpected {type(exc).__name__}: {exc}", file=path.name))
        return self._finish(result, dry_run=dry_run, tolerance=row_change_tolerance)

    def import_records(
        self,
        records: Iterable[Mapping[str, Any]],
        data_type: str,
        *,
        source_key: str,
        destination: str = "store",
        mapping: str | FieldMapping | Mapping[str, Any] | None = None,
        run_id: str | None = None,
        source: str | None = None,
    ) -> ImportResult:
        """Import records pulled from somewhere other than a file (a connector), with the same guarantees.

        ``source_key`` identifies the delivery (``alpha_vantage:daily_prices:2026-01-05``): re-running
        with the same records is a no-op, with different records a corrected redelivery.
        """
        rt = record_type(data_type)
        rows = [dict(r) for r in records]
        checksum = _records_checksum(rows)
        result = ImportResult(
            run_id=run_id or uuid.uuid4().hex,
            data_type=rt.name,
            source=source or source_key,
            source_key=source_key,
            destination=destination,
            format="records",
            started_at=self.clock.now().isoformat(),
            feed=feed_of(source_key),
        )
        for name in STAGES:
            result.stage(name)
        try:
            fm = self.resolve_mapping(mapping, rt)
            result.mapping, result.mapping_version = fm.name, fm.version
            result.checksum = checksum
            result.stage("arrival").status = "ok"
            result.stage("file_validation").status = "skipped"
            if self._already_loaded(result, checksum):
                return self._finish(result)

            def chunks() -> Iterator[RawChunk]:
                yield RawChunk(records=list(enumerate(rows, start=1)))

            try:
                self._load(result, rt, fm.compile(rt), chunks(), None, False, None, None, checksum)
            except _LostRace:
                self._load(result, rt, fm.compile(rt), chunks(), None, False, None, None, checksum)
        except PorticoError as exc:
            self._fail(result, exc)
        except Exception as exc:
            self._fail(result, FileRejected(f"unexpected {type(exc).__name__}: {exc}", file=source_key))
        return self._finish(result)

    # -- stages ------------------------------------------------------------------------------------

    def _arrive_and_validate(self, path: Path, fmt: Any, opts: Mapping[str, Any], result: ImportResult, expected: str | None) -> tuple[FileScan, ReadGuard]:
        arrival = result.stage("arrival")
        t0 = time.perf_counter()
        if not path.is_file():
            arrival.status = "failed"
            raise FileRejected("file not found", file=str(path))
        try:
            identity = file_identity(path)
        except OSError as exc:
            arrival.status = "failed"
            raise FileRejected(f"cannot read file: {exc.strerror or exc}", file=path.name) from None
        size = identity.size
        arrival.detail = {"size": size}
        if size == 0:
            arrival.status = "failed"
            self._emit("jobs.file_empty", severity="error", file=str(path), data_type=result.data_type)
            raise FileRejected("file is empty", file=path.name)
        arrival.status = "ok"
        arrival.seconds = time.perf_counter() - t0
        check = result.stage("file_validation")
        t0 = time.perf_counter()
        text = fmt.name in _TEXT_FORMATS
        check.status = "failed"
        scan = scan_file(
            path,
            encoding=opts.get("encoding", "utf-8") if text else None,
            delimiter=str(opts.get("delimiter", getattr(fmt, "default_delimiter", ","))),
            quotechar=str(opts.get("quotechar", '"')),
            file=path.name,
            limits=ReadLimits.from_options(opts, format_name=fmt.name),
        )
        guard = ReadGuard(path, scan.sha256, identity, file=path.name)
        try:
            unchanged = file_identity(path) == identity
        except OSError:
            unchanged = False
        if not unchanged:
            raise FileRejected("the file changed while it was being validated; nothing was loaded: import it again once it is complete", file=path.name)
        result.checksum = scan.sha256
        sidecar = path.with_name(path.name + ".sha256")
        if expected is None and sidecar.is_file():
            expected = sidecar.read_text(encoding="ascii", errors="replace").split()[0] if sidecar.read_text().strip() else None
        if expected is not None and expected.lower() != scan.sha256:
            raise FileRejected(f"checksum mismatch: expected sha256 {expected}, file has {scan.sha256}", file=path.name)
        if text and scan.lines <= 1 and fmt.name in ("csv", "psv"):
            self._emit("jobs.file_empty", severity="error", file=str(path), data_type=result.data_type)
            raise FileRejected("file has a header but no records", file=path.name)
        check.detail = {"sha256": scan.sha256, "bytes": scan.size, "lines": scan.lines, "gzip": scan.gzip, "checksum_verified": expected is not None}
        check.status = "ok"
        check.seconds = time.perf_counter() - t0
        return scan, guard

    def _already_loaded(self, result: ImportResult, checksum: str) -> bool:
        import sqlalchemy as sa

        loads = job_tables()["loads"]
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(loads).where(
                    loads.c.data_type == result.data_type, loads.c.source_key == result.source_key, loads.c.destination == result.destination, loads.c.status == "committed"
                )
            ).first()
        if row is None or row.checksum != checksum:
            return False
        result.status = "duplicate"
        result.load_id = row.load_id
        result.records = row.rows_source
        result.loaded = 0
        result.control_totals = {"note": f"identical delivery already loaded as load {row.load_id}; nothing changed"}
        for s in result.stages[2:]:
            s.status = "skipped"
        restored = self._restore_manifest(row)
        if restored is not None:
            result.control_totals["restored_manifest"] = str(restored)
        return True

    def _restore_manifest(self, load: Any) -> Path | None:
        """Write the manifest of a committed load whose run died before writing it; the path, or None.

        The run record committed with the load holds the manifest's summary; a load without one (made
        by a bare importer) gets a summary rebuilt from its ledger row.
        """
        import sqlalchemy as sa

        if not load.run_id or self._manifest_path(load.run_id).exists():
            return None
        runs = job_tables()["runs"]
        with self.db.begin() as conn:
            stored = conn.execute(sa.select(runs.c.manifest).where(runs.c.run_id == load.run_id)).scalar()
        summary: dict[str, Any] = json.loads(stored) if stored else {}
        if not summary.get("load_id"):
            summary = {
                "run_id": load.run_id,
                "data_type": load.data_type,
                "source": load.file,
                "source_key": load.source_key,
                "destination": load.destination,
                "status": "loaded" if not (load.rows_rejected or load.rows_quarantined) else "partial",
                "load_id": load.load_id,
                "checksum": load.checksum,
                "mapping": load.mapping,
                "mapping_version": load.mapping_version,
                "feed": load.feed,
                "records": load.rows_source,
                "loaded": load.rows_loaded,
                "rejected": load.rows_rejected,
                "quarantined": load.rows_quarantined,
                "rebuilt_from": "the load ledger (no run record)",
            }
        summary["manifest_path"] = str(self._manifest_path(load.run_id))
        try:
            path = self._write_manifest_file(load.run_id, load.load_id, summary)
        except OSError as exc:
            self._emit("jobs.manifest_failed", severity="error", run_id=load.run_id, error=_os_error(exc))
            return None
        self._emit("jobs.manifest_restored", severity="warning", run_id=load.run_id, load_id=load.load_id, path=str(path))
        return path

    def _run(
        self, result: ImportResult, rt: RecordType, cm: CompiledMapping, fmt: Any, opts: dict[str, Any], path: Path, scan: FileScan, guard: ReadGuard, dry_run: bool, progress: Callable[[int, int | None], None] | None
    ) -> None:
        expected_records = max(0, scan.lines - (1 if fmt.name in ("csv", "psv", "xlsx") else 0)) or None
        fast = self._fast_plan(rt, cm, fmt, opts, path, scan)
        if fast is not None:
            try:
                self._load(result, rt, cm, None, fast, dry_run, progress, expected_records, scan.sha256, guard=guard, fmt=fmt, opts=opts)
                result.fast_path = True
                return
            except _FallBack as exc:
                result.stage("parsing").detail["columnar_fallback"] = str(exc)
                _reset_counts(result)

        def chunks() -> Iterator[RawChunk]:
            with guard.open(limits=ReadLimits.from_options(opts, format_name=fmt.name)) as stream:
                yield from fmt.read(stream, opts, file=path.name)

        self._load(result, rt, cm, chunks(), None, dry_run, progress, expected_records, scan.sha256, guard=guard, fmt=fmt, opts=opts)

    def _fast_plan(self, rt: RecordType, cm: CompiledMapping, fmt: Any, opts: Mapping[str, Any], path: Path, scan: FileScan) -> Any:
        from portico.jobs._columnar import columnar_plan

        if not self.columnar or fmt.name not in ("csv", "psv") or scan.gzip or scan.has_quote or scan.has_blank_line or scan.has_long_line or self.validators:
            return None
        if str(opts.get("encoding", "utf-8")).lower().replace("_", "-") not in ("utf-8", "utf8"):
            return None
        delim = str(opts.get("delimiter", fmt.default_delimiter))
        if len(delim) != 1:
            return None
        with path.open("r", encoding="utf-8", newline="") as handle:
            header = [h.strip().lstrip("\ufeff") for h in handle.readline().rstrip("\r\n").split(delim)]
        trailer = _trailer_count(scan.last_line.split(delim))
        data_rows = scan.lines - 1 - (1 if trailer is not None else 0)
        expected_delims = (len(header) - 1) * (data_rows + 1) + (scan.last_line.count(delim) if trailer is not None else 0)
        if data_rows <= 0 or scan.delimiters != expected_delims or len(set(header)) != len(header):
            return None
        plan = columnar_plan(cm, header)
        if plan is None:
            return None
        return (plan, header, delim, data_rows, trailer)

    def _load(
        self,
        result: ImportResult,
        rt: RecordType,
        cm: CompiledMapping,
        chunks: Iterator[RawChunk] | None,
        fast: Any,
        dry_run: bool,
        progress: Callable[[int, int | None], None] | None,
        expected: int | None,
        checksum: str,
        *,
        guard: ReadGuard | None = None,
        fmt: Any = None,
        opts: Mapping[str, Any] | None = None,
    ) -> None:
        import sqlalchemy as sa

        tables = job_tables()
        loads = tables["loads"]
        load_id = uuid.uuid4().hex
        previous: str | None = None
        try:
            with self.db.begin() as conn:
                if not dry_run:
                    # lock the delivery's ledger rows first: a concurrent import of the same delivery waits here
                    prev = conn.execute(
                        sa.select(loads.c.load_id, loads.c.checksum)
                        .where(loads.c.data_type == rt.name, loads.c.source_key == result.source_key, loads.c.destination == result.destination, loads.c.status == "committed")
                        .with_for_update()
                    ).first()
                    if prev is not None and prev.checksum == checksum:
                        # another process loaded these very bytes while we parsed: nothing to do
                        self._already_loaded(result, checksum)
                        return
                    previous = prev.load_id if prev is not None else None
                acct = _Accounting(self, None if dry_run else conn, result, {"load_id": load_id})
                acct.sums = {f: Decimal(0) for f in rt.sums}
                session: SinkSession | None = None
                if not dry_run:
                    sink = self.sinks.for_destination(result.destination)
                    session = sink.open(
                        LoadContext(
                            load_id=load_id,
                            rt=rt,
                            destination=result.destination,
                            source_key=result.source_key,
                            conn=conn,
                            db=self.db,
                            options=dict(opts or {}),
                            formats=self.formats,
                            market_data=self.market_data,
                            http_transport=self.http_transport,
                        )
                    )
                try:
                    if previous is not None and session is not None:
                        session.back_out(previous)
                        conn.execute(sa.update(loads).where(loads.c.load_id == previous).values(status="superseded", superseded_by=load_id))
                        conn.execute(
                            sa.update(tables["dlq"]).where(tables["dlq"].c.load_id == previous, tables["dlq"].c.status == "open").values(status="superseded", updated_at=self.clock.now())
                        )
                        result.supersedes = previous
                    # a bulk load allocates millions of short-lived tuples and no cycles: the cyclic GC's
                    # repeated full scans would cost more than the load itself
                    gc_enabled = gc.isenabled()
                    gc.disable()
                    try:
                        trailer = self._process(result, rt, cm, chunks, fast, acct, session, progress, expected, guard, opts)
                    finally:
                        if gc_enabled:
                            gc.enable()
                    if guard is not None:
                        # the rows are written but not committed: loading bytes other than the ones the
                        # checksum (and so the delivery's idempotency) was computed from must load nothing
                        try:
                            guard.verify()
                        except FileRejected:
                            result.stage("parsing").status = "failed"
                            raise
                    acct.flush()
                    self._control_totals(result, rt, acct, session, trailer, fmt)
                    if session is not None:
                        t0 = time.perf_counter()
                        session.commit()
                        result.stage("loading").seconds += time.perf_counter() - t0
                        conn.execute(
                            loads.insert().values(
                                load_id=load_id,
                                data_type=rt.name,
                                source_key=result.source_key,
                                destination=result.destination,
                                checksum=checksum,
                                status="committed",
                                file=result.source,
                                mapping=result.mapping,
                                mapping_version=result.mapping_version,
                                rows_source=result.records,
                                rows_loaded=result.loaded,
                                rows_rejected=result.rejected,
                                rows_quarantined=result.quarantined,
                                run_id=result.run_id,
                                load_no=getattr(session, "load_no", None),
                                feed=result.feed,
                                created_at=self.clock.now(),
                            )
                        )
                        result.load_id = load_id
                        result.status = "loaded" if not (result.rejected or result.quarantined) else "partial"
                        if self.record_run is not None:
                            result.finished_at = self.clock.now().isoformat()
                            result.manifest_path = str(self._manifest_path(result.run_id))
                            self.record_run(conn, result)
                except BaseException:
                    if session is not None:
                        session.abort()
                    raise
        except sa.exc.IntegrityError:
            # the ledger admits one committed load per delivery: a concurrent import committed it first
            if self._lost_race(result, load_id, checksum, previous):
                return
            raise
        result.status = "dry_run" if dry_run else ("loaded" if not (result.rejected or result.quarantined) else "partial")
        if not dry_run:
            self._emit("jobs.load_committed", run_id=result.run_id, load_id=load_id, file=result.source, data_type=result.data_type)
        if not dry_run and result.destination == "market_data_service":
            self._hand_to_market_data(rt, load_id)
        if not dry_run:
            for listener in self.committed_listeners:
                listener(result, rt, lambda: loaded_rows(self.db, rt, load_id))

    def _lost_race(self, result: ImportResult, load_id: str, checksum: str, previous: str | None) -> bool:
        """After the ledger refused this load: whether a concurrent import committed the delivery first.

        The same bytes make this run a duplicate, as a sequential re-run would be (returns True);
        different bytes raise :class:`_LostRace` so the caller loads them again as a corrected
        redelivery of the winner's load. Anything else was another integrity error (returns False):
        no committed load, or only the one this load found (``previous``) and was replacing.
        """
        import sqlalchemy as sa

        loads = job_tables()["loads"]
        with self.db.begin() as conn:
            winner = conn.execute(
                sa.select(loads.c.load_id, loads.c.checksum).where(
                    loads.c.data_type == result.data_type,
                    loads.c.source_key == result.source_key,
                    loads.c.destination == result.destination,
                    loads.c.status == "committed",
                )
            ).first()
        if winner is None or winner.load_id in (load_id, previous):
            return False
        _reset_counts(result)
        self._emit("jobs.import_raced", severity="info", run_id=result.run_id, file=result.source, winner=winner.load_id)
        if winner.checksum == checksum:
            self._already_loaded(result, checksum)
            return True
        raise _LostRace(winner.load_id)

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
        parsing, mapping_stage, loading = result.stage("parsing"), result.stage("mapping"), result.stage("loading")
        validation = result.stage("record_validation")
        trailer: int | None = None
        header_checked = False
        if fast is not None:
            plan, header, delim, data_rows, trailer = fast
            result.stage("parsing").detail["columnar"] = True
            def parsed_and_mapped() -> Iterator[tuple[pl.DataFrame, pl.DataFrame, pl.Series, float]]:
                for frame in self._fast_frames(guard, header, delim, data_rows, opts or {}):
                    t0 = time.perf_counter()
                    mapped_frame, accepted = plan.run(frame)
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
                    raw_rows = [(row[0], dict(zip(cols, ("" if v is None else v for v in row[1:]), strict=True))) for row in bad.select("__line", *cols).iter_rows()]
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
        mapping_stage.detail = {"quarantined": result.quarantined, "mapping": result.mapping, "version": result.mapping_version}
        return trailer

    def _fast_frames(self, guard: ReadGuard | None, header: list[str], delim: str, data_rows: int, opts: Mapping[str, Any]) -> Iterator[pl.DataFrame]:
        """Frames of ``chunk_rows`` records, each parsed by polars from one block of whole lines.

        Reading blocks ourselves (instead of a streaming scan) bounds memory to one block and one frame,
        and gives exact line numbers: the checks in :meth:`_fast_plan` guarantee one record per line.
        """
        import polars as pl

        assert guard is not None
        chunk = int(opts.get("chunk_rows", self.chunk_rows))
        line_no = 2
        remaining = data_rows
        with guard.open(decompress=False) as handle:
            handle.readline()
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
                lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
                take = min(lines, remaining)
                try:
                    df = pl.read_csv(
                        body,
                        has_header=False,
                        new_columns=header,
                        separator=delim,
                        quote_char=None,
                        infer_schema=False,
                        n_rows=take,
                        empty_string_is_null=False,
                        eol_char="\n",
                    )
                except pl.exceptions.PolarsError as exc:
                    raise _FallBack(f"columnar parse failed ({type(exc).__name__}); re-read record by record") from None
                if df.height != take or df.width != len(header):
                    raise _FallBack("columnar parse disagreed with the line count; re-read record by record")
                if df.width and df.schema[header[-1]] == pl.String:
                    # CRLF files: the last column carries the \r
                    df = df.with_columns(pl.col(header[-1]).str.strip_suffix("\r"))
                df = df.with_columns(pl.int_range(line_no, line_no + take, eager=False, dtype=pl.Int64).alias("__line"))
                line_no += take
                remaining -= take
                for start in range(0, df.height, chunk):
                    yield df.slice(start, chunk)
                if not block:
                    break

    def _check_header(self, result: ImportResult, cm: CompiledMapping, first: Mapping[str, Any]) -> None:
        columns = set(first)
        needed = {c for f, cols in cm.mapping.source_columns(cm.rt).items() for c in cols if f in cm.rt.required}
        missing = sorted(needed - columns)
        if missing:
            result.stage("file_validation").status = "failed"
            raise FileRejected(
                f"header lacks columns {missing} needed by mapping {cm.mapping.name!r} v{cm.mapping.version} (header: {sorted(columns)})",
                file=Path(result.source).name,
                line=1,
            )

    def _row_records(
        self, rt: RecordType, cm: CompiledMapping, records: Sequence[tuple[int, Mapping[str, Any]]], acct: _Accounting, validation: Stage, mapping_stage: Stage
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

    def _reference_checks(self, rt: RecordType, rows: list[tuple[Any, ...]], lines: list[int], raws: list[Mapping[str, Any]], acct: _Accounting) -> tuple[list[tuple[Any, ...]], list[int]]:
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

    @staticmethod
    def _confirmer(session: SinkSession | None, rt: RecordType, key_frame: pl.DataFrame) -> Callable[[int, int], bool] | None:
        reader = getattr(session, "key_at", None)
        if reader is None:
            return None

        def confirm(pos: int, earlier_line: int) -> bool:
            earlier = reader(earlier_line, rt.key)
            return earlier is None or tuple(earlier) == key_frame.row(pos)

        return confirm

    def _write_columnar(
        self, rt: RecordType, good: pl.DataFrame, rows: list[tuple[Any, ...]], lines: list[int], acct: _Accounting, session: SinkSession | None, keys: _KeyIndex, loading: Stage
    ) -> None:
        """Dedupe, sum and write a chunk whose accepted rows are mostly a polars frame (plus a few row-path rows)."""
        import polars as pl

        fields = list(rt.fields)
        if rows:
            extra = pl.DataFrame([list(lines), *[[r[i] for r in rows] for i in range(len(fields))]], schema={"__line": pl.Int64, **{f: good.schema[f] for f in fields}}, orient="col")
            good = pl.concat([good.select("__line", *fields), extra]).sort("__line")
        else:
            good = good.select("__line", *fields)
        key_frame = good.select([pl.col(k).cast(pl.String) for k in rt.key])
        line_list = good["__line"].to_list()
        dups = keys.check(key_frame, line_list, self._confirmer(session, rt, key_frame))
        if dups:
            positions = sorted(dups)
            for pos in positions:
                row = good.row(pos, named=True)
                key = ", ".join(f"{k}={row[k]}" for k in rt.key)
                acct.reject(row["__line"], None, f"duplicate record ({key}) of line {dups[pos]}", {f: row[f] for f in fields})
            good = good.with_row_index("__pos").filter(pl.col("__pos").is_in(positions).not_()).drop("__pos")
        if rt.sums:
            sums = good.select([pl.col(f).cast(_dec(), strict=False).sum() for f in rt.sums]).row(0)
            acct.add_sums({f: (v if v is not None else Decimal(0)) for f, v in zip(rt.sums, sums, strict=True)})
        t0 = time.perf_counter()
        if session is not None:
            writer = getattr(session, "write_frame", None)
            if writer is not None:
                writer(good)
            else:
                session.write(good.select(fields).rows(), good["__line"].to_list())
        loading.seconds += time.perf_counter() - t0
        acct.result.loaded += good.height
        self._emit("jobs.chunk_loaded", severity="debug", run_id=acct.result.run_id, loaded=acct.result.loaded)

    def _dedupe_and_write(
        self, rt: RecordType, rows: list[tuple[Any, ...]], lines: list[int], acct: _Accounting, session: SinkSession | None, keys: _KeyIndex, loading: Stage, sums_for: list[tuple[Any, ...]]
    ) -> None:
        import polars as pl

        fields = rt.fields
        sum_idx = [fields.index(f) for f in rt.sums]
        if rows:
            key_idx = [fields.index(k) for k in rt.key]
            key_frame = pl.DataFrame([[None if r[i] is None else str(r[i]) for r in rows] for i in key_idx], schema=[(k, pl.String) for k in rt.key], orient="col")
            dups = keys.check(key_frame, lines, self._confirmer(session, rt, key_frame))
            if dups:
                kept_rows, kept_lines = [], []
                sums_ids = {id(r) for r in sums_for}
                for pos, (row, line) in enumerate(zip(rows, lines, strict=True)):
                    if pos in dups:
                        key = ", ".join(f"{k}={row[fields.index(k)]}" for k in rt.key)
                        acct.reject(line, None, f"duplicate record ({key}) of line {dups[pos]}", dict(zip(fields, row, strict=True)))
                        if id(row) not in sums_ids:
                            # the columnar path already counted this row's sums: take them back out
                            acct.add_sums({f: Decimal(row[i]).copy_negate() for f, i in zip(rt.sums, sum_idx, strict=True) if row[i] is not None})
                    else:
                        kept_rows.append(row)
                        kept_lines.append(line)
                kept_ids = {id(k) for k in kept_rows}
                sums_for = [r for r in sums_for if id(r) in kept_ids]
                rows, lines = kept_rows, kept_lines
        if sums_for and sum_idx:
            acct.add_sums({f: exact_sum(r[i] for r in sums_for if r[i] is not None) for f, i in zip(rt.sums, sum_idx, strict=True)})
        t0 = time.perf_counter()
        if session is not None:
            session.write(rows, lines)
        loading.seconds += time.perf_counter() - t0
        acct.result.loaded += len(rows)
        self._emit("jobs.chunk_loaded", severity="debug", run_id=acct.result.run_id, loaded=acct.result.loaded)

    def _control_totals(self, result: ImportResult, rt: RecordType, acct: _Accounting, session: SinkSession | None, trailer: int | None, fmt: Any) -> None:
        stage = result.stage("control_totals")
        t0 = time.perf_counter()
        stage.status = "failed"
        accounted = result.loaded + result.rejected + result.quarantined
        if result.records == 0:
            self._emit("jobs.file_empty", severity="error", file=result.source, data_type=result.data_type)
            raise FileRejected("no records in the delivery", file=result.source_key)
        if trailer is not None:
            result.stage("file_validation").detail["trailer_count"] = trailer
            if trailer != result.records:
                result.stage("file_validation").status = "failed"
                raise ControlTotalsMismatch(f"trailer says {trailer} records, the file has {result.records}", file=Path(result.source).name)
        if accounted != result.records:
            raise ControlTotalsMismatch(f"{result.records} records read but {accounted} accounted for", file=result.source_key)
        source_sums = {k: _plain_decimal(v) for k, v in acct.sums.items()}
        totals: dict[str, Any] = {
            "source": {"records": result.records, "accepted": result.loaded, "sums": source_sums},
            "trailer": trailer,
        }
        if session is not None:
            count = session.loaded_count()
            sums = loaded_sums(session, rt.sums)
            totals["loaded"] = {"records": count, "sums": {k: _plain_decimal(v) for k, v in sums.items()} if sums is not None else None}
            if count != result.loaded:
                raise ControlTotalsMismatch(f"{result.loaded} records accepted but the destination holds {count}", file=result.source_key)
            if sums is not None:
                for k, v in sums.items():
                    # exact on every engine (the sinks sum decimals exactly): any difference is a lost or altered row
                    if v != acct.sums.get(k, Decimal(0)):
                        raise ControlTotalsMismatch(f"sum of {k}: source {acct.sums.get(k)} != loaded {v}", file=result.source_key)
        result.control_totals = totals
        stage.status = "ok"
        stage.seconds = time.perf_counter() - t0

    def _hand_to_market_data(self, rt: RecordType, load_id: str) -> None:
        service = self.market_data
        ingest = getattr(service, "ingest_bars", None)
        if ingest is None or rt.name != "prices":
            return
        import sqlalchemy as sa

        from portico.jobs._tables import data_table
        from portico.models import Bar

        table = data_table(rt)
        numbers = job_tables()["load_numbers"]
        with self.db.begin() as conn:
            load_no = conn.execute(sa.select(numbers.c.load_no).where(numbers.c.load_id == load_id)).scalar()
            rows = conn.execute(sa.select(table).where(table.c.load_no == load_no)).mappings().all()
        bars = []
        for r in rows:
            close = Decimal(r["close"])
            bars.append(
                Bar(
                    symbol=r["symbol"],
                    timestamp=datetime.fromisoformat(r["date"] + "T00:00:00+00:00"),
                    open=Decimal(r["open"]) if r["open"] else close,
                    high=Decimal(r["high"]) if r["high"] else close,
                    low=Decimal(r["low"]) if r["low"] else close,
                    close=close,
                    volume=Decimal(r["volume"]) if r["volume"] else Decimal(0),
                    currency=r["currency"],
                    source=r["source"],
                )
            )
        try:
            outcome = ingest(bars)
            if hasattr(outcome, "__await__") and self.run_coroutine is not None:
                self.run_coroutine(outcome)
            elif hasattr(outcome, "__await__"):
                import asyncio

                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    asyncio.run(outcome)  # type: ignore[arg-type]
                else:
                    # called from a worker thread of a running loop: hand it to a fresh loop here
                    import threading

                    errors: list[BaseException] = []

                    def runner() -> None:
                        try:
                            asyncio.run(outcome)  # type: ignore[arg-type]
                        except BaseException as exc:
                            errors.append(exc)

                    th = threading.Thread(target=runner)
                    th.start()
                    th.join()
        except Exception as exc:
            # the store holds the load; the service's cache refresh failing must not undo it
            self._emit("jobs.market_data_ingest_failed", severity="warning", error=str(exc), load_id=load_id)

    # -- finishing -----------------------------------------------------------------------------------

    def _fail(self, result: ImportResult, exc: PorticoError) -> None:
        result.status = "failed"
        result.error = str(exc)
        result.loaded = 0
        for s in result.stages:
            if s.status == "pending":
                s.status = "skipped"
        failed_stage = next((s for s in result.stages if s.status == "failed"), None)
        if failed_stage is None:
            failed_stage = next((s for s in result.stages if s.status not in ("ok", "skipped")), result.stages[-1])
            failed_stage.status = "failed"
        failed_stage.detail["error"] = str(exc)
        self._emit("jobs.import_failed", severity="error", run_id=result.run_id, file=result.source, data_type=result.data_type, error=str(exc))

    def _finish(self, result: ImportResult, *, dry_run: bool = False, tolerance: float = 0.10) -> ImportResult:
        result.finished_at = self.clock.now().isoformat()
        if result.status in ("loaded", "partial") and not dry_run:
            try:
                self._check_row_count(result, tolerance)
            except Exception as exc:  # an advisory check: the load stands, and import_file never raises
                self._emit("jobs.row_count_check_failed", severity="warning", run_id=result.run_id, error=f"{type(exc).__name__}: {exc}")
        if result.status in ("loaded", "partial", "failed") and not dry_run:
            try:
                result.manifest_path = str(self._write_manifest(result))
            except OSError as exc:
                # the load (when there is one) committed with its run record: this is only the file copy
                result.manifest_path = None
                result.manifest_error = f"manifest not written: {_os_error(exc)}"
                self._emit("jobs.manifest_failed", severity="error", run_id=result.run_id, file=result.source, load_id=result.load_id, error=result.manifest_error)
        if result.status in ("loaded", "partial"):
            self._emit(
                "jobs.import_completed",
                severity="warning" if result.status == "partial" else "info",
                run_id=result.run_id,
                file=result.source,
                data_type=result.data_type,
                loaded=result.loaded,
                rejected=result.rejected,
                quarantined=result.quarantined,
            )
        return result

    def _check_row_count(self, result: ImportResult, tolerance: float = 0.10) -> None:
        import sqlalchemy as sa

        loads = job_tables()["loads"]
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(loads.c.source_key, loads.c.rows_source)
                .where(
                    loads.c.data_type == result.data_type,
                    loads.c.destination == result.destination,
                    loads.c.feed == result.feed,
                    loads.c.source_key != result.source_key,
                    loads.c.status.in_(("committed", "superseded")),
                )
                .order_by(loads.c.created_at.desc())
                .limit(1)
            ).all()
        previous = rows[0].rows_source if rows else None
        if previous:
            change = (result.records - previous) / previous
            if abs(change) > tolerance:
                self._emit(
                    "jobs.row_count_changed",
                    severity="warning",
                    file=result.source,
                    data_type=result.data_type,
                    previous=previous,
                    current=result.records,
                    change_pct=round(change * 100, 1),
                )

    def _manifest_path(self, run_id: str) -> Path:
        return self.home / "manifests" / f"{run_id}.json"

    def _write_manifest(self, result: ImportResult) -> Path:
        """Write the full manifest (every reject and quarantined record, streamed from the store)."""
        return self._write_manifest_file(result.run_id, result.load_id, result.to_dict())

    def _write_manifest_file(self, run_id: str, load_id: str | None, summary: dict[str, Any]) -> Path:
        import sqlalchemy as sa

        path = self._manifest_path(run_id)
        tables = job_tables()
        summary = {k: v for k, v in summary.items() if k not in ("rejects", "quarantine")}

        def produce(handle: Any) -> None:
            body = json.dumps(summary, indent=2)[:-2]
            handle.write(body.encode() + b',\n  "rejects": [')
            if load_id:
                with self.db.begin() as conn:
                    t = tables["rejects"]
                    first = True
                    for row in conn.execute(sa.select(t.c.line, t.c.field, t.c.reason).where(t.c.load_id == load_id).order_by(t.c.id)):
                        handle.write((("" if first else ",") + "\n    " + json.dumps(dict(row._mapping))).encode())
                        first = False
                    handle.write(b'\n  ],\n  "quarantine": [')
                    d = tables["dlq"]
                    first = True
                    for row in conn.execute(sa.select(d.c.id, d.c.line, d.c.field, d.c.value, d.c.reason).where(d.c.load_id == load_id).order_by(d.c.id)):
                        handle.write((("" if first else ",") + "\n    " + json.dumps(dict(row._mapping))).encode())
                        first = False
            else:
                handle.write(b'],\n  "quarantine": [')
            handle.write(b"]\n}\n")

        self.write_file(path, produce)
        return path

    def _emit(self, event: str, *, severity: str = "info", **data: Any) -> None:
        if self.monitor is None:
            return
        try:
            self.monitor.emit(event, system="jobs", severity=severity, **data)
        except Exception:  # a broken monitor must not break a load
            return


def _os_error(exc: OSError) -> str:
    """An OSError in one line: what failed and where (``No space left on device: /home/.../x.json``)."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or type(exc).__name__}{where}"


def _reset_counts(result: ImportResult) -> None:
    """Forget what an abandoned attempt of this run counted (its transaction was rolled back)."""
    result.loaded = result.rejected = result.quarantined = result.records = 0
    result.rejects.clear()
    result.quarantine.clear()
    result.supersedes = None
    result.load_id = None


def _plain_decimal(value: Decimal) -> str:
    # normalize() rounds to its context's precision: strip trailing zeros without rounding instead
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


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


def _dec() -> Any:
    import polars as pl

    return pl.Decimal(38, 12)


def _records_checksum(rows: list[dict[str, Any]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=_json_default).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _mapping_from_file(path: Path) -> FieldMapping:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read mapping file: {exc}", file=str(path)) from None
    try:
        return FieldMapping.model_validate(data)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigurationError(f"invalid mapping file {path}: {problems[0][0]}: {problems[0][1]}", file=str(path), problems=problems) from None
