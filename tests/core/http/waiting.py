"""Wait for a condition (never for a fixed time), optionally moving a manual fake clock meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from portico.clock import FakeClock


async def eventually(
    predicate: Callable[[], bool], *, clock: FakeClock | None = None, advance: float = 0.0, timeout: float = 10.0
) -> None:
    """Return once ``predicate()`` holds; fail after ``timeout`` real seconds.

    With a manual ``clock``, each poll moves it ``advance`` seconds, so sleepers on it make progress.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        if clock is not None and advance:
            clock.advance(advance)
        await asyncio.sleep(0.002)
