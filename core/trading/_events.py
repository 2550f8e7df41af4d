"""Fan-out of order updates to callbacks and async iterators, across every system."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from portico.trading._records import OrderUpdate

__all__ = ["OrderEventBus", "OrderUpdateCallback"]

log = logging.getLogger("portico.trading")

OrderUpdateCallback = Callable[[OrderUpdate], "Awaitable[None] | None"]


class OrderEventBus:
    """Delivers each :class:`OrderUpdate` to every callback and every open iterator.

    A failing callback is logged and does not stop delivery to the others. Iterators have a bounded
    queue; when a slow consumer's queue is full the oldest update is dropped and counted in
    :attr:`dropped` (the store keeps the full history).
    """

    def __init__(self, *, queue_size: int = 10_000) -> None:
        self._callbacks: list[tuple[OrderUpdateCallback, frozenset[str] | None]] = []
        self._queues: list[tuple[asyncio.Queue[OrderUpdate | None], frozenset[str] | None]] = []
        self._queue_size = queue_size
        self.dropped = 0

    def subscribe(
        self, callback: OrderUpdateCallback, *, systems: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call ``callback`` (sync or async) with every update; returns a function that unsubscribes."""
        entry = (callback, None if systems is None else frozenset(systems))
        self._callbacks.append(entry)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(entry)

        return unsubscribe

    async def iterate(self, *, systems: Iterable[str] | None = None) -> AsyncIterator[OrderUpdate]:
        """Yield updates as they happen until the consumer stops iterating or the bus closes."""
        queue: asyncio.Queue[OrderUpdate | None] = asyncio.Queue(self._queue_size)
        entry = (queue, None if systems is None else frozenset(systems))
        self._queues.append(entry)
        try:
            while True:
                update = await queue.get()
                if update is None:
                    return
                yield update
        finally:
            with contextlib.suppress(ValueError):
                self._queues.remove(entry)

    async def publish(self, update: OrderUpdate) -> None:
        """Deliver one update."""
        for callback, systems in list(self._callbacks):
            if systems is not None and update.system not in systems:
                continue
            try:
                result = callback(update)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("order update callback %r failed", callback)
        for queue, systems in list(self._queues):
            if systems is not None and update.system not in systems:
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                    self.dropped += 1
            queue.put_nowait(update)

    def close(self) -> None:
        """End every open iterator."""
        for queue, _ in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(None)
