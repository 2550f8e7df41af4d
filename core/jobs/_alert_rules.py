"""The jobs' alert semantics: what job and file events mean for the monitor's alerts.

Contributed to the monitor through ``portico_alert_rules`` by :mod:`portico.jobs.contributions`; the
monitor itself knows nothing of jobs. Events handled:

- ``job.started``, ``job.completed`` / ``job.succeeded`` (``job=``, ``duration=``, ``records_imported=``,
  ``records_rejected=``, ``rows=``, ``file=``), ``job.failed`` (``job=``, ``error=``): any job runner's
  results, counted in the monitor's run metrics; ``job_failed``, ``empty_file`` and ``row_count_change``
  (against the median of the job's last runs) follow from them;
- ``job.expected`` (``job=``, ``due=`` datetime, ``sla=`` seconds): a scheduled file is due; the level
  rule ``file_late`` holds from ``sla`` seconds after it until a run of the job completes;
- the events :mod:`portico.jobs` emits (``jobs.run_completed``, ``jobs.run_failed``,
  ``jobs.import_completed``, ``jobs.import_failed``, ``jobs.row_count_changed``, ``jobs.file_empty``,
  ``jobs.file_late``, ``jobs.file_missing``), mapped onto the same rules.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portico.contributions import AlertContext, AlertEvent, AlertRules

__all__ = ["JOBS_ALERT_RULES", "JOB_EVENTS", "JobAlertRules"]

_JOB_RESULT_EVENTS = frozenset({"job.completed", "job.succeeded", "job.failed"})
_JOBS_SERVICE_EVENTS = frozenset(
    {
        "jobs.run_completed",
        "jobs.run_failed",
        "jobs.import_completed",
        "jobs.import_failed",
        "jobs.row_count_changed",
        "jobs.file_empty",
        "jobs.file_late",
        "jobs.file_missing",
    }
)
JOB_EVENTS = _JOB_RESULT_EVENTS | _JOBS_SERVICE_EVENTS | {"job.expected"}
"""Every event the jobs' alert rules read."""


@dataclass
class _FileExpectation:
    job: str
    system: str | None
    due: datetime
    sla: float
    arrived: bool = False


class JobAlertRules:
    """The jobs' rules for one monitor: ``job_failed``, ``empty_file``, ``row_count_change``, ``file_late``.

    Args:
        context: the monitor's side (settings, clock, alert verbs, run metrics).
    """

    def __init__(self, context: AlertContext) -> None:
        self.context = context
        self._row_counts: dict[str, deque[int]] = {}
        self._expected_files: dict[str, _FileExpectation] = {}

    def on_event(self, event: AlertEvent) -> None:
        """Route one job or file event to the rule it feeds."""
        data = dict(event.data)
        if event.name in _JOB_RESULT_EVENTS:
            self._job_finished(event.name, event.system, data, event.correlation_id)
        elif event.name in _JOBS_SERVICE_EVENTS:
            self._jobs_service_event(event.name, event.system, data, event.correlation_id)
        elif event.name == "job.expected":
            self._expect_file(event.system, data)

    def evaluate(self) -> None:
        """Hold ``file_late`` for every expected file past its due time plus SLA that has not arrived."""
        wall = self.context.now()
        for job, exp in self._expected_files.items():
            if not exp.arrived and wall > exp.due + timedelta(seconds=exp.sla):
                late = (wall - exp.due).total_seconds()
                self.context.hold(
                    "file_late",
                    exp.system,
                    f"file for job {job} is {late / 60:.0f} min late (due {exp.due.isoformat()}, SLA {exp.sla:g}s)",
                    subject=job,
                    due=exp.due.isoformat(),
                )

    # -- job results -------------------------------------------------------------------------------

    def _job_finished(
        self,
        event: str,
        system: str | None,
        data: Mapping[str, Any],
        cid: str | None,
        *,
        row_check: bool = True,
    ) -> None:
        ctx = self.context
        job = str(data.get("job", "job"))
        ok = event != "job.failed"
        imported = int(data.get("records_imported", 0) or 0)
        rejected = int(data.get("records_rejected", 0) or 0)
        ctx.record_run(
            job=job,
            system=system,
            ok=ok,
            duration=float(data["duration"]) if data.get("duration") is not None else None,
            records_imported=imported,
            records_rejected=rejected,
            details={
                "duration": data.get("duration"),
                "rows": data.get("rows"),
                "file": data.get("file"),
                "error": data.get("error"),
                "correlation_id": cid,
            },
        )
        if not ok:
            failed = ctx.rule("job_failed")
            if failed.enabled:
                ctx.fire(
                    "job_failed",
                    system=system,
                    subject=job,
                    severity=failed.severity,
                    summary=f"job {job} failed: {data.get('error', 'unknown error')}",
                    correlation_id=cid,
                )
            return
        ctx.resolve("job_failed", system=system, subject=job)
        expectation = self._expected_files.get(job)
        if expectation is not None:
            expectation.arrived = True
        rows = data.get("rows")
        if rows is None and ("records_imported" in data or "records_rejected" in data):
            rows = imported + rejected
        if rows is None:
            return
        rows = int(rows)
        empty = ctx.rule("empty_file")
        if empty.enabled:
            if rows == 0:
                ctx.fire(
                    "empty_file",
                    system=system,
                    subject=job,
                    severity=empty.severity,
                    summary=f"job {job} received an empty file"
                    + (f" ({data['file']})" if data.get("file") else ""),
                    details={"file": data.get("file")},
                    correlation_id=cid,
                )
            else:
                ctx.resolve("empty_file", system=system, subject=job)
        if not row_check:  # the sender compares row counts itself (portico.jobs does)
            return
        history = self._row_counts.setdefault(job, deque(maxlen=20))
        change = ctx.rule("row_count_change")
        if change.enabled and rows > 0 and len(history) >= change.min_history:
            usual = statistics.median(history)
            tolerance = change.threshold if change.threshold is not None else 0.10
            if usual > 0 and abs(rows - usual) / usual > tolerance:
                ctx.fire(
                    "row_count_change",
                    system=system,
                    subject=job,
                    severity=change.severity,
                    summary=f"job {job} loaded {rows} rows, usually {usual:g} ({(rows - usual) / usual:+.0%})",
                    details={"rows": rows, "usual": usual, "tolerance": tolerance},
                    correlation_id=cid,
                )
            else:
                ctx.resolve("row_count_change", system=system, subject=job)
        if rows > 0:
            history.append(rows)

    def _jobs_service_event(
        self, event: str, system: str | None, data: Mapping[str, Any], cid: str | None
    ) -> None:
        # The events portico.jobs emits (system="jobs"), mapped onto the same rules as job.* events.
        ctx = self.context
        job = str(data.get("job_id") or data.get("watch") or data.get("data_type") or "job")
        if event == "jobs.run_completed":
            status = str(data.get("status", "succeeded"))
            failed = status == "failed"
            counts = {k: data[k] for k in ("loaded", "rejected", "quarantined") if data.get(k) is not None}
            payload: dict[str, Any] = {"job": job, "error": data.get("error")}
            if counts:
                payload["records_imported"] = int(counts.get("loaded", 0))
                payload["records_rejected"] = int(counts.get("rejected", 0)) + int(
                    counts.get("quarantined", 0)
                )
            self._job_finished("job.failed" if failed else "job.completed", system, payload, cid)
        elif event == "jobs.import_completed":
            self._job_finished(
                "job.completed",
                system,
                {
                    "job": job,
                    "file": data.get("file"),
                    "records_imported": int(data.get("loaded", 0) or 0),
                    "records_rejected": int(data.get("rejected", 0) or 0)
                    + int(data.get("quarantined", 0) or 0),
                },
                cid,
                row_check=False,
            )
        elif event == "jobs.row_count_changed" and ctx.rule("row_count_change").enabled:
            change = data.get("change_pct")
            ctx.fire(
                "row_count_change",
                system=system,
                subject=job,
                severity=ctx.rule("row_count_change").severity,
                summary=f"{job}: {data.get('current')} rows, previously {data.get('previous')}"
                + (f" ({float(change):+.1f}%)" if change is not None else ""),
                details={k: data[k] for k in ("file", "previous", "current", "change_pct") if k in data},
                correlation_id=cid,
            )
        elif event in {"jobs.run_failed", "jobs.import_failed"}:
            self._job_finished("job.failed", system, {"job": job, "error": data.get("error")}, cid)
        elif event == "jobs.file_empty" and ctx.rule("empty_file").enabled:
            ctx.fire(
                "empty_file",
                system=system,  # the key the next successful import of the job resolves
                subject=job,
                severity=ctx.rule("empty_file").severity,
                summary=f"{job}: empty file {data.get('file', '')}".strip(),
                details={"file": data.get("file")},
                correlation_id=cid,
            )
        elif event in {"jobs.file_late", "jobs.file_missing"} and ctx.rule("file_late").enabled:
            if data.get("arrived_by"):
                # The late file is here now: clear the alert (raising and clearing it when none was up,
                # so the lateness is still reported).
                if not ctx.is_active("file_late", None, job):
                    self._fire_file_late(job, data, cid, "arrived late")
                ctx.resolve("file_late", system=None, subject=job)
            else:
                self._fire_file_late(job, data, cid, "missing" if event == "jobs.file_missing" else "late")

    def _fire_file_late(self, job: str, data: Mapping[str, Any], cid: str | None, what: str) -> None:
        severity = self.context.rule("file_late").severity
        if what == "missing" and severity != "emergency":
            severity = "emergency" if severity == "critical" else "critical"
        deadline = data.get("deadline")
        self.context.fire(
            "file_late",
            system=None,
            subject=job,
            severity=severity,
            summary=f"file for {job} {what}" + (f" (deadline {deadline})" if deadline else ""),
            details={
                k: data[k] for k in ("file", "pattern", "deadline", "late_minutes", "arrived_by") if k in data
            },
            correlation_id=cid,
        )

    def _expect_file(self, system: str | None, data: Mapping[str, Any]) -> None:
        job = str(data.get("job", "job"))
        due = data.get("due") or self.context.now()
        if isinstance(due, str):
            due = datetime.fromisoformat(due)
        sla = data.get("sla")
        window = self.context.rule("file_late").window
        self._expected_files[job] = _FileExpectation(
            job=job, system=system, due=due, sla=float(sla if sla is not None else window or 3600.0)
        )


JOBS_ALERT_RULES = AlertRules(
    name="portico.jobs",
    events=JOB_EVENTS,
    build=JobAlertRules,
    level_rules=("file_late",),
    rules=("job_failed", "empty_file", "row_count_change", "file_late"),
    defaults={
        "job_failed": {"severity": "critical"},
        "empty_file": {"severity": "warning"},
        "row_count_change": {"severity": "warning", "threshold": 0.10},
        "file_late": {"severity": "critical", "window": 3600},
    },
)
"""The jobs' contribution to the monitor's alert rules."""
