"""JobService: the runtime's jobs facade (imports, exports, schedules, history, run-now, file watches)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from portico.errors import ConfigurationError, PorticoError
from portico.jobs._config import (
    DataExportConfig,
    DataImportConfig,
    ScheduledExport,
    ScheduledImport,
)
from portico.jobs._exporter import DataExporter, ExportResult, ExportSource
from portico.jobs._feeds import SecureFeed
from portico.jobs._importer import DataImporter, ImportResult
from portico.jobs._job_runs import JobRuns
from portico.jobs._plugin_records import record_types_for
from portico.jobs._pulls import ConnectorPulls
from portico.jobs._records import RecordTypes
from portico.jobs._registry import collect
from portico.jobs._scheduler import (
    dispatch,
    register_service,
    unregister_service,
)
from portico.jobs._service_parts import DEFAULT_INSTANCE, ReconcileRunner
from portico.jobs._sftp import SftpSink
from portico.jobs._tables import ensure_job_tables, job_tables
from portico.jobs._watches import FileWatching

__all__ = ["DEFAULT_INSTANCE", "BrokerPositions", "JobService", "ReconcileRunner"]


BrokerPositions = Callable[[], Awaitable[Iterable[tuple[str, Any]]]]
"""Fetches the positions of every brokerage system on the runtime's loop: ``(system_id, Position)`` pairs."""


def _validated(model: type[BaseModel], data: Any, path: str) -> Any:
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as exc:
        problems = [(f"{path}." + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigurationError(
            f"{problems[0][0]}: {problems[0][1]}", path=problems[0][0], problems=problems
        ) from None


class JobService(ConnectorPulls, JobRuns, FileWatching):
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
        self.import_config: DataImportConfig = _validated(
            DataImportConfig, cfg.get("data_import"), "data_import"
        )
        self.export_config: DataExportConfig = _validated(
            DataExportConfig, cfg.get("data_export"), "data_export"
        )
        self.db = db
        self.clock = clock
        self.monitor = monitor
        self.connectors = connectors
        self.market_data = market_data
        self.integration = integration
        self.instance = instance
        self.formats, self.sinks, validators = collect(plugins)
        self.record_types: RecordTypes = record_types_for(plugins)
        """This service's record types: the built-in ones and those its plugins contribute."""
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
            record_types=self.record_types,
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
            record_types=self.record_types,
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

    # -- facade: the plan's four methods -------------------------------------------------------------

    async def import_data(
        self, source: str, data_type: str, parameters: Mapping[str, Any] | None = None
    ) -> ImportResult:
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

    async def export_data(
        self, data_type: str, destination: str, format_options: Mapping[str, Any] | None = None
    ) -> ExportResult:
        """Export ``data_type`` to ``destination`` (see :meth:`DataExporter.export` for the options)."""
        self._remember_loop()
        return await asyncio.to_thread(
            self.exporter.export, data_type, destination, dict(format_options or {})
        )

    async def schedule_import(self, import_config: Mapping[str, Any] | ScheduledImport) -> str:
        """Persist and schedule an import; returns its job id (re-scheduling the same config is idempotent)."""
        spec = (
            _validated(ScheduledImport, import_config, "import_config")
            if not isinstance(import_config, ScheduledImport)
            else import_config
        )
        return self._schedule("import", spec)

    async def schedule_export(self, export_config: Mapping[str, Any] | ScheduledExport) -> str:
        """Persist and schedule an export; returns its job id."""
        spec = (
            _validated(ScheduledExport, export_config, "export_config")
            if not isinstance(export_config, ScheduledExport)
            else export_config
        )
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
            jobs = (
                conn.execute(
                    sa.select(t["jobs"]).where(self._in_instance(t["jobs"])).order_by(t["jobs"].c.job_id)
                )
                .mappings()
                .all()
            )
            out = []
            for job in jobs:
                last = conn.execute(
                    sa.select(t["runs"].c.status, t["runs"].c.started_at)
                    .where(t["runs"].c.job_id == job["job_id"])
                    .order_by(t["runs"].c.started_at.desc())
                    .limit(1)
                ).first()
                next_run = None
                if self._scheduler is not None:
                    aps = self._scheduler.get_job(job["job_id"])
                    next_run = (
                        aps.next_run_time.isoformat() if aps is not None and aps.next_run_time else None
                    )
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
        # created here, under the store's DDL lock: APScheduler's own CREATE TABLE races when several
        # processes of one instance start together on PostgreSQL (a duplicate key in pg_type kills one)
        self.db.ensure_tables(store.jobs_t)
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
        for export_spec in self.export_config.scheduled_exports:
            if export_spec.enabled:
                self._schedule("export", export_spec)
        for spec, _runner in self._reconcilers.values():
            self._schedule("reconcile", spec)
        for watch in self.import_config.watches:
            self._scheduler.add_job(
                dispatch,
                "interval",
                seconds=watch.check_interval_seconds,
                args=(self._key, f"watch:{watch.id}"),
                id=f"watch:{watch.id}",
                replace_existing=True,
                coalesce=True,
                misfire_grace_time=int(watch.check_interval_seconds),
            )

    @property
    def distributed(self) -> Any:
        """The :class:`~portico.jobs._distributed.DistributedImport` of this process (created on first use)."""
        if self._distributed is None:
            from portico.jobs._distributed import DistributedImport

            self._distributed = DistributedImport(self.importer)
        return self._distributed

    def import_distributed(
        self, path: str | Path, data_type: str, *, chunk_rows: int = 50_000, source_key: str | None = None
    ) -> str:
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
                planned = conn.execute(
                    sa.select(imports.c.import_id).where(imports.c.status == "planned").limit(1)
                ).first()
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
            self._emit(
                "jobs.fire_retried",
                severity="warning",
                job_id=fire.job_id,
                fire_time=fire.fire_time.isoformat(),
                retry_of=fire.previous_owner,
                attempt=fire.attempts,
            )
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
                return self._loop.create_task(
                    asyncio.to_thread(self._shutdown_now), name="portico-jobs-shutdown"
                )
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
            value = (
                p.market_value
                if p.market_value is not None
                else (p.quantity * p.market_price if p.market_price is not None else None)
            )
            rows.append(
                {
                    "source": system_id,
                    "account": p.account_id,
                    "currency": p.currency,
                    "quantity": p.quantity,
                    "market_value": value,
                    "as_of": as_of,
                }
            )
        return rows

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
