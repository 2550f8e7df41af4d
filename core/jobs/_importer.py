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

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from portico.errors import ConfigurationError, PorticoError
from portico.home import portico_home
from portico.jobs._formats import FileRejected, RawChunk
from portico.jobs._import_accounting import _KeyIndex
from portico.jobs._import_arrival import _ArrivalStages
from portico.jobs._import_finish import _FinishStages
from portico.jobs._import_loading import _LoadingStages
from portico.jobs._import_records import _RecordStages
from portico.jobs._import_result import (
    STAGES,
    ControlTotalsMismatch,
    ImportResult,
    Stage,
    _LostRace,
    _records_checksum,
    feed_of,
    storage_value,
)
from portico.jobs._mapping import FieldMapping, default_mapping
from portico.jobs._records import RECORD_TYPES, RecordType, record_type
from portico.jobs._sinks import atomic_write
from portico.jobs._tables import ensure_job_tables

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.clock import Clock
    from portico.jobs._registry import FormatRegistry, SinkRegistry
    from portico.store import Database

__all__ = [
    "STAGES",
    "ControlTotalsMismatch",
    "DataImporter",
    "ImportResult",
    "Stage",
    "_KeyIndex",
    "feed_of",
    "storage_value",
]


class DataImporter(_ArrivalStages, _RecordStages, _LoadingStages, _FinishStages):
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
        record_types: Mapping[str, RecordType] | None = None,
    ) -> None:
        self.record_types: Mapping[str, RecordType] = RECORD_TYPES if record_types is None else record_types
        """Where a ``data_type`` is looked up: its jobs service's registry, else the process's."""
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
        self.committed_listeners: list[
            Callable[[ImportResult, RecordType, Callable[[], list[dict[str, Any]]]], None]
        ] = []
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

    def resolve_mapping(
        self, mapping: str | FieldMapping | Mapping[str, Any] | None, rt: RecordType
    ) -> FieldMapping:
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
        if found.data_type and record_type(found.data_type, self.record_types).name != rt.name:
            raise ConfigurationError(
                f"mapping {found.name!r} is for {found.data_type}, not {rt.name}", path="mapping"
            )
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
        rt = record_type(data_type, self.record_types)
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
        rt = record_type(data_type, self.record_types)
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

    # -- the stages live in _import_arrival, _import_records, _import_loading and _import_finish ----
    # (and _emit, which they share, in _import_state)


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
        raise ConfigurationError(
            f"invalid mapping file {path}: {problems[0][0]}: {problems[0][1]}",
            file=str(path),
            problems=problems,
        ) from None
