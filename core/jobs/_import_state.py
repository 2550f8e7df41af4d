"""What the importer's stage mixins share: :class:`_ImporterState` declares the state
:class:`~portico.jobs._importer.DataImporter` sets up and the stages one mixin calls on another, so each
stage module is type-checked on its own (mypy checks every stage against these declarations)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    import sqlalchemy as sa

    from portico.clock import Clock
    from portico.jobs._formats import RawChunk
    from portico.jobs._import_accounting import _Accounting, _KeyIndex
    from portico.jobs._import_result import ImportResult, Stage
    from portico.jobs._mapping import CompiledMapping
    from portico.jobs._readguard import ReadGuard
    from portico.jobs._records import RecordType
    from portico.jobs._registry import FormatRegistry, SinkRegistry
    from portico.jobs._sinks import SinkSession
    from portico.store import Database

__all__ = ["_ImporterState"]


class _ImporterState:
    """The importer as its stages (``_import_arrival``, ``_import_records``, ``_import_loading``,
    ``_import_finish``) see it; :class:`~portico.jobs._importer.DataImporter` documents each attribute."""

    db: Database
    clock: Clock
    formats: FormatRegistry
    sinks: SinkRegistry
    validators: list[Any]
    monitor: Any
    format_options: dict[str, Mapping[str, Any]]
    mappings: dict[str, Any]
    home: Path
    market_data: Any
    http_transport: Any
    chunk_rows: int
    columnar: bool
    write_file: Callable[[Path, Callable[[Any], None]], None]
    committed_listeners: list[Callable[[ImportResult, RecordType, Callable[[], list[dict[str, Any]]]], None]]
    run_coroutine: Callable[[Any], Any] | None
    record_run: Callable[[sa.Connection, ImportResult], None] | None

    def _emit(self, event: str, *, severity: str = "info", **data: Any) -> None:
        if self.monitor is None:
            return
        try:
            self.monitor.emit(event, system="jobs", severity=severity, **data)
        except Exception:  # a broken monitor must not break a load
            return

    if TYPE_CHECKING:
        # the stages one mixin calls on another (each defined in the module named)

        # _import_arrival
        def _already_loaded(self, result: ImportResult, checksum: str) -> bool: ...

        # _import_records
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
        ) -> int | None: ...

        # _import_loading
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
        ) -> None: ...

        def _write_columnar(
            self,
            rt: RecordType,
            good: pl.DataFrame,
            rows: list[tuple[Any, ...]],
            lines: list[int],
            acct: _Accounting,
            session: SinkSession | None,
            keys: _KeyIndex,
            loading: Stage,
        ) -> None: ...

        def _dedupe_and_write(
            self,
            rt: RecordType,
            rows: list[tuple[Any, ...]],
            lines: list[int],
            acct: _Accounting,
            session: SinkSession | None,
            keys: _KeyIndex,
            loading: Stage,
            sums_for: list[tuple[Any, ...]],
        ) -> None: ...

        # _import_finish
        def _manifest_path(self, run_id: str) -> Path: ...

        def _write_manifest_file(self, run_id: str, load_id: str | None, summary: dict[str, Any]) -> Path: ...
