"""Finishing an import run: the failure record, the row-count comparison with the feed's last delivery, and the manifest file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portico.errors import PorticoError
from portico.jobs._import_result import (
    ImportResult,
    _os_error,
)
from portico.jobs._import_state import _ImporterState
from portico.jobs._tables import job_tables


class _FinishStages(_ImporterState):
    """Stages of :class:`~portico.jobs._importer.DataImporter` (a mixin: its methods run on the importer)."""

    def _fail(self, result: ImportResult, exc: PorticoError) -> None:
        result.status = "failed"
        result.error = str(exc)
        result.loaded = 0
        for s in result.stages:
            if s.status == "pending":
                s.status = "skipped"
        failed_stage = next((s for s in result.stages if s.status == "failed"), None)
        if failed_stage is None:
            failed_stage = next(
                (s for s in result.stages if s.status not in ("ok", "skipped")), result.stages[-1]
            )
            failed_stage.status = "failed"
        failed_stage.detail["error"] = str(exc)
        self._emit(
            "jobs.import_failed",
            severity="error",
            run_id=result.run_id,
            file=result.source,
            data_type=result.data_type,
            error=str(exc),
        )

    def _finish(
        self, result: ImportResult, *, dry_run: bool = False, tolerance: float = 0.10
    ) -> ImportResult:
        result.finished_at = self.clock.now().isoformat()
        if result.destination.startswith("staging:"):
            # a distributed import's chunk: its import writes the manifest and says it completed, once
            return result
        if result.status in ("loaded", "partial") and not dry_run:
            try:
                self._check_row_count(result, tolerance)
            except Exception as exc:  # an advisory check: the load stands, and import_file never raises
                self._emit(
                    "jobs.row_count_check_failed",
                    severity="warning",
                    run_id=result.run_id,
                    error=f"{type(exc).__name__}: {exc}",
                )
        if result.status in ("loaded", "partial", "failed") and not dry_run:
            try:
                result.manifest_path = str(self._write_manifest(result))
            except OSError as exc:
                # the load (when there is one) committed with its run record: this is only the file copy
                result.manifest_path = None
                result.manifest_error = f"manifest not written: {_os_error(exc)}"
                self._emit(
                    "jobs.manifest_failed",
                    severity="error",
                    run_id=result.run_id,
                    file=result.source,
                    load_id=result.load_id,
                    error=result.manifest_error,
                )
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
                    for row in conn.execute(
                        sa.select(t.c.line, t.c.field, t.c.reason)
                        .where(t.c.load_id == load_id)
                        .order_by(t.c.id)
                    ):
                        handle.write(
                            (("" if first else ",") + "\n    " + json.dumps(dict(row._mapping))).encode()
                        )
                        first = False
                    handle.write(b'\n  ],\n  "quarantine": [')
                    d = tables["dlq"]
                    first = True
                    for held in conn.execute(
                        sa.select(d.c.id, d.c.line, d.c.field, d.c.value, d.c.reason)
                        .where(d.c.load_id == load_id)
                        .order_by(d.c.id)
                    ):
                        handle.write(
                            (("" if first else ",") + "\n    " + json.dumps(dict(held._mapping))).encode()
                        )
                        first = False
            else:
                handle.write(b'],\n  "quarantine": [')
            handle.write(b"]\n}\n")

        self.write_file(path, produce)
        return path
