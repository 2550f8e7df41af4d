"""File watches: is the expected file of a watch here, late or missing, and what that emits.

:class:`FileWatching` is that part of :class:`~portico.jobs.JobService`.
"""

from __future__ import annotations

import glob
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from portico.errors import ConfigurationError
from portico.jobs._config import (
    FileWatch,
)
from portico.jobs._service_parts import JobServiceParts
from portico.jobs._tables import job_tables

__all__ = ["FileWatching"]


class FileWatching(JobServiceParts):
    """The jobs service's file watches (a part of :class:`~portico.jobs.JobService`)."""

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
            row = (
                conn.execute(sa.select(table).where(table.c.watch_id == watch.id, table.c.period == period))
                .mappings()
                .first()
            )
        state = row["state"] if row else "waiting"
        if state in ("loaded", "partial", "failed", "empty", "duplicate"):
            return state
        pattern = watch.path.replace("{date}", day.strftime("%Y%m%d"))
        pulled = self.feed.pull(pattern, f"watch:{watch.id}") if pattern.startswith("sftp://") else []
        files = (
            [str(p.local_path) for p in pulled]
            if pattern.startswith("sftp://")
            else sorted(glob.glob(pattern))
        )
        deadline = datetime.combine(day, watch.deadline, tzinfo=tz)
        if files:
            path = Path(files[-1])
            if path.stat().st_size == 0:
                new_state = "empty"
                self._emit("jobs.file_empty", severity="error", watch=watch.id, file=str(path))
            elif pulled:
                result = self.feed.import_pulled(
                    pulled[-1],
                    watch.data_type,
                    self._watch_params(watch),
                    lambda p, dt, params: self._import_file(p, dt, params),
                )
                new_state = result.status if result.status != "dry_run" else "loaded"
                source = self.feed.source(f"watch:{watch.id}")
                for file in pulled:
                    source.mark(file, result.status if file is pulled[-1] else "superseded")
            else:
                result = self._import_file(str(path), watch.data_type, self._watch_params(watch))
                new_state = result.status if result.status != "dry_run" else "loaded"
            if now > deadline and state == "waiting":
                self._emit(
                    "jobs.file_late",
                    severity="warning",
                    watch=watch.id,
                    file=str(path),
                    deadline=deadline.isoformat(),
                    arrived_by=now.isoformat(),
                )
        elif now > deadline + timedelta(minutes=watch.missing_after_minutes):
            new_state = "missing"
            if state != "missing":
                self._emit(
                    "jobs.file_missing",
                    severity="critical",
                    watch=watch.id,
                    pattern=pattern,
                    deadline=deadline.isoformat(),
                    late_minutes=int((now - deadline).total_seconds() // 60),
                )
        elif now > deadline:
            new_state = "late"
            if state not in ("late", "missing"):
                self._emit(
                    "jobs.file_late",
                    severity="warning",
                    watch=watch.id,
                    pattern=pattern,
                    deadline=deadline.isoformat(),
                )
        else:
            new_state = "waiting"
        self._save_watch(watch, period, new_state, str(files[-1]) if files else None)
        return new_state

    def _watch_params(self, watch: FileWatch) -> dict[str, Any]:
        params: dict[str, Any] = {
            "destination": watch.destination,
            "feed": f"watch:{watch.id}",
            "row_change_tolerance": watch.row_change_tolerance,
        }
        if watch.format:
            params["format"] = watch.format
        if watch.mapping:
            params["mapping"] = watch.mapping
        return params

    def _save_watch(self, watch: FileWatch, period: str, state: str, file: str | None) -> None:

        table = job_tables()["watch"]
        with self.db.begin() as conn:
            conn.execute(table.delete().where(table.c.watch_id == watch.id, table.c.period == period))
            conn.execute(
                table.insert().values(
                    watch_id=watch.id, period=period, state=state, file=file, updated_at=self.clock.now()
                )
            )
