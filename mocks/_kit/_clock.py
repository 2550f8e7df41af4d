"""The mock's own clock: frozen and driven by tests, or following wall time for interactive use."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["DEFAULT_START", "MAX_SPAN", "MockClock"]

DEFAULT_START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
"""Monday 2026-01-05 10:00 New York time: inside a regular session, so prices move when time does."""

MAX_SPAN = timedelta(days=36525)
"""How far past its start a mock clock can be moved (100 years): beyond it dates stop being
representable for the data generator, and a mock must survive whatever its admin API is sent."""


class MockClock:
    """Simulated time for a mock venue.

    With ``realtime=False`` (tests) time stands still until :meth:`advance` moves it; with
    ``realtime=True`` (``portico mock``) it runs with the wall clock from ``start``. Either way
    :meth:`advance` jumps it forward and wakes listeners (the matching engine), so a test can make a
    limit order cross by moving time. Implements :class:`portico.clock.Clock`.

    Args:
        start: the simulated time at creation.
        realtime: whether time also passes by itself.
    """

    def __init__(self, start: datetime | None = None, *, realtime: bool = False) -> None:
        start = start or DEFAULT_START
        if start.tzinfo is None:
            raise ValueError("MockClock start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._origin = time.monotonic()
        self._offset = 0.0
        self.realtime = realtime
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def _elapsed(self) -> float:
        wall = time.monotonic() - self._origin if self.realtime else 0.0
        return wall + self._offset

    def now(self) -> datetime:
        """The simulated time (UTC)."""
        return self._start + timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        """Simulated seconds since the clock was created; never goes backwards."""
        return self._elapsed()

    async def sleep(self, seconds: float) -> None:
        """Wait in real time (the mock's own background work uses it)."""
        await asyncio.sleep(max(0.0, seconds))

    def advance(self, seconds: float) -> datetime:
        """Move simulated time forward by ``seconds`` and notify listeners; returns the new time."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise ValueError("'advance' must be a finite number of seconds")
        if seconds < 0:
            raise ValueError("the mock clock cannot go backwards")
        with self._lock:
            if self._elapsed() + seconds > MAX_SPAN.total_seconds():
                raise ValueError("the mock clock moves at most 100 years past its start")
            self._offset += seconds
        for listener in list(self._listeners):
            listener()
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump forward to ``when`` (timezone-aware)."""
        if when.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        if when - self._start > MAX_SPAN:
            raise ValueError("the mock clock moves at most 100 years past its start")
        delta = (when - self.now()).total_seconds()
        if delta < 0:
            raise ValueError(f"cannot move the mock clock back to {when.isoformat()}")
        return self.advance(delta)

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every :meth:`advance`."""
        self._listeners.append(listener)
