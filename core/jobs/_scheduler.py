"""APScheduler 3 over the embedded store: cron, interval and one-off triggers, persisted across restarts.

Jobs are stored in the Database's SQL job store (SQLite by default, PostgreSQL to scale out) and run
a module-level dispatcher with the job id, which finds the live :class:`~portico.jobs.JobService` of
this process. "No job runs twice at once" holds across processes too: each run first takes a lease
row in ``portico_job_locks``, so two schedulers sharing one PostgreSQL store never overlap a job.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from portico._cron import cron_trigger
from portico.errors import ConfigurationError
from portico.jobs._tables import job_tables

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from portico.jobs._config import Trigger
    from portico.store import Database

__all__ = ["JobLock", "cron_trigger", "make_trigger", "owner_id"]

_INTERVAL_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def make_trigger(spec: Trigger) -> BaseTrigger:
    """The APScheduler trigger of a job's config."""
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if spec.schedule:
        return cron_trigger(spec.schedule, spec.timezone)
    if spec.interval_seconds:
        # fire times on a fixed grid (multiples of the interval since 2000-01-01): every process sharing
        # the store, and every restart, computes the same fire times, so a fire time is one claim
        return IntervalTrigger(seconds=spec.interval_seconds, timezone=spec.timezone, start_date=_INTERVAL_ORIGIN)
    if spec.run_at:
        return DateTrigger(run_date=spec.run_at, timezone=spec.timezone)
    raise ConfigurationError("a scheduled job needs schedule, interval_seconds or run_at", path="schedule")


def owner_id() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's lease: trust its expiry
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobLock:
    """A lease on one job id in the store, so a job never runs twice at once (across processes too).

    A lease whose owner process is gone (same host) or whose expiry has passed is taken over.
    """

    def __init__(self, db: Database, job_id: str, *, now: datetime, ttl: timedelta = timedelta(hours=6)) -> None:
        self.db = db
        self.job_id = job_id
        self.now = now
        self.ttl = ttl
        self.owner = owner_id()
        self.run_id = uuid.uuid4().hex
        self.held_by: str | None = None

    def acquire(self) -> bool:
        """Take the lease; False (with :attr:`held_by`) when a live run holds it."""
        import sqlalchemy as sa

        locks = job_tables()["locks"]
        with self.db.begin() as conn:
            row = conn.execute(sa.select(locks).where(locks.c.job_id == self.job_id).with_for_update()).first()
            if row is not None:
                expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=self.now.tzinfo)
                if expires > self.now and _owner_alive(row.owner):
                    self.held_by = row.owner
                    return False
                conn.execute(locks.delete().where(locks.c.job_id == self.job_id))
            try:
                conn.execute(locks.insert().values(job_id=self.job_id, owner=self.owner, run_id=self.run_id, expires_at=self.now + self.ttl))
            except sa.exc.IntegrityError:
                self.held_by = "another process"
                return False
        return True

    def release(self) -> None:
        """Give the lease back."""
        locks = job_tables()["locks"]
        with self.db.begin() as conn:
            conn.execute(locks.delete().where(locks.c.job_id == self.job_id, locks.c.run_id == self.run_id))


_SERVICES: dict[str, Any] = {}


def register_service(key: str, service: Any) -> None:
    """Make ``service`` the target of scheduled runs stored under ``key`` in this process."""
    _SERVICES[key] = service


def unregister_service(key: str) -> None:
    _SERVICES.pop(key, None)


def dispatch(service_key: str, job_id: str) -> None:
    """What APScheduler calls (by reference, so it survives in the persistent job store)."""
    service = _SERVICES.get(service_key) or next(iter(_SERVICES.values()), None)
    if service is None:
        return
    service._run_scheduled(job_id)


__all__ += ["dispatch", "register_service", "unregister_service"]
