"""The arrival and file-validation stages of an import: the file is there, whole, unchanged, and not a delivery already loaded."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portico.jobs._formats import FileRejected
from portico.jobs._import_result import (
    _TEXT_FORMATS,
    ImportResult,
    _os_error,
)
from portico.jobs._import_state import _ImporterState
from portico.jobs._limits import ReadLimits
from portico.jobs._readguard import ReadGuard, file_identity
from portico.jobs._scan import FileScan, scan_file
from portico.jobs._tables import job_tables


class _ArrivalStages(_ImporterState):
    """Stages of :class:`~portico.jobs._importer.DataImporter` (a mixin: its methods run on the importer)."""

    def _arrive_and_validate(
        self,
        path: Path,
        fmt: Any,
        opts: Mapping[str, Any],
        result: ImportResult,
        expected: str | None,
    ) -> tuple[FileScan, ReadGuard]:
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
            raise FileRejected(
                "the file changed while it was being validated; nothing was loaded: import it again once it is complete",
                file=path.name,
            )
        result.checksum = scan.sha256
        sidecar = path.with_name(path.name + ".sha256")
        if expected is None and sidecar.is_file():
            expected = (
                sidecar.read_text(encoding="ascii", errors="replace").split()[0]
                if sidecar.read_text().strip()
                else None
            )
        if expected is not None and expected.lower() != scan.sha256:
            raise FileRejected(
                f"checksum mismatch: expected sha256 {expected}, file has {scan.sha256}", file=path.name
            )
        if text and scan.lines <= 1 and fmt.name in ("csv", "psv"):
            self._emit("jobs.file_empty", severity="error", file=str(path), data_type=result.data_type)
            raise FileRejected("file has a header but no records", file=path.name)
        check.detail = {
            "sha256": scan.sha256,
            "bytes": scan.size,
            "lines": scan.lines,
            "gzip": scan.gzip,
            "checksum_verified": expected is not None,
        }
        check.status = "ok"
        check.seconds = time.perf_counter() - t0
        return scan, guard

    def _already_loaded(self, result: ImportResult, checksum: str) -> bool:
        import sqlalchemy as sa

        loads = job_tables()["loads"]
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(loads).where(
                    loads.c.data_type == result.data_type,
                    loads.c.source_key == result.source_key,
                    loads.c.destination == result.destination,
                    loads.c.status == "committed",
                )
            ).first()
        if row is None or row.checksum != checksum:
            return False
        result.status = "duplicate"
        result.load_id = row.load_id
        result.records = row.rows_source
        result.loaded = 0
        result.control_totals = {
            "note": f"identical delivery already loaded as load {row.load_id}; nothing changed"
        }
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
        self._emit(
            "jobs.manifest_restored",
            severity="warning",
            run_id=load.run_id,
            load_id=load.load_id,
            path=str(path),
        )
        return path
