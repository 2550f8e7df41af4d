"""StreamFeed: the one queue between a stream's reader and its consumer (bounded, drop-oldest, counted)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from portico.errors import AuthError
from portico.http import StreamFeed


async def test_items_arrive_in_order_and_the_oldest_are_dropped_when_full() -> None:
    feed: StreamFeed[int] = StreamFeed(size=3)
    drops: list[int] = []
    feed.watch_drops(drops.append)
    for i in range(5):
        feed.offer(i)
    feed.offer_many([5, 6])
    assert feed.dropped == 4 and drops == [1, 1, 2] and feed.pending == 3
    assert [await anext(feed), await anext(feed), await anext(feed)] == [4, 5, 6]


async def test_a_batch_larger_than_the_feed_keeps_its_newest_items() -> None:
    feed: StreamFeed[int] = StreamFeed(size=4)
    feed.offer_many(range(10))
    assert feed.dropped == 6
    assert await feed.next_batch() == [6, 7, 8, 9]


async def test_drops_before_anyone_watched_are_reported_at_once() -> None:
    feed: StreamFeed[int] = StreamFeed(size=1)
    feed.offer_many([1, 2, 3])
    seen: list[int] = []
    feed.watch_drops(seen.append)
    assert seen == [2]


async def test_the_consumer_waits_for_the_reader_and_gets_a_whole_batch() -> None:
    feed: StreamFeed[int] = StreamFeed(size=100)
    waiting = asyncio.ensure_future(feed.next_batch())
    await asyncio.sleep(0)
    assert not waiting.done()
    feed.offer_many([1, 2, 3])
    assert await asyncio.wait_for(waiting, 5) == [1, 2, 3]


async def test_an_error_ends_the_iteration_after_what_was_queued() -> None:
    feed: StreamFeed[str] = StreamFeed(size=10)
    feed.offer("a")
    feed.fail(AuthError("refused"))
    assert await anext(feed) == "a"
    with pytest.raises(AuthError, match="refused"):
        await anext(feed)


async def test_start_runs_on_the_first_read_and_stop_once_on_close() -> None:
    calls: list[str] = []

    async def start(feed: StreamFeed[Any]) -> None:
        calls.append("start")
        feed.offer("first")

    async def stop(feed: StreamFeed[Any]) -> None:
        calls.append("stop")

    feed: StreamFeed[str] = StreamFeed(start=start, stop=stop)
    assert calls == []
    assert await anext(feed) == "first"
    await feed.aclose()
    await feed.aclose()
    assert calls == ["start", "stop"] and feed.closed
    with pytest.raises(StopAsyncIteration):
        await anext(feed)


async def test_a_start_that_fails_fails_the_read_and_leaves_nothing_to_stop() -> None:
    stopped: list[bool] = []

    async def start(feed: StreamFeed[Any]) -> None:
        raise AuthError("no entitlement")

    async def stop(feed: StreamFeed[Any]) -> None:
        stopped.append(True)

    feed: StreamFeed[str] = StreamFeed(start=start, stop=stop)
    with pytest.raises(AuthError, match="no entitlement"):
        await anext(feed)
    await feed.aclose()
    assert stopped == []


async def test_closing_wakes_a_waiting_consumer() -> None:
    feed: StreamFeed[int] = StreamFeed()
    got: list[int] = []

    async def consume() -> None:
        async for item in feed:
            got.append(item)

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    feed.offer(1)
    await asyncio.sleep(0)
    await feed.aclose()
    await asyncio.wait_for(task, 5)
    assert got == [1]


def test_a_feed_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="at least one"):
        StreamFeed(size=0)
