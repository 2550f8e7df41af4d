"""``portico.events.consume``: at-least-once delivery from RabbitMQ, handled once per event id, poison to a DLQ.

The queue is durable and bound to the events exchange; messages are acknowledged only after the handler
succeeded and the event id is recorded in ``portico_event_consumed`` (keyed by consumer name and event
id, in the store), so a message redelivered after a crash, a broker restart or a duplicate publish is
recognised and acknowledged without calling the handler again.

With ``transactional=True`` the handler is called as ``handler(event, conn)`` inside the very
transaction that records the event id: what it writes to the store and the "handled" mark commit
together, so its effect happens exactly once even when the process dies at any moment.

A message that cannot be parsed (not JSON, no id, an unknown ``schema_version``) goes straight to the
dead-letter queue ``<queue>.dlq``; one whose handler keeps failing goes there after ``max_attempts``
(attempts are counted in the store, so they add up across processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.clock import system_clock
from portico.events._bus import Event
from portico.store import metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["ConsumeStats", "consume", "consumed_table", "declare_queue"]

Handler = Callable[..., Awaitable[Any] | Any]


def consumed_table() -> sa.Table:
    """``portico_event_consumed``: the events each consumer has handled (or is failing on)."""
    import sqlalchemy as sa

    md = metadata()
    if "portico_event_consumed" in md.tables:
        return md.tables["portico_event_consumed"]
    return sa.Table(
        "portico_event_consumed",
        md,
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


@dataclass
class ConsumeStats:
    """What one :func:`consume` call did."""

    handled: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0


async def declare_queue(
    channel: Any, queue: str, *, exchange: str = "portico.events", bindings: Sequence[str] = ("#",)
) -> Any:
    """Declare the durable queue bound to ``exchange`` for ``bindings``, its dead-letter exchange and ``<queue>.dlq``."""
    import aio_pika

    events = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(f"{exchange}.dlx", aio_pika.ExchangeType.DIRECT, durable=True)
    dlq = await channel.declare_queue(f"{queue}.dlq", durable=True)
    await dlq.bind(dlx, routing_key=queue)
    declared = await channel.declare_queue(
        queue,
        durable=True,
        arguments={"x-dead-letter-exchange": f"{exchange}.dlx", "x-dead-letter-routing-key": queue},
    )
    for key in bindings:
        await declared.bind(events, routing_key=key)
    return declared


async def consume(
    url: str,
    queue: str,
    handler: Handler,
    *,
    db: Database,
    stop: asyncio.Event,
    exchange: str = "portico.events",
    bindings: Sequence[str] = ("#",),
    consumer: str | None = None,
    transactional: bool = False,
    max_attempts: int = 5,
    prefetch: int = 32,
    clock: Any = None,
) -> ConsumeStats:
    """Consume events from ``queue`` until ``stop`` is set; returns what was done.

    Args:
        url: the RabbitMQ URL (``amqp://user:pass@host:5672/vhost``).
        queue: the durable queue (shared by every process of one consumer: they split its messages).
        handler: ``async handler(event)`` (or sync); with ``transactional``, ``handler(event, conn)`` (sync).
        db: the store that remembers handled event ids (PostgreSQL for consumers in several processes).
        stop: set it to stop consuming (unacknowledged messages go back to the queue).
        exchange: the topic exchange the runtime publishes to (``scale_out.events_exchange``).
        bindings: routing keys to bind (``order.*``, ``jobs.#``...).
        consumer: the name handled ids are kept under (default: the queue's name).
        transactional: run the handler inside the transaction that records the event id.
        max_attempts: failures of one event before it is dead-lettered.
        prefetch: unacknowledged messages in flight per process.
        clock: stamps the records (default: the system clock).
    """
    import aio_pika

    name = consumer or queue
    clock = clock or system_clock
    table = consumed_table()
    db.ensure_tables(table)
    stats = ConsumeStats()
    wants_conn = transactional

    def handled_before(event_id: str) -> bool:
        import sqlalchemy as sa

        with db.begin() as conn:
            status = conn.execute(
                sa.select(table.c.status).where(table.c.consumer == name, table.c.event_id == event_id)
            ).scalar_one_or_none()
        return status == "done"

    def mark_done(conn: Any, event_id: str) -> bool:
        """Record the event as handled; False when another delivery already did."""
        import sqlalchemy as sa

        now = clock.now()
        updated = conn.execute(
            table.update()
            .where(table.c.consumer == name, table.c.event_id == event_id, table.c.status != "done")
            .values(status="done", updated_at=now)
        ).rowcount
        if updated:
            return True
        try:
            with conn.begin_nested():
                conn.execute(
                    table.insert().values(
                        consumer=name, event_id=event_id, status="done", attempts=0, updated_at=now
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def record_failure(event_id: str, error: str) -> int:
        import sqlalchemy as sa

        now = clock.now()
        with db.begin() as conn:
            row = conn.execute(
                sa.select(table.c.attempts)
                .where(table.c.consumer == name, table.c.event_id == event_id)
                .with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            table.insert().values(
                                consumer=name,
                                event_id=event_id,
                                status="failing",
                                attempts=1,
                                last_error=error,
                                updated_at=now,
                            )
                        )
                    return 1
                except sa.exc.IntegrityError:
                    row = conn.execute(
                        sa.select(table.c.attempts).where(
                            table.c.consumer == name, table.c.event_id == event_id
                        )
                    ).first()
            attempts = int(row.attempts if row is not None else 0) + 1
            conn.execute(
                table.update()
                .where(table.c.consumer == name, table.c.event_id == event_id, table.c.status != "done")
                .values(attempts=attempts, last_error=error, updated_at=now)
            )
        return attempts

    async def on_message(message: Any) -> None:
        try:
            event = Event.from_json(message.body)
        except ValueError:
            stats.dead_lettered += 1
            await message.reject(requeue=False)
            return
        if handled_before(event.event_id):
            stats.duplicates += 1
            await message.ack()
            return
        try:
            if wants_conn:
                with db.begin() as conn:
                    if not mark_done(conn, event.event_id):
                        first = False
                    else:
                        handler(event, conn)
                        first = True
            else:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
                with db.begin() as conn:
                    first = mark_done(conn, event.event_id)
        except Exception as exc:
            attempts = record_failure(event.event_id, f"{type(exc).__name__}: {exc}"[:500])
            if attempts >= max_attempts:
                stats.dead_lettered += 1
                await message.reject(requeue=False)
            else:
                stats.retried += 1
                await message.nack(requeue=True)
            return
        if first:
            stats.handled += 1
        else:
            stats.duplicates += 1
        await message.ack()

    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        declared = await declare_queue(channel, queue, exchange=exchange, bindings=bindings)
        tag = await declared.consume(on_message)
        await stop.wait()
        with contextlib.suppress(Exception):
            await declared.cancel(tag)
    finally:
        await connection.close()
    return stats
