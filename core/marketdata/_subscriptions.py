"""Live market data subscriptions: a native stream where the connector streams, polling otherwise, and
delivery to the callback through a bounded queue so a slow callback never blocks the feed.

The producer (stream reader or poller) puts items in the queue; a dispatcher task takes them out and
calls the callback. When the queue is full, ``drop_oldest`` discards the oldest waiting item (counted
in ``dropped``) and ``block`` makes the producer wait (counted in ``blocked``), which back-pressures the
stream or delays the next poll.

A stream's own per-iterator queue (a :class:`~portico.http.StreamFeed`) may drop too, when the
connection's reader outpaces this subscription: those drops are counted here as well (``dropped``
includes them, ``stream_dropped`` tells them apart), and every drop is reported through ``on_drops``
(the service turns it into a ``marketdata.dropped`` monitor event, at most once per ``drop_report_interval``
seconds, the remainder when the subscription stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Subscription", "SubscriptionStats"]

_log = logging.getLogger("portico.marketdata")

Overflow = Literal["drop_oldest", "block"]
_YIELD_EVERY = 64
_SLOW_CALLBACK = 0.001  # seconds: a synchronous callback slower than this is queued, not called inline


class _Awaiting:
    """An awaitable a synchronous callback returned, waiting its turn in the queue."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable


@dataclass
class SubscriptionStats:
    """Counters of one subscription."""

    received: int = 0
    delivered: int = 0
    dropped: int = 0
    stream_dropped: int = 0
    blocked: int = 0
    callback_errors: int = 0
    polls: int = 0
    poll_errors: int = 0
    stream_restarts: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a dict."""
        return dict(self.__dict__)


class Subscription:
    """One subscription: its queue, its dispatcher, and the producer feeding it.

    Args:
        subscription_id: the id handed to the caller.
        system: the system it reads.
        symbols: the symbols subscribed.
        data_type: the canonical data type delivered.
        mode: ``stream`` or ``poll``.
        callback: called with each item (a canonical model); may be a coroutine function.
        queue_size: the bound of the delivery queue.
        overflow: ``drop_oldest`` or ``block``.
        on_drops: called with ``(newly_dropped, total_dropped)`` when items were dropped (throttled).
        monotonic: the time source of that throttle.
        drop_report_interval: seconds between two ``on_drops`` calls while items keep being dropped.
    """

    def __init__(
        self,
        subscription_id: str,
        *,
        system: str,
        symbols: list[str],
        data_type: str,
        mode: Literal["stream", "poll"],
        callback: Callable[[Any], Any],
        queue_size: int,
        overflow: Overflow,
        on_drops: Callable[[int, int], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        drop_report_interval: float = 1.0,
    ) -> None:
        self.id = subscription_id
        self.system = system
        self.symbols = symbols
        self.data_type = data_type
        self.mode = mode
        self.callback = callback
        self.queue_size = queue_size
        self.overflow = overflow
        self.stats = SubscriptionStats()
        self.poll_interval: float | None = None
        self.poll_cost: float = 0.0
        self._is_async = inspect.iscoroutinefunction(callback)
        # A synchronous callback runs on the event loop whoever calls it, so while it is fast and nothing
        # waits it is called inline, sparing a task switch per item; once a call is slow (or returns an
        # awaitable) items go through the queue, where the overflow policy keeps the feed moving.
        self._inline = not self._is_async
        self._items: deque[Any] = deque()
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._iterator: AsyncIterator[Any] | None = None
        self.closed = False
        self._on_drops = on_drops
        self._monotonic = monotonic
        self._drop_interval = drop_report_interval
        self._unreported_drops = 0
        self._drops_reported_at: float | None = None

    # -- producing ---------------------------------------------------------------------------------

    async def put(self, item: Any) -> None:
        """Queue one item for the callback, applying the overflow policy when the queue is full."""
        stats = self.stats
        stats.received += 1
        items = self._items
        if self._inline and not items:
            self._call_inline(item)
            return
        if len(items) >= self.queue_size:
            if self.overflow == "drop_oldest":
                items.popleft()
                self._note_drops(1)
            else:
                stats.blocked += 1
                while len(items) >= self.queue_size and not self.closed:
                    self._space.clear()
                    await self._space.wait()
        items.append(item)
        if not self._ready.is_set():
            self._ready.set()
        if len(items) >= _YIELD_EVERY and stats.received % _YIELD_EVERY == 0:
            # a stream whose socket always has data never suspends: let the dispatcher take its turn
            await asyncio.sleep(0)

    async def put_many(self, batch: list[Any]) -> None:
        """Queue (or deliver inline) a batch of items, as :meth:`put` does one by one."""
        done = 0
        if self._inline and not self._items:
            done = self._deliver_inline(batch)
        put = self.put
        for item in batch[done:] if done else batch:
            await put(item)

    def _deliver_inline(self, batch: list[Any]) -> int:
        # the loop of _call_inline over a batch; stops (returning how many it took) as soon as the
        # callback is slow or returns an awaitable, and put() queues the rest
        stats = self.stats
        callback = self.callback
        perf = time.perf_counter
        taken = 0
        # one clock read per item: each call is timed from the end of the one before (the loop's own
        # steps between them are a few hundred nanoseconds against a limit of a millisecond)
        started = perf()
        for item in batch:
            taken += 1
            stats.received += 1
            try:
                result = callback(item)
            except Exception:
                stats.callback_errors += 1
                _log.exception("market data callback of subscription %s failed", self.id)
            else:
                if result is not None and inspect.isawaitable(result):
                    self._inline = False
                    self._items.appendleft(_Awaiting(result))
                    self._ready.set()
                    return taken
                stats.delivered += 1
            ended = perf()
            if ended - started > _SLOW_CALLBACK:
                self._inline = False
                return taken
            started = ended
        return taken

    def stream_dropped(self, count: int) -> None:
        """The stream's own queue for this subscription dropped ``count`` items."""
        self.stats.stream_dropped += count
        self._note_drops(count)

    def _note_drops(self, count: int) -> None:
        self.stats.dropped += count
        self._unreported_drops += count
        if self._on_drops is None:
            return
        now = self._monotonic()
        if self._drops_reported_at is None or now - self._drops_reported_at >= self._drop_interval:
            self._report_drops(now)

    def _report_drops(self, now: float) -> None:
        count, self._unreported_drops = self._unreported_drops, 0
        self._drops_reported_at = now
        if self._on_drops is not None and count:
            try:
                self._on_drops(count, self.stats.dropped)
            except Exception:
                _log.exception("reporting the drops of subscription %s failed", self.id)

    # -- delivering --------------------------------------------------------------------------------

    def _call_inline(self, item: Any) -> None:
        stats = self.stats
        started = time.perf_counter()
        try:
            result = self.callback(item)
        except Exception:
            stats.callback_errors += 1
            _log.exception("market data callback of subscription %s failed", self.id)
        else:
            if result is not None and inspect.isawaitable(result):
                # it needs awaiting: from now on it is delivered by the dispatcher
                self._inline = False
                self._items.appendleft(_Awaiting(result))
                self._ready.set()
                return
            stats.delivered += 1
        if time.perf_counter() - started > _SLOW_CALLBACK:
            self._inline = False

    async def _dispatch(self) -> None:
        items = self._items
        stats = self.stats
        callback = self.callback
        while not self.closed:
            if not items:
                self._ready.clear()
                await self._ready.wait()
                continue
            item = items.popleft()
            if not self._space.is_set():
                self._space.set()
            started = time.perf_counter()
            try:
                if isinstance(item, _Awaiting):
                    await item.awaitable
                elif self._is_async:
                    await callback(item)
                else:
                    result = callback(item)
                    if inspect.isawaitable(result):
                        await result
            except asyncio.CancelledError:
                raise
            except Exception:
                stats.callback_errors += 1
                _log.exception("market data callback of subscription %s failed", self.id)
            else:
                stats.delivered += 1
            if not items and not self._is_async and not isinstance(item, _Awaiting):
                # caught up with a callback that is fast again: back to inline calls
                self._inline = time.perf_counter() - started <= _SLOW_CALLBACK
            # a fast producer must not starve the loop when the callback is synchronous
            if stats.delivered % 256 == 0:
                await asyncio.sleep(0)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, producer: Callable[[Subscription], Coroutine[Any, Any, None]]) -> None:
        """Start the dispatcher and the producer."""
        self._tasks.append(asyncio.create_task(self._dispatch(), name=f"marketdata-dispatch-{self.id}"))
        self._tasks.append(asyncio.create_task(producer(self), name=f"marketdata-produce-{self.id}"))

    def attach_iterator(self, iterator: AsyncIterator[Any]) -> None:
        """Remember the stream iterator so closing the subscription closes the stream; the drops of a
        stream iterator that counts them (``watch_drops``, as :class:`~portico.http.StreamFeed`) are
        counted here."""
        self._iterator = iterator
        watch = getattr(iterator, "watch_drops", None)
        if watch is not None:
            watch(self.stream_dropped)

    async def stop(self) -> None:
        """Stop producing and delivering; waiting items are discarded."""
        if self.closed:
            return
        self.closed = True
        self._space.set()
        self._ready.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._iterator is not None:
            aclose = getattr(self._iterator, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    _log.debug("closing the stream of subscription %s failed", self.id, exc_info=True)
        self._items.clear()
        if self._unreported_drops:
            self._report_drops(self._monotonic())

    @property
    def pending(self) -> int:
        """Items waiting for the callback."""
        return len(self._items)

    def describe(self) -> dict[str, Any]:
        """A JSON-safe description."""
        return {
            "id": self.id,
            "system": self.system,
            "symbols": list(self.symbols),
            "data_type": self.data_type,
            "mode": self.mode,
            "poll_interval": self.poll_interval,
            "overflow": self.overflow,
            "queue_size": self.queue_size,
            "pending": self.pending,
            **self.stats.to_dict(),
        }
