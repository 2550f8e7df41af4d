"""Wait for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["wait_for", "wait_for_async"]


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.01, message: str = "") -> Any:
    """Poll ``condition`` until it returns a truthy value; return that value.

    Raises:
        TimeoutError: naming ``message`` when the condition stays false for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(message or f"condition {condition!r} not met within {timeout}s")
        time.sleep(interval)


async def wait_for_async(
    condition: Callable[[], Any | Awaitable[Any]], *, timeout: float = 10.0, interval: float = 0.01, message: str = ""
) -> Any:
    """Async version of :func:`wait_for`; ``condition`` may be a coroutine function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(message or f"condition {condition!r} not met within {timeout}s")
        await asyncio.sleep(interval)
