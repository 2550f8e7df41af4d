"""A stream's per-consumer queue: the one hop between a connection's reader and the code iterating it.

A connection reader (a WebSocket handler) decodes a frame into canonical models and offers them to every
interested :class:`StreamFeed`; the consumer iterates the feed with ``async for``. The feed is bounded:
when the consumer falls behind, the oldest items are dropped, counted in :attr:`StreamFeed.dropped` and
reported to whoever watches (:meth:`StreamFeed.watch_drops`: the market data service shows them in the
subscription's summary and tells the monitor). Nothing here imports an event-loop library beyond asyncio.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Generic, TypeVar

__all__ = ["StreamFeed"]

T = TypeVar("T")

Hook = Callable[["StreamFeed[T]"], Awaitable[None]]


class StreamFeed(Generic[T]):
    """A bounded, drop-oldest queue iterated with ``async for``; it starts on the first ``__anext__``.

    Args:
        start: awaited on the first ``__anext__`` (joins the connection: subscribe, connect...); an error
            it raises ends the iteration with that error.
        stop: awaited once by :meth:`aclose` after a successful start (leaves the connection).
        size: items buffered before the oldest are dropped.
    """

    __slots__ = ("_error", "_items", "_on_drop", "_size", "_start", "_state", "_stop", "_waiter", "dropped")

    def __init__(
        self, *, start: Hook[T] | None = None, stop: Hook[T] | None = None, size: int = 10_000
    ) -> None:
        if size < 1:
            raise ValueError(f"a stream feed holds at least one item, not {size}")
        self._items: deque[T] = deque()
        self._size = size
        self._start = start
        self._stop = stop
        self._state = "new"  # new -> open -> closed
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._on_drop: Callable[[int], None] | None = None
        self.dropped = 0
        """Items discarded because the consumer was ``size`` items behind."""

    def __repr__(self) -> str:
        return f"StreamFeed(state={self._state}, pending={len(self._items)}, dropped={self.dropped})"

    @property
    def pending(self) -> int:
        """Items waiting for the consumer."""
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` ran."""
        return self._state == "closed"

    def watch_drops(self, listener: Callable[[int], None] | None) -> None:
        """Call ``listener(n)`` whenever ``n`` items are dropped (drops so far are reported at once)."""
        self._on_drop = listener
        if listener is not None and self.dropped:
            listener(self.dropped)

    # -- producing (the connection's reader, synchronous) ------------------------------------------

    def offer(self, item: T) -> None:
        """Queue one item; when the feed is full the oldest waiting item is dropped."""
        items = self._items
        if len(items) >= self._size:
            items.popleft()
            self._dropped(1)
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def offer_many(self, batch: Iterable[T]) -> None:
        """Queue several items with one wake-up; overflow drops the oldest, as :meth:`offer` does."""
        items = self._items
        items.extend(batch)
        over = len(items) - self._size
        if over > 0:
            for _ in range(over):
                items.popleft()
            self._dropped(over)
        waiter = self._waiter
        if items and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        """End the iteration with ``error`` once the items already queued are consumed."""
        if self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _dropped(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)

    # -- consuming ---------------------------------------------------------------------------------

    def __aiter__(self) -> StreamFeed[T]:
        return self

    async def __anext__(self) -> T:
        items = self._items
        if items:
            return items.popleft()
        if self._state != "open":
            await self._open()
        while not items:
            if self._error is not None:
                raise self._error
            if self._state == "closed":
                raise StopAsyncIteration
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return items.popleft()

    async def next_batch(self) -> list[T]:
        """Everything queued (at least one item), waiting for it: one wake-up per frame, not per item.

        Raises:
            StopAsyncIteration: the feed is closed.
        """
        items = self._items
        if self._state != "open":
            await self._open()
        while not items:
            if self._error is not None:
                raise self._error
            if self._state == "closed":
                raise StopAsyncIteration
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        batch = list(items)
        items.clear()
        return batch

    async def batches(self) -> AsyncIterator[list[T]]:
        """The items in batches (see :meth:`next_batch`) until the feed is closed."""
        while True:
            try:
                batch = await self.next_batch()
            except StopAsyncIteration:
                return
            yield batch

    async def _open(self) -> None:
        if self._state == "closed":
            raise StopAsyncIteration
        self._state = "open"
        start, self._start = self._start, None
        if start is not None:
            try:
                await start(self)
            except BaseException:
                self._state = "closed"
                self._stop = None  # it never joined, so there is nothing to leave
                raise

    async def aclose(self) -> None:
        """Stop iterating: leave the connection (once) and discard what is still queued."""
        if self._state == "closed":
            return
        was_open = self._state == "open"
        self._state = "closed"
        self._items.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        stop, self._stop = self._stop, None
        if was_open and stop is not None:
            await stop(self)
