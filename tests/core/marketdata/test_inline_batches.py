"""A batch delivered inline to a synchronous callback stops at the first slow call: the rest are queued
for the dispatcher, in order, and every item is counted once."""

from __future__ import annotations

import time
from typing import Any

from portico.marketdata._subscriptions import _SLOW_CALLBACK, Subscription


def _subscription(callback: Any) -> Subscription:
    return Subscription(
        "sub-1", system="s", symbols=["A"], data_type="quotes", mode="stream",
        callback=callback, queue_size=100, overflow="block",
    )  # fmt: skip


async def test_a_fast_callback_takes_the_whole_batch_inline() -> None:
    seen: list[int] = []
    subscription = _subscription(seen.append)
    await subscription.put_many([1, 2, 3, 4])
    assert seen == [1, 2, 3, 4] and not subscription._items
    assert (subscription.stats.received, subscription.stats.delivered) == (4, 4)
    assert subscription._inline


async def test_the_first_slow_call_sends_the_rest_of_the_batch_to_the_queue() -> None:
    seen: list[int] = []

    def callback(item: int) -> None:
        seen.append(item)
        if item == 2:  # slower than the limit, by the same clock the subscription reads
            deadline = time.perf_counter() + 2 * _SLOW_CALLBACK
            while time.perf_counter() < deadline:
                pass

    subscription = _subscription(callback)
    await subscription.put_many([1, 2, 3, 4])
    assert seen == [1, 2], "items after the slow call wait for the dispatcher"
    assert not subscription._inline
    assert list(subscription._items) == [3, 4]
    assert subscription.stats.received == 4 and subscription.stats.delivered == 2
