"""Runtime events, published to a message broker so other processes (and people) can react.

The runtime emits events synchronously from anywhere (``system.connected``, ``order.filled``,
``marketdata.fallback``...). :class:`EventPublisher` puts each one on a bounded queue and a background
task sends them to the broker, so a slow or absent broker never blocks a trade; what cannot be queued
is counted as dropped, never silently lost.

Backends: :class:`MemoryEventSink` (in-process subscribers), :class:`AmqpEventSink` (RabbitMQ topic
exchange, persistent messages, publisher confirms) and :class:`NatsEventSink` (NATS subjects).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.errors import ConfigurationError

__all__ = [
    "AmqpEventSink",
    "Event",
    "EventPublisher",
    "EventSink",
    "MemoryEventSink",
    "NatsEventSink",
    "sink_for_url",
]


SCHEMA_VERSION = 1
"""The version of the event wire form; a consumer refuses (dead-letters) a version it does not know."""


@dataclass(frozen=True)
class Event:
    """One runtime event.

    Attributes:
        event_id: stable across every delivery of the event (a consumer deduplicates on it).
        schema_version: the wire form's version (:data:`SCHEMA_VERSION`).
    """

    name: str
    time: datetime
    system: str | None = None
    severity: str = "info"
    correlation_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> bytes:
        """The wire form: one JSON object."""
        return json.dumps(
            {
                "id": self.event_id,
                "schema_version": self.schema_version,
                "event": self.name,
                "time": self.time.isoformat(),
                "system": self.system,
                "severity": self.severity,
                "correlation_id": self.correlation_id,
                "data": self.data,
            },
            default=str,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> Event:
        """Parse the wire form.

        Raises:
            ValueError: not JSON, a field missing or of the wrong type, or an unknown schema version
                (the message says which).
        """
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"event body is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"event body must be a JSON object, got {type(raw).__name__}")
        version = raw.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema_version: expected {SCHEMA_VERSION}, got {version!r}")
        for key in ("id", "event", "time"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ValueError(f"{key}: expected a non-empty string, got {raw.get(key)!r}")
        if not isinstance(raw.get("data", {}), dict):
            raise ValueError(f"data: expected an object, got {type(raw['data']).__name__}")
        try:
            time = datetime.fromisoformat(raw["time"])
        except ValueError:
            raise ValueError(f"time: expected an ISO 8601 timestamp, got {raw['time']!r}") from None
        return cls(
            name=raw["event"],
            time=time,
            system=raw.get("system"),
            severity=str(raw.get("severity") or "info"),
            correlation_id=raw.get("correlation_id"),
            data=raw.get("data") or {},
            event_id=raw["id"],
            schema_version=version,
        )


class EventSink(Protocol):
    """Where events go. ``send`` may raise; the publisher counts the failure and keeps going."""

    async def send(self, event: Event) -> None: ...

    async def aclose(self) -> None: ...


class MemoryEventSink:
    """Keeps events in memory and calls subscribers (tests, and single-process apps)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._subscribers: list[Callable[[Event], Any]] = []

    def subscribe(self, callback: Callable[[Event], Any]) -> Callable[[], None]:
        """Call ``callback`` for every event; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    async def send(self, event: Event) -> None:
        self.events.append(event)
        for callback in list(self._subscribers):
            result = callback(event)
            if asyncio.iscoroutine(result):
                await result

    async def aclose(self) -> None:
        return None


class AmqpEventSink:
    """Publishes to a RabbitMQ topic exchange; the routing key is the event name (``order.filled``).

    Messages are persistent JSON with the correlation id set, sent with publisher confirms, so an event
    the broker acknowledged survives a broker restart.

    Args:
        url: ``amqp://user:pass@host:5672/vhost``.
        exchange: the durable topic exchange to declare and publish to.
    """

    def __init__(self, url: str, exchange: str = "portico.events", *, publish_timeout: float = 10.0) -> None:
        self.url = url
        self.exchange_name = exchange
        self.publish_timeout = publish_timeout
        self._connection: Any = None
        self._exchange: Any = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._exchange is None or self._connection is None or self._connection.is_closed:
                import aio_pika

                self._connection = await aio_pika.connect_robust(self.url)
                channel = await self._connection.channel(publisher_confirms=True)
                self._exchange = await channel.declare_exchange(
                    self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return self._exchange

    async def send(self, event: Event) -> None:
        import aio_pika

        exchange = await self._ensure()
        message = aio_pika.Message(
            body=event.to_json(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            correlation_id=event.correlation_id,
            message_id=event.event_id,
            timestamp=event.time,
            type=event.name,
            headers={"schema_version": event.schema_version},
        )
        # with confirms this returns once the broker has the message; a broker that went away mid-publish
        # raises (or times out) and the caller sends it again: duplicates, never losses
        await exchange.publish(message, routing_key=event.name, timeout=self.publish_timeout)

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    def __repr__(self) -> str:
        return f"AmqpEventSink({_without_password(self.url)!r})"


class NatsEventSink:
    """Publishes to NATS subjects ``<prefix>.<event name>`` (with JetStream when a stream captures them).

    Args:
        url: ``nats://host:4222``.
        prefix: the subject prefix.
    """

    def __init__(self, url: str, prefix: str = "portico.events") -> None:
        self.url = url
        self.prefix = prefix
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> Any:
        async with self._lock:
            if self._client is None or not self._client.is_connected:
                import nats

                self._client = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=3)
            return self._client

    async def send(self, event: Event) -> None:
        client = await self._ensure()
        # Nats-Msg-Id: JetStream drops a re-sent event within its duplicate window
        headers = {"Nats-Msg-Id": event.event_id}
        if event.correlation_id:
            headers["Correlation-Id"] = event.correlation_id
        await client.publish(f"{self.prefix}.{event.name}", event.to_json(), headers=headers)
        await client.flush(timeout=5)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.drain()
            self._client = None

    def __repr__(self) -> str:
        return f"NatsEventSink({_without_password(self.url)!r})"


def _without_password(url: str) -> str:
    # by hand rather than urlsplit: .port raises on a bad port and .hostname drops IPv6 brackets, and a
    # NATS URL's lone user part is its auth token
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    if colon:
        masked = f"{user}:***"
    elif scheme.lower() in {"nats", "tls"}:
        masked = "***"
    else:
        return url
    return f"{scheme}://{masked}@{hostport}{tail}"


def sink_for_url(url: str, exchange: str = "portico.events") -> EventSink:
    """The sink for a broker URL: ``amqp://``/``amqps://`` RabbitMQ, ``nats://`` NATS, ``memory://``."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in {"amqp", "amqps"}:
        return AmqpEventSink(url, exchange)
    if scheme in {"nats", "tls"}:
        return NatsEventSink(url, exchange)
    if scheme == "memory":
        return MemoryEventSink()
    raise ConfigurationError(
        f"scale_out.events_url: unknown broker scheme {scheme!r}; expected amqp://, nats:// or memory://",
        path="scale_out.events_url",
    )


class EventPublisher:
    """Accepts events synchronously and sends them from a background task.

    Args:
        sink: where events go.
        clock: stamps events.
        capacity: how many events may wait; beyond it new events are dropped and counted.
        redact: applied to each event's data before it leaves the process (the monitor's redactor).
    """

    def __init__(
        self,
        sink: EventSink,
        *,
        clock: Clock | None = None,
        capacity: int = 10_000,
        redact: Callable[[Any], Any] | None = None,
    ) -> None:
        self.sink = sink
        self.clock = clock or system_clock
        self.redact = redact
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=capacity)
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.dropped = 0
        self.failed = 0
        self.last_error: str | None = None

    def publish(self, name: str, *, system: str | None = None, severity: str = "info", **data: Any) -> Event:
        """Queue an event; never blocks and never raises."""
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
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            return event
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):
                self._task = asyncio.get_running_loop().create_task(self._drain())
        return event

    @property
    def pending(self) -> int:
        """Events waiting to be sent."""
        return self._queue.qsize()

    async def _drain(self) -> None:
        while True:
            try:
                event = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await self.sink.send(event)
                self.published += 1
            except Exception as exc:
                self.failed += 1
                self.last_error = f"{type(exc).__name__}: {exc}"

    async def flush(self) -> None:
        """Wait until every queued event has been sent (or has failed)."""
        while self._queue.qsize() or (self._task is not None and not self._task.done()):
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._drain())
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Flush, then close the sink."""
        await self.flush()
        await self.sink.aclose()
