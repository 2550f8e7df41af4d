"""The ``/v1`` routes of the job services: reconciliation, scheduled jobs, quarantine, imports and exports."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask

from portico.gateway._dependencies import Caller, DataType, ObjectId, Routes
from portico.gateway._models import JobRun, ReconcileIn, ReplayIn
from portico.gateway._problems import Problem, ProblemModel
from portico.gateway._security import Principal, Verb
from portico.home import portico_home

__all__ = ["add_job_routes"]


def add_job_routes(api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    gateway, integration, security = routes.gateway, routes.integration, routes.security
    need, known_system, audit, audited = routes.need, routes.known_system, routes.audit, routes.audited

    # -- reconciliation ----------------------------------------------------------------------------

    @api.post("/reconciliations", status_code=201, tags=["reconciliation"])
    async def run_reconciliation(body: ReconcileIn, p: Caller) -> dict[str, Any]:
        """Reconcile positions, trades and cash against the book now; returns the run's summary and breaks."""
        need(p, "jobs", "reconciliation", "write")
        for sid in body.systems or []:
            known_system(p, sid)
        # all systems means all the caller may read: a report names positions of every system in it
        systems = body.systems or [sid for sid in integration.systems if p.can("systems", sid, "read")]
        if not systems:
            raise Problem(
                422,
                "Invalid request",
                "systems: you may read no system to reconcile",
                kind="invalid-request",
                field="body.systems",
            )
        report = await audited(p, "reconciliation.run", integration.reconcile(systems), systems=systems)
        return {"summary": report.summary(), "breaks": report.to_rows()}

    @api.get("/reconciliations/breaks", tags=["reconciliation"])
    async def reconciliation_breaks(
        p: Caller, run_id: Annotated[str | None, Query(max_length=64)] = None
    ) -> list[dict[str, Any]]:
        """Stored breaks (of one run, or every run), oldest first."""
        need(p, "jobs", "reconciliation", "read")
        rows: list[dict[str, Any]] = integration.trading.reconciler().stored_breaks(run_id)
        return [r for r in rows if r.get("system") is None or p.can("systems", str(r.get("system")), "read")]

    # -- jobs, quarantine, imports, exports --------------------------------------------------------

    @api.get("/jobs", tags=["jobs"])
    async def list_jobs(p: Caller) -> list[dict[str, Any]]:
        """Scheduled jobs the caller may read, with their next run and last status."""
        jobs = [j for j in await integration.list_jobs() if p.can("jobs", str(j.get("job_id", "")), "read")]
        return [_masked(integration, j) for j in jobs]

    def job_known(p: Principal, jobs: list[dict[str, Any]], job_id: str, verb: Verb) -> None:
        if not any(str(j.get("job_id")) == job_id for j in jobs):
            raise Problem(404, "Not found", f"no job {job_id!r}", kind="not-found")
        need(p, "jobs", job_id, verb)

    @api.get("/jobs/{job_id}/history", tags=["jobs"])
    async def job_history(
        job_id: ObjectId, p: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[dict[str, Any]]:
        """Runs of a job, newest first."""
        job_known(p, await integration.list_jobs(), job_id, "read")
        return [_masked(integration, run) for run in await integration.job_history(job_id, limit=limit)]

    @api.post("/jobs/{job_id}/runs", status_code=202, response_model=JobRun, tags=["jobs"])
    async def run_job(job_id: ObjectId, p: Caller) -> JSONResponse:
        """Run a job now; answers 202 at once with the URL of the run's status."""
        job_known(p, await integration.list_jobs(), job_id, "write")
        run = gateway.start_job_run(job_id, p)
        audit(p, "jobs.run", "started", job=job_id, ticket=run.ticket)
        return JSONResponse(
            run.model_dump(mode="json"), status_code=202, headers={"Location": run.status_url}
        )

    @api.get("/jobs/{job_id}/runs/{ticket}", response_model=JobRun, tags=["jobs"])
    async def job_run_status(job_id: ObjectId, ticket: ObjectId, p: Caller) -> JobRun:
        """The status of a run started through the API."""
        need(p, "jobs", job_id, "read")
        run = gateway.job_runs.get(ticket)
        if run is None or run.job_id != job_id:
            raise Problem(404, "Not found", f"no run {ticket!r}", kind="not-found")
        return run

    def dlq() -> Any:
        from portico.jobs import DeadLetterQueue  # lazy: cold start

        return DeadLetterQueue(integration.jobs.importer)

    @api.get("/quarantine", tags=["quarantine"])
    async def quarantine(
        p: Caller,
        data_type: Annotated[str | None, Query(max_length=64)] = None,
        status: Annotated[Literal["open", "replayed", "discarded"], Query()] = "open",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Quarantined (dead-letter) records of imports."""
        need(p, "jobs", "quarantine", "read")
        rows: list[dict[str, Any]] = dlq().list(status=status, data_type=data_type, limit=limit)
        return json.loads(json.dumps(rows, default=str))

    @api.post("/quarantine/replay", tags=["quarantine"])
    async def quarantine_replay(body: ReplayIn, p: Caller) -> dict[str, Any]:
        """Re-map and load quarantined records; answers which loaded and which still fail, and why."""
        need(p, "jobs", "quarantine", "write")
        queue = dlq()
        known = {e["id"] for e in queue.list(status=None, limit=1_000_000)}
        missing = [i for i in body.ids if i not in known]
        if missing:
            raise Problem(
                404, "Not found", f"no quarantined record {missing[0]}", kind="not-found", field="body.ids"
            )
        result: dict[str, Any] = await audited(
            p, "quarantine.replay", asyncio.to_thread(queue.replay, body.ids), ids=body.ids
        )
        return json.loads(json.dumps(result, default=str))

    @api.post(
        "/imports/{data_type}", status_code=201, tags=["imports"], responses={413: {"model": ProblemModel}}
    )
    async def import_upload(
        data_type: DataType,
        file: Annotated[
            UploadFile, File(description="The file to import (CSV, JSON, XLSX... by its extension).")
        ],
        p: Caller,
    ) -> dict[str, Any]:
        """Import an uploaded file: every record loaded, rejected with a reason, or quarantined."""
        need(p, "jobs", f"import:{data_type}", "write")
        name = Path(file.filename or "upload").name
        suffix = "".join(Path(name).suffixes[-2:]) or ".csv"
        if not all(c.isalnum() or c in "._-" for c in suffix):
            raise Problem(
                422,
                "Invalid request",
                "file: the file name's extension is not valid",
                kind="invalid-request",
                field="body.file",
            )
        folder = portico_home() / "gateway-uploads"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False) as tmp:
            size = 0
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > security.config.max_upload_bytes:
                    tmp.close()
                    Path(tmp.name).unlink(missing_ok=True)
                    raise Problem(
                        413,
                        "Upload too large",
                        f"file: at most {security.config.max_upload_bytes} bytes",
                        field="body.file",
                    )
                tmp.write(chunk)
        try:
            result = await audited(
                p,
                "imports.upload",
                integration.import_data(tmp.name, data_type),
                data_type=data_type,
                file=name,
            )
        finally:
            Path(tmp.name).unlink(missing_ok=True)
        out = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        for key in ("source", "source_key", "feed"):  # the server's temporary path is nobody's business
            if key in out:
                out[key] = name
        answer: dict[str, Any] = json.loads(json.dumps(out, default=str))
        return answer

    @api.get("/exports/{data_type}", tags=["exports"], response_class=FileResponse)
    async def export_download(
        data_type: DataType,
        p: Caller,
        format: Annotated[Literal["csv", "json", "xlsx", "parquet"], Query()] = "csv",
    ) -> FileResponse:
        """Export data and download the file."""
        need(p, "jobs", f"export:{data_type}", "read")
        folder = portico_home() / "exports" / "gateway"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{data_type}-{uuid.uuid4().hex}.{format}"
        await audited(
            p,
            "exports.download",
            integration.export_data(data_type, target.as_uri(), {"format": format}),
            data_type=data_type,
        )
        if not target.exists():
            raise Problem(404, "Not found", f"the {data_type} export wrote no file", kind="not-found")
        return FileResponse(target, filename=f"{data_type}.{format}", background=_unlink_after(target))


_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+):[^@/\s]+@")


def _masked(integration: Any, value: dict[str, Any]) -> dict[str, Any]:
    """A stored job or run as JSON, with secrets masked: known secret values and secret-looking keys (the
    monitor's redactor) and the password of any URL (``sftp://user:pw@host`` -> ``sftp://user:***@host``)."""
    text = json.dumps(value, default=str)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}:***@", text)
    data: dict[str, Any] = json.loads(text)
    redactor = getattr(integration.monitor, "redactor", None)
    if redactor is not None:
        data = redactor.redact(data)
    return data


def _unlink_after(path: Path) -> Any:
    return BackgroundTask(path.unlink, missing_ok=True)
