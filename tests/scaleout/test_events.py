"""Events: stable id and schema version, the outbox relays until confirmed, consume handles each id once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from portico.clock import FakeClock
from portico.events import Event, MemoryEventSink, OutboxPublisher, consume
from portico.events._outbox import outbox_table
from portico.store import Database, metadata


class FlakySink(MemoryEventSink):
    """Refuses the first ``failures`` sends (a broker that is restarting)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def send(self, event: Event) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker restarting")
        await super().send(event)


def test_the_wire_form_carries_a_stable_id_and_schema_version_and_parses_back() -> None:
    event = Event(
        "order.filled", datetime(2026, 1, 5, 14, 30, tzinfo=UTC), system="alpaca", data={"qty": "5"}
    )
    raw = json.loads(event.to_json())
    assert raw["schema_version"] == 1 and raw["id"] == event.event_id and len(raw["id"]) == 32
    assert Event.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "event body is not JSON"),
        (b"[1]", "event body must be a JSON object, got list"),
        (
            b'{"schema_version": 2, "id": "x", "event": "a", "time": "2026-01-05T00:00:00+00:00"}',
            "schema_version: expected 1, got 2",
        ),
        (
            b'{"schema_version": 1, "event": "a", "time": "2026-01-05T00:00:00+00:00"}',
            "id: expected a non-empty string, got None",
        ),
        (
            b'{"schema_version": 1, "id": "x", "event": "a", "time": "yesterday"}',
            "time: expected an ISO 8601 timestamp, got 'yesterday'",
        ),
    ],
)
def test_a_bad_body_is_refused_with_what_was_wrong(body: bytes, message: str) -> None:
    with pytest.raises(
        ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        Event.from_json(body)


async def test_the_outbox_keeps_every_event_while_the_broker_refuses_and_sends_them_in_order() -> None:
    db = Database()
    sink = FlakySink(failures=3)
    publisher = OutboxPublisher(sink, db, clock=FakeClock(), retry_seconds=0.001)
    sent = [publisher.publish("order.placed", system="alpaca", n=i) for i in range(10)]
    assert publisher.pending == 10  # committed before any send
    await publisher.flush(timeout=10)
    assert publisher.pending == 0
    assert [e.event_id for e in sink.events] == [e.event_id for e in sent]
    assert publisher.failed == 3 and publisher.published == 10
    outbox = outbox_table()
    with db.begin() as conn:
        attempts = conn.execute(sa.select(outbox.c.attempts).order_by(outbox.c.seq)).scalars().all()
    assert attempts == [3] + [0] * 9  # the first row took the three refusals
    await publisher.aclose()


async def test_an_event_the_store_refuses_is_counted_dropped_not_raised(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    publisher = OutboxPublisher(MemoryEventSink(), db)
    with db.begin() as conn:
        conn.execute(sa.text("DROP TABLE portico_event_outbox"))
    publisher.publish("order.placed")
    assert publisher.dropped == 1 and publisher.last_error is not None and "outbox" in publisher.last_error


# -- RabbitMQ ------------------------------------------------------------------------------------------


async def _published(url: str, exchange: str, bodies: list[bytes], key: str = "order.filled") -> None:
    import aio_pika

    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        for body in bodies:
            await ex.publish(
                aio_pika.Message(body=body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=key
            )


async def _dlq_bodies(url: str, queue: str) -> list[bytes]:
    import aio_pika

    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(f"{queue}.dlq", durable=True)
        out = []
        while (message := await dlq.get(fail=False, timeout=5)) is not None:
            out.append(message.body)
            await message.ack()
        return out


async def _cleanup(url: str, exchange: str, queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dlq"):
            await channel.queue_delete(name)
        for name in (exchange, f"{exchange}.dlx"):
            await channel.exchange_delete(name)


@pytest.mark.timeout(60)
async def test_duplicates_are_handled_once_and_poison_goes_to_the_dead_letter_queue(
    amqp_url: str, pg_db: Database, prefix: str
) -> None:
    from portico.events import AmqpEventSink

    exchange, queue = f"{prefix}.events", f"{prefix}.orders"
    received = sa.Table(
        f"{prefix.replace('-', '_')}_received",
        metadata(),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64)),
    )
    pg_db.ensure_tables(received)
    calls: list[str] = []

    def handler(event: Event, conn: Any) -> None:
        calls.append(event.event_id)
        if event.data.get("poison"):
            raise RuntimeError("cannot book this one")
        conn.execute(received.insert().values(event_id=event.event_id, name=event.name))

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            amqp_url,
            queue,
            handler,
            db=pg_db,
            stop=stop,
            exchange=exchange,
            bindings=["order.*"],
            transactional=True,
            max_attempts=3,
        )
    )
    try:
        publisher = OutboxPublisher(AmqpEventSink(amqp_url, exchange), pg_db)
        await asyncio.sleep(0)  # the consumer declares its queue before the first publish
        from portico.testing import wait_for_async

        await wait_for_async(lambda: _queue_exists(amqp_url, queue), timeout=20, interval=0.1)
        events = [publisher.publish("order.filled", n=i) for i in range(20)]
        poison = publisher.publish("order.filled", poison=True)
        await publisher.flush(timeout=20)
        # a relay that died between the confirm and its mark sends the rows again
        outbox = outbox_table()
        with pg_db.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.event_id.in_([e.event_id for e in events[:5]]))
                .values(sent_at=None)
            )
        await publisher.flush(timeout=20)
        await _published(amqp_url, exchange, [b"{not json"])
        ids = {e.event_id for e in events}

        def booked() -> set[str]:
            with pg_db.begin() as conn:
                return set(conn.execute(sa.select(received.c.event_id)).scalars())

        await wait_for_async(lambda: booked() == ids and calls.count(poison.event_id) == 3, timeout=30)
        await publisher.aclose()
    finally:
        stop.set()
        stats = await asyncio.wait_for(task, 20)
    assert stats.handled == 20 and stats.duplicates == 5 and stats.dead_lettered == 2 and stats.retried == 2
    assert sorted(calls.count(i) for i in ids) == [1] * 20  # the duplicates never reached the handler
    dead = await _dlq_bodies(amqp_url, queue)
    assert sorted(dead) == sorted([b"{not json", _body_of(pg_db, poison.event_id)])
    await _cleanup(amqp_url, exchange, queue)


def _body_of(db: Database, event_id: str) -> bytes:
    outbox = outbox_table()
    with db.begin() as conn:
        return (
            conn.execute(sa.select(outbox.c.body).where(outbox.c.event_id == event_id)).scalar_one().encode()
        )


async def _queue_exists(url: str, queue: str) -> bool:
    import aio_pika

    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(queue, passive=True)
        except Exception:
            return False
        return True
