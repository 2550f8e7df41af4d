"""Runtime events published to a message broker (RabbitMQ or NATS) for other processes to consume."""

from __future__ import annotations

from portico.events._bus import (
    AmqpEventSink,
    Event,
    EventPublisher,
    EventSink,
    MemoryEventSink,
    NatsEventSink,
    sink_for_url,
)

__all__ = [
    "AmqpEventSink",
    "Event",
    "EventPublisher",
    "EventSink",
    "MemoryEventSink",
    "NatsEventSink",
    "sink_for_url",
]
