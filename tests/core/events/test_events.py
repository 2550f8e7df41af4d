"""Runtime events reach real brokers: RabbitMQ (topic exchange) and NATS (subjects)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest

from portico.context import correlation_scope
from portico.errors import ConfigurationError
from portico.events import AmqpEventSink, EventPublisher, MemoryEventSink, NatsEventSink, sink_for_url
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from tests.core.foundation.fakes import FakeBroker, plugin_with

AMQP_URL = os.environ.get("PORTICO_TEST_AMQP_URL")
NATS_URL = os.environ.get("PORTICO_TEST_NATS_URL")


async def test_publisher_stamps_correlation_and_flushes(fake_clock) -> None:
    sink = MemoryEventSink()
    publisher = EventPublisher(sink, clock=fake_clock)
    with correlation_scope("corr-1"):
        publisher.publish("order.filled", system="alpaca", order_id="o1")
    await publisher.flush()
    [event] = sink.events
    assert (event.name, event.system, event.correlation_id, event.data) == ("order.filled", "alpaca", "corr-1", {"order_id": "o1"})
    assert event.time == fake_clock.now()
    assert json.loads(event.to_json())["event"] == "order.filled"


async def test_full_queue_drops_and_counts_never_blocks() -> None:
    publisher = EventPublisher(MemoryEventSink(), capacity=3)
    for i in range(10):
        publisher.publish("tick", n=i)
    assert publisher.dropped == 7
    await publisher.flush()
    assert publisher.published == 3


async def test_broker_failure_is_counted_not_raised() -> None:
    class Broken(MemoryEventSink):
        async def send(self, event):
            raise ConnectionError("broker down")

    publisher = EventPublisher(Broken())
    publisher.publish("x")
    await publisher.flush()
    assert publisher.failed == 1 and "broker down" in (publisher.last_error or "")


def test_sink_for_url_and_repr_hides_password() -> None:
    sink = sink_for_url("amqp://guest:s3cret@127.0.0.1:5672/")
    assert isinstance(sink, AmqpEventSink) and "s3cret" not in repr(sink)
    assert isinstance(sink_for_url("nats://127.0.0.1:4222"), NatsEventSink)
    with pytest.raises(ConfigurationError, match="scale_out.events_url"):
        sink_for_url("kafka://x")


@pytest.mark.rabbitmq
@pytest.mark.skipif(not AMQP_URL, reason="set PORTICO_TEST_AMQP_URL to run against RabbitMQ")
async def test_runtime_events_reach_rabbitmq() -> None:
    import aio_pika

    exchange_name = f"portico.test.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="system.#")

        pm = PluginManager(autoload=False)
        pm.register(plugin_with(FakeBroker), name="fakes")
        config = {
            "systems": {"fake": {"type": "brokerage", "connector": "fakebroker"}},
            "scale_out": {"events_url": AMQP_URL, "events_exchange": exchange_name},
        }
        integration = AsyncIntegration(config, plugins=pm)
        with correlation_scope("corr-amqp"):
            integration._emit("system.probe", system="fake", detail="hello")
        await integration.start()
        await integration.events.flush()
        await integration.stop()

        received = []
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    received.append((message.routing_key, message.correlation_id, json.loads(message.body)))
                if {r[0] for r in received} >= {"system.probe", "system.connected"}:
                    break
        by_key = {r[0]: r for r in received}
        assert by_key["system.probe"][1] == "corr-amqp"
        assert by_key["system.probe"][2]["data"] == {"detail": "hello"}
        assert by_key["system.connected"][2]["system"] == "fake"
        await exchange.delete()
    finally:
        await connection.close()


@pytest.mark.nats
@pytest.mark.skipif(not NATS_URL, reason="set PORTICO_TEST_NATS_URL to run against NATS")
async def test_events_reach_nats() -> None:
    import nats

    prefix = f"portico.test.{uuid.uuid4().hex[:8]}"
    client = await nats.connect(NATS_URL)
    try:
        got: asyncio.Queue = asyncio.Queue()

        async def on_message(msg):
            await got.put((msg.subject, msg.headers, json.loads(msg.data)))

        await client.subscribe(f"{prefix}.>", cb=on_message)
        await client.flush()
        publisher = EventPublisher(NatsEventSink(NATS_URL, prefix))
        with correlation_scope("corr-nats"):
            publisher.publish("order.filled", system="alpaca", order_id="o9")
        await publisher.aclose()
        subject, headers, body = await asyncio.wait_for(got.get(), 10)
        assert subject == f"{prefix}.order.filled"
        assert headers["Correlation-Id"] == "corr-nats"
        assert body["data"] == {"order_id": "o9"}
    finally:
        await client.close()
