"""The gateway's event log: order events, market data and alerts, numbered, stored, and fanned out live.

Every event gets the next id when it is stored; WebSocket clients resume after the last id they saw.
A subscriber registers for live events *before* it reads the stored ones, and drops live events whose
id it already sent, so between the stored backlog and the live tail nothing is missed and nothing is
sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portico.clock import Clock
from portico.gateway._tables import gateway_tables
from portico.store import Database

__all__ = ["TOPICS", "EventLog", "GatewayEvent", "Subscription"]

TOPICS = ("orders", "market_data", "alerts", "webhooks")


@dataclass(frozen=True)
class GatewayEvent:
    """One stored event."""

    id: int
    topic: str
    system: str | None
    at: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The event as sent to a WebSocket client."""
        return {"id": self.id, "topic": self.topic, "system": self.system, "at": self.at, "data": self.data}


class Subscription:
    """A live feed of events, bounded: a subscriber that falls ``limit`` events behind is marked
    ``overflowed`` (its client reconnects and resumes from the store, losing nothing)."""

    def __init__(self, accept: Callable[[GatewayEvent], bool], limit: int) -> None:
        self.accept = accept
        self.queue: asyncio.Queue[GatewayEvent] = asyncio.Queue(limit)
        self.overflowed = False

    def offer(self, event: GatewayEvent) -> None:
        if self.overflowed or not self.accept(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class EventLog:
    """Stores events in the embedded store and hands each to the live subscribers."""

    def __init__(self, db: Database, clock: Clock, *, live_limit: int = 10_000) -> None:
        self.db = db
        self.clock = clock
        self.table = gateway_tables()["events"]
        db.ensure_tables(self.table)
        self.live_limit = live_limit
        self._subscribers: list[Subscription] = []

    def append(self, topic: str, system: str | None, data: dict[str, Any]) -> GatewayEvent:
        """Store one event and deliver it to the live subscribers."""
        at = self.clock.now().isoformat()
        body = json.dumps(data, default=str, sort_keys=True)
        with self.db.begin() as conn:
            result = conn.execute(self.table.insert().values(topic=topic, system=system, at=at, data=body))
            pk = result.inserted_primary_key
        event = GatewayEvent(int(pk[0]) if pk else 0, topic, system, at, json.loads(body))
        for sub in list(self._subscribers):
            sub.offer(event)
        return event

    def since(self, last_id: int, topics: Iterable[str], *, limit: int = 1000) -> list[GatewayEvent]:
        """Stored events after ``last_id`` of the given topics, oldest first (at most ``limit``)."""
        t = self.table
        query = (
            sa.select(t).where(t.c.id > last_id, t.c.topic.in_(list(topics))).order_by(t.c.id).limit(limit)
        )
        with self.db.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return [GatewayEvent(r["id"], r["topic"], r["system"], r["at"], json.loads(r["data"])) for r in rows]

    def last_id(self) -> int:
        """The id of the newest stored event (0 when none)."""
        with self.db.begin() as conn:
            value = conn.execute(sa.select(sa.func.max(self.table.c.id))).scalar()
        return int(value or 0)

    @contextlib.contextmanager
    def subscribe(self, accept: Callable[[GatewayEvent], bool]) -> Iterator[Subscription]:
        """Receive live events ``accept`` takes while the block runs."""
        sub = Subscription(accept, self.live_limit)
        self._subscribers.append(sub)
        try:
            yield sub
        finally:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(sub)
