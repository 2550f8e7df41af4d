"""Runtime events published to a message broker (RabbitMQ or NATS) for other processes to consume."""

from __future__ import annotations

from portico.events._bus import (
    SCHEMA_VERSION,
    AmqpEventSink,
    Event,
    EventPublisher,
    EventSink,
    MemoryEventSink,
    NatsEventSink,
    sink_for_url,
)
from portico.events._consume import ConsumeStats, consume, declare_queue
from portico.events._outbox import OutboxPublisher

__all__ = [
    "SCHEMA_VERSION",
    "AmqpEventSink",
    "ConsumeStats",
    "Event",
    "EventPublisher",
    "EventSink",
    "MemoryEventSink",
    "NatsEventSink",
    "OutboxPublisher",
    "consume",
    "declare_queue",
    "sink_for_url",
]
