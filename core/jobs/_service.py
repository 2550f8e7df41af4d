"""JobService: the runtime's jobs facade (imports, exports, schedules, history, run-now, file watches)."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from portico.errors import ConfigurationError, PorticoError
from portico.jobs._config import (
    DataExportConfig,
    DataImportConfig,
    FileWatch,
    ScheduledExport,
    ScheduledImport,
)
from portico.jobs._exporter import DataExporter, ExportResult, ExportSource
from portico.jobs._feeds import SecureFeed
from portico.jobs._importer import DataImporter, ImportResult
from portico.jobs._reference_pull import REFERENCE_TYPES, pull_reference_records
from portico.jobs._registry import collect
from portico.jobs._scheduler import (
    JobLock,
    dispatch,
    make_trigger,
    owner_id,
    register_service,
    unregister_service,
)
from portico.jobs._sftp import SftpSink
from portico.jobs._tables import ensure_job_tables, job_tables
from portico.plugins import PluginManager

__all__ = ["DEFAULT_INSTANCE", "BrokerPositions", "JobService", "ReconcileRunner"]

DEFAULT_INSTANCE = "default"
"""The instance of a service built without one (and of jobs stored before instances existed)."""

ReconcileRunner = Callable[[], Awaitable[Any]]
"""Runs one reconciliation on the runtime's loop; returns a report with ``summary() -> dict`` (holding
``breaks``, the break count) or such a dict."""

BrokerPositions = Callable[[], Awaitable[Iterable[tuple[str, Any]]]]
"""Fetches the positions of every brokerage system on the runtime's loop: ``(system_id, Position)`` pairs."""


def _validated(model: type[BaseModel], data: Any, path: str) -> Any:
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as exc:
        problems = [(f"{path}." + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigurationError(f"{problems[0][0]}: {problems[0][1]}", path=problems[0][0], problems=problems) from None


class JobService:
    """Imports, exports and their schedules, over one embedded store.

    Args:
        db: the embedded store (ledger, DLQ, job store and history).
        clock: time source.
        monitor: anything with ``.emit(event, *, system=None, severity="info", **data)``.
        connectors: connectors by system id (a mapping, or a callable ``system_id -> Connector``).
        market_data: the market data service (``market_data_service`` destination).
        config: ``{"data_import": ..., "data_export": ...}`` (dicts in the plan's shape or the models).
        plugins: the plugin manager (formats, sinks and reference validators from hooks).
        sources: extra export sources by data type.
        http_transport: an httpx transport for HTTP sinks/destinations (tests).
        integration: the runtime facade, when built by it (unused beyond reference).
        home: the state directory (manifests, spools); default ``PORTICO_HOME``.
        broker_positions: the brokers' positions for ``portfolio_summary`` (see :data:`BrokerPositions`).
        instance: the configuration this service's jobs belong to: only they are listed, run and
            scheduled (the runtime passes :attr:`~portico.runtime.AsyncIntegration.instance`).
    """

    def __init__(
        self,
        *,
        db: Any,
        clock: Any,
        monitor: Any = None,
        connectors: Mapping[str, Any] | Callable[[str], Any] | None = None,
        market_data: Any = None,
        config: Mapping[str, Any] | None = None,
        plugins: Any = None,
        sources: Mapping[str, ExportSource] | None = None,
        http_transport: Any = None,
        integration: Any = None,
        home: Path | None = None,
        broker_positions: BrokerPositions | None = None,
        instance: str = DEFAULT_INSTANCE,
        fx_rate: Callable[[str, str], Any] | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        cfg = dict(config or {})
        self.import_config: DataImportConfig = _validated(DataImportConfig, cfg.get("data_import"), "data_import")
        self.export_config: DataExportConfig = _validated(DataExportConfig, cfg.get("data_export"), "data_export")
        self.db = db
        self.clock = clock
        self.monitor = monitor
        self.connectors = connectors
        self.market_data = market_data
        self.integration = integration
        self.instance = instance
        self.formats, self.sinks, validators = collect(plugins)
        ensure_job_tables(db)
        self.importer = DataImporter(
            db=db,
            clock=clock,
            formats=self.formats,
            sinks=self.sinks,
            validators=validators,
            monitor=monitor,
            format_options=self.import_config.formats,
            mappings=self.import_config.mappings,
            home=home,
            market_data=market_data,
            http_transport=http_transport,
            chunk_rows=self.import_config.chunk_rows,
        )
        smtp = self.export_config.smtp or getattr(monitor, "smtp_settings", None)
        self.exporter = DataExporter(
            db=db,
            clock=clock,
            formats=self.formats,
            sources=sources,
            smtp=smtp,
            format_options={**self.import_config.formats, **self.export_config.formats},
            http_transport=http_transport,
            allowed_roots=self.export_config.allowed_roots,
            broker_positions=self._broker_position_rows if broker_positions is not None else None,
            base_currency=self.export_config.base_currency,
            fx_rate=fx_rate,
            export_types=_contributions(plugins, "portico_export_types"),
        )
        self._broker_positions = broker_positions
        self.feed = SecureFeed(self.importer, self.import_config.sftp_servers, self.import_config.pgp)
        if self.import_config.sftp_servers:
            self.sinks.add(SftpSink(self.import_config.sftp_servers))
        self.importer.run_coroutine = self._run_coroutine
        self.importer.record_run = self._record_committed_import
        self._key = uuid.uuid4().hex
        # reconciliation jobs run a callable of the live runtime, so only their settings are persisted
        self._reconcilers: dict[str, tuple[Any, ReconcileRunner]] = {}
        self._scheduler: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # a listing's currency does not change between daily runs: ask the vendor once per symbol
        self._listing_currencies: dict[tuple[str, str], str | None] = {}
        # a fire time's claim lives this long unrenewed; a dead process's fire is retried within it
        self.lease_seconds = lease_seconds
        self.fires: Any = None
        self._distributed: Any = None

    @classmethod
    def standalone(cls, config_file: str | None = None, **overrides: Any) -> JobService:
        """A service for the command line: the config file's jobs sections (when given) on the default store.

        With a config file the runtime is built from it, so connectors and the monitor are available.
        Without one the installed plugins are loaded (their formats, sinks and export types apply).
        """
        from portico.clock import system_clock
        from portico.store import Database

        if config_file:
            from portico.runtime import AsyncIntegration

            integration = AsyncIntegration.from_config(config_file)
            service: JobService = integration.jobs
            return service
        overrides.setdefault("db", Database())
        overrides.setdefault("clock", system_clock)
        if "plugins" not in overrides:
            overrides["plugins"] = PluginManager()
        return cls(**overrides)

    # -- facade: the plan's four methods -------------------------------------------------------------

    async def import_data(self, source: str, data_type: str, parameters: Mapping[str, Any] | None = None) -> ImportResult:
        """Import from a file path, or from a connector when ``source`` is a configured system id.

        File parameters: ``format``, ``mapping``, ``destination``, ``source_key``, ``options``, ``dry_run``,
        ``expected_checksum``. Connector parameters: ``symbols``, ``destination``, ``limit`` (bars per
        symbol, default 1), ``currency`` (when the vendor gives none), ``start``/``end``.
        """
        self._remember_loop()
        params = dict(parameters or {})
        if self._connector(source, required=False) is not None:
            result = await self._pull(source, data_type, params)
        else:
            result = await asyncio.to_thread(self._import_file, source, data_type, params)
        self.record_import(result)
        return result

    def record_import(self, result: ImportResult, *, job_id: str | None = None) -> str | None:
        """Put an ad-hoc import (``import_data``, ``portico import``) in the run history with its manifest.

        Returns:
            None, or why the history could not be written (a full disk, a broken store): a committed
            load's run record was already written with the load, so only this final update is lost.
        """
        import sqlalchemy as sa

        try:
            self._record_run(
                result.run_id,
                job_id or f"adhoc:{result.data_type}",
                "import",
                result.status,
                counts=(result.loaded, result.rejected, result.quarantined),
                manifest=result.to_dict(),
                error=result.error,
                finished=True,
            )
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            problem = f"run history not updated: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
            self._emit("jobs.history_failed", severity="error", run_id=result.run_id, error=problem)
            return problem
        return None

    async def export_data(self, data_type: str, destination: str, format_options: Mapping[str, Any] | None = None) -> ExportResult:
        """Export ``data_type`` to ``destination`` (see :meth:`DataExporter.export` for the options)."""
        self._remember_loop()
        return await asyncio.to_thread(self.exporter.export, data_type, destination, dict(format_options or {}))

    async def schedule_import(self, import_config: Mapping[str, Any] | ScheduledImport) -> str:
        """Persist and schedule an import; returns its job id (re-scheduling the same config is idempotent)."""
        spec = _validated(ScheduledImport, import_config, "import_config") if not isinstance(import_config, ScheduledImport) else import_config
        return self._schedule("import", spec)

    async def schedule_export(self, export_config: Mapping[str, Any] | ScheduledExport) -> str:
        """Persist and schedule an export; returns its job id."""
        spec = _validated(ScheduledExport, export_config, "export_config") if not isinstance(export_config, ScheduledExport) else export_config
        return self._schedule("export", spec)

    def schedule_reconciliation(self, settings: Any, runner: ReconcileRunner) -> str:
        """Persist and schedule a reconciliation job (kind ``reconcile``); returns its job id.

        Args:
            settings: the schedule (``portico.trading.ReconciliationSchedule``: ``id``, ``schedule``,
                ``timezone``, ``misfire_grace_time`` and the reconciliation's own settings, which are
                stored as the job's config).
            runner: what a run calls, on the loop the service was started on (see :data:`ReconcileRunner`).

        The run is recorded in :meth:`history` with the break count (``breaks``) and the report's
        summary as manifest; like every job it never runs twice at once, across processes too.
        """
        job_id = self._schedule("reconcile", settings)
        self._reconcilers[job_id] = (settings, runner)
        return job_id

    # -- jobs --------------------------------------------------------------------------------------

    def list_jobs(self) -> list[dict[str, Any]]:
        """Every persisted job: id, kind, config, next run time (when the scheduler runs) and last run."""
        import sqlalchemy as sa

        t = job_tables()
        with self.db.begin() as conn:
            jobs = conn.execute(
                sa.select(t["jobs"]).where(self._in_instance(t["jobs"])).order_by(t["jobs"].c.job_id)
            ).mappings().all()
            out = []
            for job in jobs:
                last = conn.execute(
                    sa.select(t["runs"].c.status, t["runs"].c.started_at).where(t["runs"].c.job_id == job["job_id"]).order_by(t["runs"].c.started_at.desc()).limit(1)
                ).first()
                next_run = None
                if self._scheduler is not None:
                    aps = self._scheduler.get_job(job["job_id"])
                    next_run = aps.next_run_time.isoformat() if aps is not None and aps.next_run_time else None
                out.append(
                    {
                        "job_id": job["job_id"],
                        "kind": job["kind"],
                        "config": json.loads(job["config"]),
                        "next_run": next_run,
                        "last_status": last.status if last else None,
                        "last_run": _iso_utc(last.started_at) if last else None,
                    }
                )
        return out

    def history(self, job_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """Runs of ``job_id`` (or of every job and ad-hoc run), newest first, with counts and manifest."""
        import sqlalchemy as sa

        runs = job_tables()["runs"]
        stmt = sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit)
        if job_id is not None:
            stmt = stmt.where(runs.c.job_id == job_id)
        with self.db.begin() as conn:
            rows = conn.execute(stmt).mappings().all()
        out = []
        for row in rows:
            entry = {
                **{k: v for k, v in row.items() if k != "manifest"},
                "started_at": _iso_utc(row["started_at"]),
                "finished_at": _iso_utc(row["finished_at"]),
                "manifest": json.loads(row["manifest"]) if row["manifest"] else None,
            }
            if row["kind"] == "reconcile":
                entry["breaks"] = (entry["manifest"] or {}).get("breaks")
            out.append(entry)
        return out

    async def run_now(self, job_id: str) -> dict[str, Any]:
        """Run a persisted job now (honouring its one-at-a-time lease); returns the run record."""
        self._remember_loop()
        return await asyncio.to_thread(self._run_job, job_id)

    def _remember_loop(self) -> None:
        # connectors and services belong to the caller's loop: worker threads hand coroutines back to it
        if self._loop is None or not self._loop.is_running():
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()

    def start(self) -> None:
        """Start the scheduler: load persisted jobs and those in config, and the file watches."""
        if self._scheduler is not None:
            return
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        from portico.jobs._fires import ClaimingExecutor, FireLedger

        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self._mark_crashed_runs()
        register_service(self._key, self)
        # one schedule table per instance: APScheduler runs every job of its table
        store = SQLAlchemyJobStore(engine=self.db.engine, tablename=_schedule_table(self.instance))
        # every fire time is claimed in portico_job_fires first, so processes sharing the store run it once
        self.fires = FireLedger(self.db, clock=self.clock, lease=timedelta(seconds=self.lease_seconds))
        self._scheduler = BackgroundScheduler(
            jobstores={"default": store, "local": MemoryJobStore()},
            executors={"default": ClaimingExecutor(self.fires, 4), "sweep": ThreadPoolExecutor(1)},
            job_defaults={"max_instances": 1},
            timezone="UTC",
        )
        self._scheduler.start()
        # this process's sweep (not shared, not claimed): renew its leases, retry fires of dead processes
        self._scheduler.add_job(
            self.sweep_fires,
            "interval",
            seconds=self.lease_seconds / 3,
            id="portico:sweep-fires",
            jobstore="local",
            executor="sweep",
            coalesce=True,
            max_instances=1,
        )
        # re-point persisted jobs at this process's service, then add the configured ones
        for job in self._scheduler.get_jobs(jobstore="default"):
            job.modify(args=(self._key, job.id))
        # this process's share of distributed imports: chunks planned by any process sharing the store
        self._scheduler.add_job(
            self.work_on_chunks,
            "interval",
            seconds=2,
            id="portico:import-chunks",
            jobstore="local",
            executor="sweep",
            coalesce=True,
            max_instances=1,
        )
        for spec in self.import_config.scheduled_imports:
            if spec.enabled:
                self._schedule("import", spec)
        for spec in self.export_config.scheduled_exports:
            if spec.enabled:
                self._schedule("export", spec)
        for spec, _runner in self._reconcilers.values():
            self._schedule("reconcile", spec)
        for watch in self.import_config.watches:
            self._scheduler.add_job(
                dispatch, "interval", seconds=watch.check_interval_seconds, args=(self._key, f"watch:{watch.id}"), id=f"watch:{watch.id}", replace_existing=True, coalesce=True, misfire_grace_time=int(watch.check_interval_seconds)
            )

    @property
    def distributed(self) -> Any:
        """The :class:`~portico.jobs._distributed.DistributedImport` of this process (created on first use)."""
        if self._distributed is None:
            from portico.jobs._distributed import DistributedImport

            self._distributed = DistributedImport(self.importer)
        return self._distributed

    def import_distributed(self, path: str | Path, data_type: str, *, chunk_rows: int = 50_000, source_key: str | None = None) -> str:
        """Plan ``path`` as a distributed import of ``chunk_rows``-line chunks; returns its import id.

        Every process of the instance with a running scheduler (``portico run``) takes chunks of it every
        2 seconds; the last to stage one commits the load. :meth:`distributed` ``.result(import_id)``
        tells the outcome once merged.
        """
        return str(self.distributed.plan(path, data_type, chunk_rows=chunk_rows, source_key=source_key))

    def work_on_chunks(self) -> int:
        """Process pending chunks of distributed imports until none is left; returns how many."""
        import sqlalchemy as sa

        from portico.jobs._distributed import distributed_tables

        imports = distributed_tables()["imports"]
        try:
            self.db.ensure_tables(imports)
            with self.db.begin() as conn:
                planned = conn.execute(sa.select(imports.c.import_id).where(imports.c.status == "planned").limit(1)).first()
            return 0 if planned is None else int(self.distributed.work())
        except Exception as exc:  # the store is unreachable, or a chunk's import raised: next round retries
            self._emit("jobs.chunk_failed", severity="warning", error=f"{type(exc).__name__}: {exc}")
            return 0

    def sweep_fires(self) -> list[str]:
        """Renew this process's fire leases and rerun the fires whose process died; returns the job ids rerun.

        Called every third of ``lease_seconds`` while the scheduler runs. A rerun is recorded as a run of
        its own (``retry_of`` in the ``jobs.fire_retried`` event names the dead owner).
        """
        if self.fires is None:
            return []
        rerun: list[str] = []
        try:
            self.fires.renew()
            orphans = self.fires.orphans()
        except Exception as exc:  # the store is unreachable: the next sweep tries again
            self._emit("jobs.sweep_failed", severity="warning", error=f"{type(exc).__name__}: {exc}")
            return rerun
        for fire in orphans:
            self._emit("jobs.fire_retried", severity="warning", job_id=fire.job_id, fire_time=fire.fire_time.isoformat(), retry_of=fire.previous_owner, attempt=fire.attempts)
            status = "failed"
            try:
                record = self._run_job(fire.job_id)
                status = "failed" if record.get("status") == "failed" else "done"
            except Exception as exc:
                self._emit("jobs.run_failed", severity="error", job_id=fire.job_id, error=str(exc))
            finally:
                self.fires.finish(fire.job_id, fire.fire_time, status)
            rerun.append(fire.job_id)
        return rerun

    def shutdown(self) -> asyncio.Task[None] | None:
        """Stop the scheduler, waiting for running jobs.

        Returns:
            ``None`` once stopped; called on the loop the service runs its jobs' coroutines on, a task to
            await instead: a running job hands its coroutines to that loop, so waiting for it there
            would deadlock.
        """
        with contextlib.suppress(RuntimeError):
            if self._scheduler is not None and asyncio.get_running_loop() is self._loop:
                return self._loop.create_task(asyncio.to_thread(self._shutdown_now), name="portico-jobs-shutdown")
        self._shutdown_now()
        return None

    def _shutdown_now(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        unregister_service(self._key)

    # -- internals -----------------------------------------------------------------------------------

    def _connector(self, source: str, *, required: bool = True) -> Any:
        conns = self.connectors
        found = None
        if callable(conns) and not isinstance(conns, Mapping):
            with contextlib.suppress(KeyError, ConfigurationError, PorticoError):
                found = conns(source)
        elif conns is not None:
            with contextlib.suppress(KeyError, PorticoError):
                found = conns.get(source, None)
        if found is None and (required or source in getattr(self.integration, "systems", {})):
            # a configured system that is not connected is no file name: say so, not "unknown extension"
            raise ConfigurationError(f"no connected system {source!r} to import from", path="source")
        return found

    def _broker_position_rows(self) -> list[dict[str, Any]]:
        """The brokers' positions as the exporter's summary rows (called from its worker thread)."""
        assert self._broker_positions is not None
        as_of = self.clock.now().date()
        rows = []
        for system_id, p in self._run_coroutine(self._broker_positions()):
            value = p.market_value if p.market_value is not None else (p.quantity * p.market_price if p.market_price is not None else None)
            rows.append({"source": system_id, "account": p.account_id, "currency": p.currency, "quantity": p.quantity, "market_value": value, "as_of": as_of})
        return rows

    def _import_file(self, source: str, data_type: str, params: Mapping[str, Any], *, run_id: str | None = None) -> ImportResult:
        path = source[len("file://") :] if source.startswith("file://") else source
        unknown = set(params) - {"format", "mapping", "destination", "source_key", "options", "dry_run", "expected_checksum", "feed", "row_change_tolerance"}
        if unknown:
            raise ConfigurationError(f"unknown import parameters {sorted(unknown)}", path="parameters")
        return self.importer.import_file(
            path,
            data_type,
            format=params.get("format"),
            mapping=params.get("mapping"),
            destination=params.get("destination", "store"),
            source_key=params.get("source_key"),
            options=params.get("options"),
            dry_run=bool(params.get("dry_run", False)),
            expected_checksum=params.get("expected_checksum"),
            run_id=run_id,
            feed=params.get("feed"),
            row_change_tolerance=float(params.get("row_change_tolerance", 0.10)),
        )

    async def _pull(self, source: str, data_type: str, params: dict[str, Any], *, run_id: str | None = None) -> ImportResult:
        from portico.jobs._records import record_type
        from portico.models import BarInterval

        rt = record_type(data_type)
        if rt.name in REFERENCE_TYPES:
            return await self._pull_reference(source, rt.name, params, run_id=run_id)
        if rt.name != "prices":
            raise ConfigurationError(f"connector imports support prices (daily_prices), {', '.join(sorted(REFERENCE_TYPES))}; not {data_type!r}", path="data_type")
        connector = self._connector(source)
        symbols = list(params.get("symbols") or [])
        if not symbols:
            raise ConfigurationError("a connector import needs symbols", path="symbols")
        limit = int(params.get("limit", 1))
        records: list[dict[str, Any]] = []
        for symbol in symbols:
            bars = await connector.get_bars(symbol, BarInterval.DAY, start=params.get("start"), end=params.get("end"), limit=limit)
            listing_currency = params.get("currency")
            if listing_currency is None and any(b.currency is None for b in bars):
                cache_key = (source, symbol)
                if cache_key not in self._listing_currencies:
                    self._listing_currencies[cache_key] = await self._listing_currency(connector, symbol)
                listing_currency = self._listing_currencies[cache_key]
            for bar in list(bars)[-limit:]:
                records.append(
                    {
                        "symbol": bar.symbol,
                        "date": bar.timestamp.date().isoformat(),
                        "open": bar.open,
                        "high": bar.high,
                        "low": bar.low,
                        "close": bar.close,
                        "volume": bar.volume,
                        # never a silent default: without a known currency the record is quarantined
                        "currency": bar.currency or listing_currency,
                        "source": source,
                    }
                )
        as_of = self.clock.now().date().isoformat()
        key = f"{source}:{rt.name}:{','.join(sorted(symbols))}:{as_of}"
        return await asyncio.to_thread(
            self.importer.import_records,
            records,
            rt.name,
            source_key=key,
            destination=params.get("destination", "store"),
            mapping=params.get("mapping"),
            run_id=run_id,
            source=source,
        )

    async def _pull_reference(self, source: str, data_type: str, params: dict[str, Any], *, run_id: str | None = None) -> ImportResult:
        """A connector import of corporate actions, news, fundamentals or cash movements."""
        connector = self._connector(source)
        records, already = await pull_reference_records(connector, data_type, params, source=source, db=self.db)
        symbols = ",".join(sorted(str(s).upper() for s in params.get("symbols") or []))
        key = f"{source}:{data_type}:{symbols}:{self.clock.now().date().isoformat()}"
        if not records and already:
            # every article was stored before, from this provider or another: nothing new, nothing failed
            return ImportResult(run_id=run_id or uuid.uuid4().hex, data_type=data_type, source=source, source_key=key,
                                destination=params.get("destination", "store"), status="duplicate",
                                control_totals={"already_stored": already})  # fmt: skip
        return await asyncio.to_thread(
            self.importer.import_records, records, data_type, source_key=key,
            destination=params.get("destination", "store"), mapping=params.get("mapping"), run_id=run_id, source=source,
        )  # fmt: skip

    @staticmethod
    async def _listing_currency(connector: Any, symbol: str) -> str | None:
        """The currency the vendor lists ``symbol`` in (its instrument search), or None when it cannot say."""
        search = getattr(connector, "search_instruments", None)
        if search is None:
            return None
        try:
            found = await search(symbol, limit=10)
        except PorticoError:
            return None
        exact = [i for i in found if i.symbol.upper() == symbol.upper() and i.currency]
        return exact[0].currency if exact else None

    def _schedule(self, kind: str, spec: Any) -> str:
        import sqlalchemy as sa

        job_id = self._job_id(kind, spec)
        make_trigger(spec)  # validate now, even when the scheduler is not running
        jobs = job_tables()["jobs"]
        body = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
        with self.db.begin() as conn:
            existing = conn.execute(sa.select(jobs.c.job_id, jobs.c.instance).where(jobs.c.job_id == job_id)).first()
            if existing is None:
                conn.execute(
                    jobs.insert().values(
                        job_id=job_id, kind=kind, config=body, created_at=self.clock.now(), instance=self.instance
                    )
                )
            else:
                owner = existing.instance or DEFAULT_INSTANCE
                if owner != self.instance:
                    raise ConfigurationError(
                        f"job id {job_id!r} already belongs to instance {owner!r} in this store; give this "
                        f"configuration's job another id, or set a different instance:",
                        path="id",
                    )
                conn.execute(
                    jobs.update().where(jobs.c.job_id == job_id).values(kind=kind, config=body, instance=self.instance)
                )
        if self._scheduler is not None:
            self._scheduler.add_job(
                dispatch,
                make_trigger(spec),
                args=(self._key, job_id),
                id=job_id,
                name=f"{kind} {getattr(spec, 'data_type', '')}",
                replace_existing=True,
                coalesce=spec.coalesce,
                misfire_grace_time=spec.misfire_grace_time,
                max_instances=1,
            )
        return job_id

    def _job_id(self, kind: str, spec: Any) -> str:
        """The job's id: the configured one, else derived from its content and, outside the default
        instance, from the instance too (the same job in two configurations is two jobs)."""
        if getattr(spec, "id", None) or self.instance == DEFAULT_INSTANCE:
            return str(spec.job_id(kind))
        body = {"instance": self.instance, **spec.model_dump(mode="json", exclude={"id"})}
        return f"{kind}-{hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]}"

    def _in_instance(self, jobs: Any) -> Any:
        """The SQL condition "this job belongs to this service's instance" (rows from before the
        column existed belong to the default instance)."""
        if self.instance == DEFAULT_INSTANCE:
            return jobs.c.instance.is_(None) | (jobs.c.instance == DEFAULT_INSTANCE)
        return jobs.c.instance == self.instance

    def _job_spec(self, job_id: str) -> tuple[str, Any]:
        import sqlalchemy as sa

        jobs = job_tables()["jobs"]
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(jobs).where(jobs.c.job_id == job_id, self._in_instance(jobs))
            ).mappings().first()
        if row is None:
            raise ConfigurationError(f"no job {job_id!r} in instance {self.instance!r}", path="job_id")
        if row["kind"] == "reconcile":
            return row["kind"], json.loads(row["config"])
        model = ScheduledImport if row["kind"] == "import" else ScheduledExport
        return row["kind"], model.model_validate(json.loads(row["config"]))

    def _run_scheduled(self, job_id: str) -> None:
        if job_id.startswith("watch:"):
            self.check_watch(job_id.split(":", 1)[1])
            return
        with contextlib.suppress(PorticoError):
            self._run_job(job_id)

    def _run_job(self, job_id: str) -> dict[str, Any]:
        kind, spec = self._job_spec(job_id)
        lock = JobLock(self.db, job_id, now=self.clock.now())
        run_id = lock.run_id
        if not lock.acquire():
            self._emit("jobs.run_skipped", severity="warning", job_id=job_id, reason=f"already running ({lock.held_by})")
            return self._record_run(run_id, job_id, kind, "skipped", error=f"already running ({lock.held_by})", finished=True)
        self._record_run(run_id, job_id, kind, "running")
        try:
            manifest: dict[str, Any]
            if kind == "import":
                result = self._run_import_spec(spec, run_id)
                manifest = result.to_dict()
                status = result.status
                counts = (result.loaded, result.rejected, result.quarantined)
                error = result.error
            elif kind == "reconcile":
                manifest = self._reconcile(job_id)
                status, counts, error = "completed", (0, 0, 0), None
            else:
                exported = self.exporter.export(
                    spec.data_type, spec.destination, {"format": spec.format, "columns": spec.columns, "filters": spec.filters, **spec.format_options}
                )
                manifest, status, counts, error = exported.to_dict(), "exported", (exported.rows, 0, 0), None
            severity = "error" if status == "failed" else ("warning" if kind == "reconcile" and manifest.get("breaks") else "info")
            self._emit("jobs.run_completed", severity=severity, job_id=job_id, status=status, **({"breaks": manifest.get("breaks")} if kind == "reconcile" else {}))
            return self._record_run(run_id, job_id, kind, status, counts=counts, manifest=manifest, error=error, finished=True)
        except Exception as exc:
            self._emit("jobs.run_failed", severity="error", job_id=job_id, error=str(exc))
            return self._record_run(run_id, job_id, kind, "failed", error=f"{type(exc).__name__}: {exc}", finished=True)
        finally:
            lock.release()

    def _reconcile(self, job_id: str) -> dict[str, Any]:
        registered = self._reconcilers.get(job_id)
        if registered is None:
            raise ConfigurationError(
                f"reconciliation job {job_id!r} has no runner in this process: it runs inside the runtime "
                "that scheduled it (trading.reconciliation)",
                path="trading.reconciliation",
            )
        result = self._run_coroutine(registered[1]())
        summary = result.summary() if hasattr(result, "summary") else dict(result)
        if not isinstance(summary.get("breaks"), int):
            raise PorticoError(f"reconciliation job {job_id!r} returned no break count")
        return dict(summary)

    def _run_import_spec(self, spec: ScheduledImport, run_id: str) -> ImportResult:
        params = {"destination": spec.destination, **spec.parameters}
        if spec.mapping:
            params["mapping"] = spec.mapping
        if self._connector(spec.source, required=False) is not None:
            params["symbols"] = spec.symbols
            return self._run_coroutine(self._pull(spec.source, spec.data_type, params, run_id=run_id))
        if spec.format:
            params["format"] = spec.format
        if spec.source.startswith("sftp://"):
            return self._last_of(self.import_sftp(spec.source, spec.data_type, **params), spec, run_id)
        matches = sorted(glob.glob(spec.source)) or [spec.source]
        last: ImportResult | None = None
        for path in matches:
            last = self._import_file(path, spec.data_type, params, run_id=run_id if len(matches) == 1 else None)
        assert last is not None
        return last

    def import_sftp(self, source: str, data_type: str, **params: Any) -> list[ImportResult]:
        """Pull the new files of an ``sftp://user@host:port/folder/pattern`` source, decrypt and import each.

        Each file is taken once per data type (across restarts); an encrypted file whose signature is
        not from a trusted signer is refused with the ``jobs.signature_refused`` alert. See
        :mod:`portico.jobs._feeds`.
        """
        return self.feed.run(source, data_type, params, lambda path, dt, p: self._import_file(path, dt, p))

    def export_sftp(self, data_type: str, destination: str, options: Mapping[str, Any] | None = None) -> str:
        """Export ``data_type`` (``format`` in ``options``) and push it to an ``sftp://`` ``destination``.

        The file is written under the first export root, encrypted when ``data_import.pgp.recipients``
        are configured, uploaded and renamed into place; returns the remote path.
        """
        from urllib.parse import urlparse

        from portico.jobs._export_paths import export_roots

        opts = dict(options or {})
        name = urlparse(destination).path.rstrip("/").rsplit("/", 1)[-1] if not destination.endswith("/") else f"{data_type}.{opts.get('format', 'csv')}"
        if name.lower().endswith((".pgp", ".gpg", ".asc")):
            name = name.rsplit(".", 1)[0]
        local = export_roots(self.exporter.allowed_roots)[0] / "sftp-outbox" / name
        opts.setdefault("format", name.rsplit(".", 1)[-1] if "." in name else "csv")
        self.exporter.export(data_type, local.as_uri(), opts)
        try:
            return self.feed.publish(local, destination)
        finally:
            local.unlink(missing_ok=True)

    def _last_of(self, results: list[ImportResult], spec: ScheduledImport, run_id: str) -> ImportResult:
        if results:
            failed = [r for r in results if r.status == "failed"]
            return failed[-1] if failed else results[-1]
        nothing = ImportResult(run_id=run_id, data_type=spec.data_type, source=spec.source, source_key=spec.source, destination=spec.destination, status="duplicate")
        nothing.control_totals = {"note": "no new file on the SFTP server"}
        return nothing

    def _run_coroutine(self, coro: Any) -> Any:
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                # connectors live on the runtime's loop: run there and wait from this worker thread
                return asyncio.run_coroutine_threadsafe(coro, loop).result()
        return asyncio.run(coro)

    def _record_run(
        self,
        run_id: str,
        job_id: str,
        kind: str,
        status: str,
        *,
        counts: tuple[int, int, int] = (0, 0, 0),
        manifest: Mapping[str, Any] | None = None,
        error: str | None = None,
        finished: bool = False,
    ) -> dict[str, Any]:
        now = self.clock.now()
        values = {
            "status": status,
            "loaded": counts[0],
            "rejected": counts[1],
            "quarantined": counts[2],
            "manifest": json.dumps(manifest, default=str) if manifest is not None else None,
            "error": error,
            "finished_at": now if finished else None,
        }
        with self.db.begin() as conn:
            self._write_run(conn, run_id, job_id, kind, values)
        return {"run_id": run_id, "job_id": job_id, "kind": kind, "status": status, "loaded": counts[0], "rejected": counts[1], "quarantined": counts[2], "error": error, "manifest": manifest}

    def _write_run(self, conn: Any, run_id: str, job_id: str, kind: str, values: Mapping[str, Any]) -> None:
        import sqlalchemy as sa

        runs = job_tables()["runs"]
        exists = conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first()
        if exists is None:
            conn.execute(runs.insert().values(run_id=run_id, job_id=job_id, kind=kind, started_at=self.clock.now(), owner=owner_id(), **values))
        else:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))

    def _record_committed_import(self, conn: Any, result: ImportResult) -> None:
        """Record an import's run inside its load's transaction (the importer calls this just before commit).

        A committed load then always has its run record, whatever happens to the process after the
        commit (``kill -9``, a full disk); a scheduled run's ``running`` record is completed in place.
        """
        values = {
            "status": result.status,
            "loaded": result.loaded,
            "rejected": result.rejected,
            "quarantined": result.quarantined,
            "manifest": json.dumps(result.to_dict(), default=str),
            "error": result.error,
            "finished_at": self.clock.now(),
        }
        self._write_run(conn, result.run_id, f"adhoc:{result.data_type}", "import", values)

    def _mark_crashed_runs(self) -> None:
        import sqlalchemy as sa

        from portico.jobs._scheduler import _owner_alive

        runs = job_tables()["runs"]
        with self.db.begin() as conn:
            for row in conn.execute(sa.select(runs.c.run_id, runs.c.owner).where(runs.c.status == "running")).all():
                if row.owner and not _owner_alive(row.owner):
                    conn.execute(runs.update().where(runs.c.run_id == row.run_id).values(status="crashed", error="the process running it died", finished_at=self.clock.now()))

    # -- file watches --------------------------------------------------------------------------------

    def check_watch(self, watch_id: str) -> str:
        """Check one expected delivery now; returns its state (waiting, late, missing, loaded, failed...).

        A newly arrived file is imported; alerts go through the monitor once per state change per day.
        """
        import sqlalchemy as sa

        watch = next((w for w in self.import_config.watches if w.id == watch_id), None)
        if watch is None:
            raise ConfigurationError(f"no file watch {watch_id!r}", path="data_import.watches")
        tz = ZoneInfo(watch.timezone)
        now = self.clock.now().astimezone(tz)
        day = now.date()
        if watch.weekdays_only and day.weekday() >= 5:
            return "not_expected"
        period = day.isoformat()
        table = job_tables()["watch"]
        with self.db.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.watch_id == watch.id, table.c.period == period)).mappings().first()
        state = row["state"] if row else "waiting"
        if state in ("loaded", "partial", "failed", "empty", "duplicate"):
            return state
        pattern = watch.path.replace("{date}", day.strftime("%Y%m%d"))
        pulled = self.feed.pull(pattern, f"watch:{watch.id}") if pattern.startswith("sftp://") else []
        files = [str(p.local_path) for p in pulled] if pattern.startswith("sftp://") else sorted(glob.glob(pattern))
        deadline = datetime.combine(day, watch.deadline, tzinfo=tz)
        if files:
            path = Path(files[-1])
            if path.stat().st_size == 0:
                new_state = "empty"
                self._emit("jobs.file_empty", severity="error", watch=watch.id, file=str(path))
            elif pulled:
                result = self.feed.import_pulled(pulled[-1], watch.data_type, self._watch_params(watch), lambda p, dt, params: self._import_file(p, dt, params))
                new_state = result.status if result.status != "dry_run" else "loaded"
                source = self.feed.source(f"watch:{watch.id}")
                for file in pulled:
                    source.mark(file, result.status if file is pulled[-1] else "superseded")
            else:
                result = self._import_file(str(path), watch.data_type, self._watch_params(watch))
                new_state = result.status if result.status != "dry_run" else "loaded"
            if now > deadline and state == "waiting":
                self._emit("jobs.file_late", severity="warning", watch=watch.id, file=str(path), deadline=deadline.isoformat(), arrived_by=now.isoformat())
        elif now > deadline + timedelta(minutes=watch.missing_after_minutes):
            new_state = "missing"
            if state != "missing":
                self._emit("jobs.file_missing", severity="critical", watch=watch.id, pattern=pattern, deadline=deadline.isoformat(), late_minutes=int((now - deadline).total_seconds() // 60))
        elif now > deadline:
            new_state = "late"
            if state not in ("late", "missing"):
                self._emit("jobs.file_late", severity="warning", watch=watch.id, pattern=pattern, deadline=deadline.isoformat())
        else:
            new_state = "waiting"
        self._save_watch(watch, period, new_state, str(files[-1]) if files else None)
        return new_state

    def _watch_params(self, watch: FileWatch) -> dict[str, Any]:
        params: dict[str, Any] = {"destination": watch.destination, "feed": f"watch:{watch.id}", "row_change_tolerance": watch.row_change_tolerance}
        if watch.format:
            params["format"] = watch.format
        if watch.mapping:
            params["mapping"] = watch.mapping
        return params

    def _save_watch(self, watch: FileWatch, period: str, state: str, file: str | None) -> None:

        table = job_tables()["watch"]
        with self.db.begin() as conn:
            conn.execute(table.delete().where(table.c.watch_id == watch.id, table.c.period == period))
            conn.execute(table.insert().values(watch_id=watch.id, period=period, state=state, file=file, updated_at=self.clock.now()))


    def _emit(self, event: str, *, severity: str = "info", **data: Any) -> None:
        if self.monitor is None:
            return
        with contextlib.suppress(Exception):
            self.monitor.emit(event, system="jobs", severity=severity, **data)


def _schedule_table(instance: str) -> str:
    """The APScheduler table of ``instance`` (the default instance keeps the original name)."""
    if instance == DEFAULT_INSTANCE:
        return "portico_apscheduler_jobs"
    slug = re.sub(r"[^a-z0-9_]", "_", instance.lower())[:24]
    return f"portico_apscheduler_jobs_{slug}_{hashlib.sha256(instance.encode()).hexdigest()[:8]}"


def _iso_utc(value: datetime | None) -> str | None:
    """``value`` as aware UTC ISO text; SQLite reads ``DateTime(timezone=True)`` back naive (stored UTC)."""
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


def _contributions(plugins: Any, hook: str) -> list[Any] | None:
    """``plugins``' contributions to ``hook``; None without a plugin manager (the built-ins then)."""
    contributions = getattr(plugins, "contributions", None)
    return list(contributions(hook)) if callable(contributions) else None
