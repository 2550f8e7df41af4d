"""Time as an injectable object, so timing logic is tested on a fake clock, never with sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock", "system_clock"]


@runtime_checkable
class Clock(Protocol):
    """Where portico gets time from. Inject one; never call ``time`` directly in timing logic."""

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


system_clock = SystemClock()


class FakeClock:
    """A clock that moves only when told to, for deterministic tests.

    With ``auto_advance=True`` (the default) a ``sleep`` moves time forward at once and returns, and
    every sleep is recorded in :attr:`sleeps`, so retry and backoff logic runs instantly and can be
    asserted. With ``auto_advance=False`` sleepers wait until :meth:`advance` passes their wake-up time.

    Args:
        start: the wall-clock time to start at.
        auto_advance: whether ``sleep`` advances time by itself.
    """

    def __init__(self, start: datetime | None = None, *, auto_advance: bool = True) -> None:
        self._wall = start or datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
        self._mono = 1000.0
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        if self.auto_advance:
            self.advance(seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper whose time has come."""
        self._mono += seconds
        self._wall += timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def set(self, when: datetime) -> None:
        """Jump the wall clock (and the monotonic clock by the same amount) to ``when``."""
        delta = (when - self._wall).total_seconds()
        if delta < 0:
            raise ValueError("FakeClock cannot go backwards")
        self.advance(delta)

    @property
    def pending_sleepers(self) -> int:
        """How many coroutines are waiting in :meth:`sleep` (manual mode)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())
