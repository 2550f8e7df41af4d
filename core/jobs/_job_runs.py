"""Scheduled jobs: registering them with the scheduler, running one, and recording each run.

:class:`JobRuns` is that part of :class:`~portico.jobs.JobService`; a run is recorded before it
starts and finished after, so a crash leaves a run marked crashed, never a silent gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from portico.errors import ConfigurationError, PorticoError
from portico.jobs._config import (
    ScheduledExport,
    ScheduledImport,
)
from portico.jobs._importer import ImportResult
from portico.jobs._scheduler import (
    JobLock,
    dispatch,
    make_trigger,
    owner_id,
)
from portico.jobs._service_parts import DEFAULT_INSTANCE, JobServiceParts
from portico.jobs._tables import job_tables

__all__ = ["JobRuns"]


class JobRuns(JobServiceParts):
    """The jobs service's scheduled runs and their records (a part of :class:`~portico.jobs.JobService`)."""

    def _schedule(self, kind: str, spec: Any) -> str:
        import sqlalchemy as sa

        job_id = self._job_id(kind, spec)
        make_trigger(spec)  # validate now, even when the scheduler is not running
        jobs = job_tables()["jobs"]
        body = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
        with self.db.begin() as conn:
            existing = conn.execute(
                sa.select(jobs.c.job_id, jobs.c.instance).where(jobs.c.job_id == job_id)
            ).first()
            if existing is None:
                conn.execute(
                    jobs.insert().values(
                        job_id=job_id,
                        kind=kind,
                        config=body,
                        created_at=self.clock.now(),
                        instance=self.instance,
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
                    jobs.update()
                    .where(jobs.c.job_id == job_id)
                    .values(kind=kind, config=body, instance=self.instance)
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
            row = (
                conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id, self._in_instance(jobs)))
                .mappings()
                .first()
            )
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
            self._emit(
                "jobs.run_skipped",
                severity="warning",
                job_id=job_id,
                reason=f"already running ({lock.held_by})",
            )
            return self._record_run(
                run_id, job_id, kind, "skipped", error=f"already running ({lock.held_by})", finished=True
            )
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
                    spec.data_type,
                    spec.destination,
                    {
                        "format": spec.format,
                        "columns": spec.columns,
                        "filters": spec.filters,
                        **spec.format_options,
                    },
                )
                manifest, status, counts, error = exported.to_dict(), "exported", (exported.rows, 0, 0), None
            severity = (
                "error"
                if status == "failed"
                else ("warning" if kind == "reconcile" and manifest.get("breaks") else "info")
            )
            self._emit(
                "jobs.run_completed",
                severity=severity,
                job_id=job_id,
                status=status,
                **({"breaks": manifest.get("breaks")} if kind == "reconcile" else {}),
            )
            return self._record_run(
                run_id, job_id, kind, status, counts=counts, manifest=manifest, error=error, finished=True
            )
        except Exception as exc:
            self._emit("jobs.run_failed", severity="error", job_id=job_id, error=str(exc))
            return self._record_run(
                run_id, job_id, kind, "failed", error=f"{type(exc).__name__}: {exc}", finished=True
            )
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
            last = self._import_file(
                path, spec.data_type, params, run_id=run_id if len(matches) == 1 else None
            )
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
        name = (
            urlparse(destination).path.rstrip("/").rsplit("/", 1)[-1]
            if not destination.endswith("/")
            else f"{data_type}.{opts.get('format', 'csv')}"
        )
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
        nothing = ImportResult(
            run_id=run_id,
            data_type=spec.data_type,
            source=spec.source,
            source_key=spec.source,
            destination=spec.destination,
            status="duplicate",
        )
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
        return {
            "run_id": run_id,
            "job_id": job_id,
            "kind": kind,
            "status": status,
            "loaded": counts[0],
            "rejected": counts[1],
            "quarantined": counts[2],
            "error": error,
            "manifest": manifest,
        }

    def _write_run(self, conn: Any, run_id: str, job_id: str, kind: str, values: Mapping[str, Any]) -> None:
        import sqlalchemy as sa

        runs = job_tables()["runs"]
        exists = conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first()
        if exists is None:
            conn.execute(
                runs.insert().values(
                    run_id=run_id,
                    job_id=job_id,
                    kind=kind,
                    started_at=self.clock.now(),
                    owner=owner_id(),
                    **values,
                )
            )
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
            for row in conn.execute(
                sa.select(runs.c.run_id, runs.c.owner).where(runs.c.status == "running")
            ).all():
                if row.owner and not _owner_alive(row.owner):
                    conn.execute(
                        runs.update()
                        .where(runs.c.run_id == row.run_id)
                        .values(
                            status="crashed",
                            error="the process running it died",
                            finished_at=self.clock.now(),
                        )
                    )
