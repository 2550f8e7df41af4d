"""The event outbox: every event is committed to the store before it is sent, and sent until confirmed.

:class:`OutboxPublisher` has :class:`~portico.events.EventPublisher`'s interface. ``publish`` writes the
event to ``portico_event_outbox`` in its own committed transaction and wakes a relay task; the relay
sends unsent rows in order through the sink (RabbitMQ with publisher confirms: a row is marked sent only
after the broker confirmed it) and marks them. A broker that is down or restarting only delays events:
the rows stay and are retried with backoff. A process killed between the confirm and the mark sends the
row again from whichever process relays next, so delivery is at-least-once with a stable event id, which
:func:`~portico.events.consume` deduplicates on.

Several processes share one outbox on PostgreSQL: each relay claims rows with ``FOR UPDATE SKIP
LOCKED``, so two relays never send the same batch at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.events._bus import Event, EventSink
from portico.store import metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["OutboxPublisher", "outbox_table"]


def outbox_table() -> sa.Table:
    """``portico_event_outbox``: one row per event, ``sent_at`` set once the broker confirmed it."""
    import sqlalchemy as sa

    md = metadata()
    if "portico_event_outbox" in md.tables:
        return md.tables["portico_event_outbox"]
    return sa.Table(
        "portico_event_outbox",
        md,
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text),
        sa.Index("ix_portico_event_outbox_unsent", "sent_at", "seq"),
    )


class OutboxPublisher:
    """Events through the store's outbox to a broker.

    Args:
        sink: the broker.
        db: the store (PostgreSQL to share one outbox between processes).
        clock: stamps events.
        redact: applied to each event's data before it is stored (the monitor's redactor).
        batch: rows sent per relay round.
        poll_seconds: how often an idle relay looks for rows other processes left behind.
        retry_seconds: the first wait after a failed send (doubling up to ``max_retry_seconds``).
        retention: how long sent rows are kept before they are pruned.
    """

    def __init__(
        self,
        sink: EventSink,
        db: Database,
        *,
        clock: Clock | None = None,
        redact: Callable[[Any], Any] | None = None,
        batch: int = 200,
        poll_seconds: float = 2.0,
        retry_seconds: float = 0.5,
        max_retry_seconds: float = 15.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.sink = sink
        self.db = db
        self.clock = clock or system_clock
        self.redact = redact
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.retention = retention
        self.published = 0
        self.dropped = 0
        self.failed = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._pruned_at: datetime | None = None
        db.ensure_tables(outbox_table())

    def publish(self, name: str, *, system: str | None = None, severity: str = "info", **data: Any) -> Event:
        """Commit the event to the outbox and wake the relay; never raises (a store failure is counted)."""
        if self.redact is not None:
            data = self.redact(data)
        event = Event(
            name=name,
            time=self.clock.now(),
            system=system,
            severity=severity,
            correlation_id=current_correlation_id(),
            data=data,
        )
        outbox = outbox_table()
        try:
            with self.db.begin() as conn:
                conn.execute(
                    outbox.insert().values(
                        event_id=event.event_id,
                        name=name,
                        body=event.to_json().decode(),
                        created_at=event.time,
                        attempts=0,
                    )
                )
        except Exception as exc:
            self.dropped += 1
            self.last_error = f"outbox: {type(exc).__name__}: {exc}"
            return event
        self._kick()
        return event

    def _kick(self) -> None:
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            if self._wake is None:
                self._wake = asyncio.Event()
            self._wake.set()
            if not self._closing and (self._task is None or self._task.done()):
                self._task = loop.create_task(self._relay_forever(), name="portico-event-outbox")

    def start(self) -> None:
        """Start the relay (it also starts on the first publish): rows left by a stopped process go out."""
        self._kick()

    @property
    def pending(self) -> int:
        """Events in the outbox not yet confirmed by the broker (from every process sharing the store)."""
        import sqlalchemy as sa

        outbox = outbox_table()
        with self.db.begin() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                ).scalar_one()
            )

    async def relay_once(self) -> int:
        """Send one batch of unsent rows, oldest first; returns how many the broker confirmed.

        Raises:
            Exception: the sink's error, after the rows confirmed before it are marked sent.
        """
        import sqlalchemy as sa

        outbox = outbox_table()
        query = (
            sa.select(outbox.c.seq, outbox.c.body)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(self.batch)
        )
        if self.db.is_sqlite:
            # one process per SQLite file: no row locks to hold, and a read transaction kept open across
            # the sends would be refused the write that marks them
            with self.db.begin() as conn:
                rows = conn.execute(query).all()
            sent, failure = await self._send(rows)
            with self.db.begin() as conn:
                self._mark(conn, sent, failure)
        else:
            # rows claimed by another process's relay are skipped, not waited for
            with self.db.begin() as conn:
                rows = conn.execute(query.with_for_update(skip_locked=True)).all()
                sent, failure = await self._send(rows)
                self._mark(conn, sent, failure)
        self.published += len(sent)
        self._prune()
        if failure is not None:
            raise failure[1]
        return len(sent)

    async def _send(self, rows: Sequence[Any]) -> tuple[list[int], tuple[int, Exception] | None]:
        sent: list[int] = []
        for row in rows:
            try:
                await self.sink.send(Event.from_json(row.body))
            except Exception as exc:
                return sent, (row.seq, exc)
            sent.append(row.seq)
        return sent, None

    def _mark(self, conn: Any, sent: list[int], failure: tuple[int, Exception] | None) -> None:
        outbox = outbox_table()
        if sent:
            conn.execute(outbox.update().where(outbox.c.seq.in_(sent)).values(sent_at=self.clock.now()))
        if failure is not None:
            seq, exc = failure
            conn.execute(
                outbox.update()
                .where(outbox.c.seq == seq)
                .values(attempts=outbox.c.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:500])
            )

    def _prune(self) -> None:
        now = self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < timedelta(minutes=1):
            return
        self._pruned_at = now
        outbox = outbox_table()
        with contextlib.suppress(Exception), self.db.begin() as conn:
            conn.execute(
                outbox.delete().where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < now - self.retention)
            )

    async def _relay_forever(self) -> None:
        delay = self.retry_seconds
        assert self._wake is not None
        while True:
            try:
                count = await self.relay_once()
                delay = self.retry_seconds
                self.last_error = None if count else self.last_error
            except Exception as exc:
                self.failed += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._closing:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_seconds)
                continue
            if count:
                continue
            if self._closing:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until the outbox holds no unsent event (or ``timeout`` seconds passed: they stay for later)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.pending and loop.time() < deadline:
            try:
                if not await self.relay_once():
                    await asyncio.sleep(0.05)
            except Exception as exc:
                self.failed += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(min(self.retry_seconds, max(0.0, deadline - loop.time())))

    async def aclose(self) -> None:
        """Send what can be sent within a few seconds, stop the relay, close the sink (unsent rows stay)."""
        with contextlib.suppress(Exception):
            await self.flush(timeout=5.0)
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.sink.aclose()

    def __repr__(self) -> str:
        return f"OutboxPublisher({self.sink!r}, {self.db!r})"
