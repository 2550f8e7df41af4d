"""Each scheduled fire time runs once across every process sharing one store, and a dead runner's fire is retried.

APScheduler 3 over a shared SQL job store lets every scheduler see a due job: two processes that wake up
together would both run it (the :class:`~portico.jobs._scheduler.JobLock` only stops them overlapping).
So each fire time is *claimed* first: :class:`FireLedger` inserts ``(job_id, fire_time)`` into
``portico_job_fires`` (its primary key), and only the process whose insert succeeds runs it.
:class:`ClaimingExecutor` is APScheduler's thread-pool executor with that claim in front of every
submission and the outcome (``done``, ``missed``, ``failed``) written back from APScheduler's own events.

A claim is a lease: the owning process renews ``lease_until`` while it runs, and every process sweeps
(:meth:`FireLedger.orphans`) for claims still ``running`` whose owner is gone (same host: its pid no
longer exists) or whose lease ran out (another host stopped renewing). Such a fire is taken over by one
sweeper (a conditional update, so two sweepers never both win) and run again; the job's own idempotency
(an import's checksum ledger, an order's idempotency key) keeps its result single.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.executors.base import MaxInstancesReachedError
from apscheduler.executors.pool import ThreadPoolExecutor

from portico.jobs._scheduler import _owner_alive, owner_id
from portico.store import metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["ClaimingExecutor", "FireLedger", "OrphanFire", "fires_table"]

_STATUS = {EVENT_JOB_EXECUTED: "done", EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "failed"}


def fires_table() -> sa.Table:
    """``portico_job_fires``: one row per claimed fire time."""
    import sqlalchemy as sa

    md = metadata()
    if "portico_job_fires" in md.tables:
        return md.tables["portico_job_fires"]
    return sa.Table(
        "portico_job_fires",
        md,
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("fire_time", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=1),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Index("ix_portico_job_fires_status", "status"),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class OrphanFire:
    """A fire taken over from a dead runner."""

    job_id: str
    fire_time: datetime
    previous_owner: str
    attempts: int


class FireLedger:
    """Claims fire times in the store, renews this process's leases, and takes over orphaned ones.

    Args:
        db: the shared store.
        clock: lease times (the service's clock).
        lease: how long a claim stays valid without renewal (the sweep renews every third of it).
        owner: this process (default ``host:pid``).
    """

    def __init__(
        self, db: Database, *, clock: Any, lease: timedelta = timedelta(seconds=30), owner: str | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.lease = lease
        self.owner = owner or owner_id()
        db.ensure_tables(fires_table())

    def claim(self, job_id: str, fire_time: datetime) -> bool:
        """Claim one fire time; False when another process already has it."""
        import sqlalchemy as sa

        fires = fires_table()
        now = self.clock.now()
        try:
            with self.db.begin() as conn:
                conn.execute(
                    fires.insert().values(
                        job_id=job_id,
                        fire_time=_utc(fire_time),
                        owner=self.owner,
                        status="running",
                        attempts=1,
                        lease_until=now + self.lease,
                        claimed_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def finish(self, job_id: str, fire_time: datetime, status: str) -> None:
        """Record a claimed fire's outcome (``done``, ``missed``, ``failed``)."""
        fires = fires_table()
        with self.db.begin() as conn:
            conn.execute(
                fires.update()
                .where(
                    fires.c.job_id == job_id,
                    fires.c.fire_time == _utc(fire_time),
                    fires.c.owner == self.owner,
                )
                .values(status=status, finished_at=self.clock.now())
            )

    def renew(self) -> int:
        """Extend the lease of every fire this process is running; returns how many."""
        fires = fires_table()
        with self.db.begin() as conn:
            result = conn.execute(
                fires.update()
                .where(fires.c.owner == self.owner, fires.c.status == "running")
                .values(lease_until=self.clock.now() + self.lease)
            )
        return int(result.rowcount or 0)

    def orphans(self, *, max_attempts: int = 3) -> list[OrphanFire]:
        """Take over the running fires whose owner died or stopped renewing; each is won by one process.

        A fire already retried ``max_attempts`` times is marked ``abandoned`` instead (a job that kills its
        process every time must not kill the whole fleet in turn).
        """
        import sqlalchemy as sa

        fires = fires_table()
        now = self.clock.now()
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(
                    fires.c.job_id, fires.c.fire_time, fires.c.owner, fires.c.attempts, fires.c.lease_until
                ).where(fires.c.status == "running", fires.c.owner != self.owner)
            ).all()
        taken: list[OrphanFire] = []
        for row in rows:
            expired = _utc(row.lease_until) <= now
            if not expired and _owner_alive(row.owner):
                continue
            gone = (
                fires.c.job_id == row.job_id,
                fires.c.fire_time == row.fire_time,
                fires.c.owner == row.owner,
            )
            with self.db.begin() as conn:
                if row.attempts >= max_attempts:
                    conn.execute(
                        fires.update()
                        .where(*gone, fires.c.status == "running")
                        .values(status="abandoned", finished_at=now)
                    )
                    continue
                won = conn.execute(
                    fires.update()
                    .where(*gone, fires.c.status == "running")
                    .values(
                        owner=self.owner,
                        attempts=row.attempts + 1,
                        lease_until=now + self.lease,
                        claimed_at=now,
                    )
                ).rowcount
            if won:
                taken.append(OrphanFire(row.job_id, _utc(row.fire_time), row.owner, row.attempts + 1))
        return taken


class ClaimingExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool, running a fire time only when this process claims it in the ledger."""

    def __init__(self, ledger: FireLedger, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self.ledger = ledger
        self.skipped = 0
        self._claims_lock = threading.Lock()

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        mine = [t for t in run_times if self.ledger.claim(job.id, t)]
        with self._claims_lock:
            self.skipped += len(run_times) - len(mine)
        if not mine:
            return
        try:
            super().submit_job(job, mine)
        except MaxInstancesReachedError:
            # still running here from an earlier fire: these fire times are skipped, not left claimed
            for fire_time in mine:
                self.ledger.finish(job.id, fire_time, "skipped")
            raise

    def _run_job_success(self, job_id: str, events: list[Any]) -> None:
        for event in events:
            status = _STATUS.get(event.code)
            if status is not None:
                try:
                    self.ledger.finish(job_id, event.scheduled_run_time, status)
                except Exception:  # the store is down: the lease runs out and another process retries
                    self._logger.exception(
                        "cannot record the outcome of %s at %s", job_id, event.scheduled_run_time
                    )
        super()._run_job_success(job_id, events)
