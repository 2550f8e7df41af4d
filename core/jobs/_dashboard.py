"""The jobs service's dashboard panels: the schedule, recent runs and the dead-letter queue.

Contributed through ``portico_dashboard_panels`` by :mod:`portico.jobs.contributions`. Each read
touches only a jobs service that already runs and returns None when there is none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any, Protocol, runtime_checkable

from portico.contributions import running_service
from portico.jobs._dlq import DeadLetterQueue

__all__ = ["ScheduledJobRow", "dead_letter_rows", "dead_letters", "job_rows", "recent_runs", "scheduled_jobs"]


@dataclass(frozen=True)
class ScheduledJobRow:
    """One persisted job: what it does, when it runs next, how it last went."""

    job: str
    kind: str
    system: str | None
    what: str
    schedule: str | None
    next_run: str | None
    last_status: str | None
    last_run: str | None


@runtime_checkable
class _Jobs(Protocol):
    def list_jobs(self) -> list[dict[str, Any]]: ...


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _job_system(cfg: Mapping[str, Any], systems: Iterable[str]) -> str | None:
    known = set(systems)
    for key in ("source", "system", "destination"):
        value = cfg.get(key)
        if isinstance(value, str) and value in known:
            return value
    source = cfg.get("source")
    if isinstance(source, str) and source:
        return f"file {PurePath(source.split('://', 1)[-1]).name}"
    return None


def scheduled_jobs(runtime: Any) -> list[dict[str, Any]]:
    """Every persisted job of the running jobs service, soonest next run first."""
    jobs = running_service(runtime, "jobs")
    if not isinstance(jobs, _Jobs):
        return []
    systems = list(getattr(runtime, "systems", {}) or {})
    rows = []
    for job in jobs.list_jobs():
        cfg = job.get("config") or {}
        interval = cfg.get("interval_seconds")
        schedule = cfg.get("schedule") or (f"every {interval}s" if interval else None) or cfg.get("run_at")
        what = " ".join(str(p) for p in (cfg.get("data_type"), "->", cfg.get("destination")) if p)
        rows.append(
            ScheduledJobRow(
                job=str(job["job_id"]),
                kind=str(job.get("kind") or ""),
                system=_job_system(cfg, systems),
                what=what,
                schedule=None if schedule is None else str(schedule),
                next_run=_iso(job.get("next_run")),
                last_status=job.get("last_status"),
                last_run=_iso(job.get("last_run")),
            )
        )
    rows.sort(key=lambda r: (r.next_run is None, r.next_run or "", r.job))
    return [asdict(r) for r in rows]


def _jobs_service(runtime: Any) -> Any:
    # Only a jobs service that already runs: reading the dashboard must never build (or fail to
    # build) one as a side effect.
    if isinstance(getattr(runtime, "_services", None), Mapping):
        return running_service(runtime, "jobs")
    try:
        return getattr(runtime, "jobs", None)
    except Exception:
        return None


def recent_runs(runtime: Any) -> list[Any] | None:
    """The running jobs service's latest runs, or None without one (the monitor's run list shows)."""
    jobs = _jobs_service(runtime)
    method = getattr(jobs, "recent_runs", None) or getattr(jobs, "history", None)
    if not callable(method):
        return None
    return list(method(limit=20))


def dead_letters(runtime: Any) -> list[Any] | None:
    """The latest quarantined records of the running jobs service, or None without one."""
    jobs = _jobs_service(runtime)
    method = getattr(jobs, "dead_letters", None)
    if callable(method):
        return list(method(limit=50))
    importer = getattr(jobs, "importer", None)
    if importer is None:
        return None
    return list(DeadLetterQueue(importer).list(limit=50))


def job_rows(rows: list[Mapping[str, Any]], state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run rows as the page shows them; without rows, the monitor's own list of runs (``state["jobs"]``)."""
    source = rows or list(state.get("jobs") or [])
    systems_of_jobs: dict[str, str | None] = {
        str(row.get("job")): row.get("system") for row in state.get("schedule") or [] if isinstance(row, Mapping)
    }
    return [_job_row(r, systems_of_jobs) for r in source]


def dead_letter_rows(rows: list[Mapping[str, Any]], state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Quarantined records as the page shows them: where the bad value was, the record clipped."""
    return [_dead_letter_row(r) for r in rows]


def _job_row(
    row: Mapping[str, Any], systems_of_jobs: Mapping[str, str | None] | None = None
) -> dict[str, Any]:
    job = _text(row.get("job") or row.get("job_id") or row.get("name"))
    manifest = row.get("manifest") if isinstance(row.get("manifest"), Mapping) else {}
    system = row.get("system") or row.get("source") or (systems_of_jobs or {}).get(job or "")
    if not system and isinstance(manifest, Mapping):
        source = manifest.get("source_key") or manifest.get("file")
        system = f"file {source.rsplit('/', 1)[-1]}" if isinstance(source, str) and source else None
    return {
        "at": _text(row.get("at") or row.get("finished_at") or row.get("started_at")),
        "job": job,
        "system": _text(system),
        "outcome": _text(row.get("outcome") or row.get("status") or row.get("state")),
        "records_imported": row.get("records_imported", row.get("loaded")),
        "records_rejected": row.get(
            "records_rejected", (row.get("rejected") or 0) + (row.get("quarantined") or 0)
        )
        if "records_rejected" in row or "rejected" in row
        else None,
        "duration": row.get("duration"),
        "error": _text(row.get("error")),
    }


def _where(row: Mapping[str, Any]) -> str | None:
    # The quarantine store's rows say where the bad value was: file/key, line, field.
    parts = [
        str(row["source_key"]) if row.get("source_key") else None,
        f"line {row['line']}" if row.get("line") is not None else None,
        f"field {row['field']}" if row.get("field") else None,
    ]
    text = ", ".join(p for p in parts if p)
    return text or None


def _record_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _clip(value: str | None, limit: int) -> str | None:
    return value if value is None or len(value) <= limit else value[: limit - 1] + "…"


def _dead_letter_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": _text(row.get("id")),
        "at": _text(row.get("at") or row.get("created_at") or row.get("quarantined_at")),
        "job": _text(row.get("job") or row.get("job_id") or row.get("data_type") or row.get("source")),
        "reason": _text(row.get("reason") or row.get("error")),
        "where": _text(_where(row)),
        "record": _clip(
            _record_text(row.get("record") or row.get("payload") or row.get("data") or row.get("value")), 400
        ),
    }
