"""Redis lost: each process keeps a conservative share (limit / workers) and says so; Redis back: shared."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.http._ratelimit_redis import LocalShare, RedisRateLimitBackend
from portico.sdk import RateWindow
from tests.scaleout.redis_server import PrivateRedis, free_port
from tests.scaleout.tcp_proxy import HoldingProxy

pytest.importorskip("redis")

SECOND = (RateWindow(limit=30, period=1),)


async def spend(backend: RedisRateLimitBackend, now: float, tries: int = 20) -> int:
    """How many of ``tries`` calls of cost 1 the backend admits at ``now``."""
    return sum([1 for _ in range(tries) if await backend.reserve(SECOND, 1, now) == 0.0])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def admitted(share: LocalShare, now: float, tries: int = 100) -> int:
    return sum(1 for _ in range(tries) if share.reserve(SECOND, 1, now) == 0.0)


def test_the_local_share_admits_limit_over_workers_counting_what_went_through_redis_before() -> None:
    share = LocalShare(workers=3)
    assert admitted(share, 100.0) == 10
    assert share.reserve(SECOND, 1, 100.5) == pytest.approx(0.5)  # the window frees at 101.0
    fresh = LocalShare(workers=3)
    fresh.record(SECOND, 4, 200.0)  # spent through Redis just before it went away
    assert admitted(fresh, 200.1) == 6


def test_a_local_period_starts_with_the_fleets_last_seen_spend_shared_out() -> None:
    share = LocalShare(workers=3)
    share.start(SECOND, {1.0: 12.0}, 300.0)  # the fleet had spent 12 of 30: 4 of this share's 10 are gone
    assert admitted(share, 300.0) == 6
    never_saw_redis = LocalShare(workers=3)
    never_saw_redis.start(SECOND, {}, 300.0)  # nothing known: the whole share counts as spent
    assert admitted(never_saw_redis, 300.5) == 0 and admitted(never_saw_redis, 301.0) == 10


@pytest.mark.timeout(60)
async def test_redis_down_falls_back_to_a_third_each_and_comes_back_shared(
    private_redis: PrivateRedis,
) -> None:
    changes: list[tuple[str, str | None]] = []
    backends = [
        RedisRateLimitBackend(
            private_redis.url,
            key_prefix="mock:abc",
            workers=3,
            probe_seconds=2,
            on_mode=lambda m, e: changes.append((m, e)),
            timeout=0.5,
            confirm_seconds=1.0,
            retry_seconds=0.25,
        )
        for _ in range(3)
    ]
    try:
        # shared: the three together get the limit, and no more
        now = 1_000_000.0
        got = [await spend(b, now) for b in backends]
        assert sum(got) == 30 and got == [20, 10, 0]
        private_redis.stop()
        now += 0.5
        # a failed call is not yet Redis down: nothing is admitted while each asks again
        assert [await spend(b, now) for b in backends] == [0, 0, 0]
        assert all(b.mode == "shared" for b in backends) and changes == []
        assert await backends[0].reserve(SECOND, 1, now) == pytest.approx(0.25)  # its next try
        now += 1.0  # every call failed for confirm_seconds: Redis is down for the fleet
        got = [await spend(b, now) for b in backends]
        # Redis last said 20 of 30 spent (to the first) and 30 of 30 (to the others): a third of that is
        # taken as spent by each, so the first has 10 - 20/3 left and the others nothing
        assert got == [3, 0, 0]
        assert [m for m, _ in changes] == ["local"] * 3 and all("Connection" in (e or "") for _, e in changes)
        now += 1.0  # what they could not see has expired: a third of the limit each, 30 in aggregate
        assert [await spend(b, now) for b in backends] == [10, 10, 10]
        assert all(b.mode == "local" and b.remaining(SECOND, now) == [0.0] for b in backends)
        private_redis.start()
        now += 0.4  # before the probe time: still local
        assert await backends[0].reserve(SECOND, 1, now) > 0 and backends[0].mode == "local"
        now += 1.0  # past the probe: Redis is asked again, and answers (it restarted empty)
        assert await backends[0].reserve(SECOND, 1, now) == 0.0
        assert backends[0].mode == "shared" and changes[-1] == ("shared", None)
        # for one window more the local share still binds: Redis does not know what was spent locally
        assert await spend(backends[0], now) == 9
        # Redis lost again within that window: once confirmed, the new local period starts from what
        # Redis last said (10 of 30 spent: a third of it taken as spent here), and the call that found
        # Redis gone is asked of that share too
        private_redis.stop()
        now += 1.0  # this process's local spends expired: a call goes to Redis, fails, and is not admitted
        assert await spend(backends[0], now) == 0 and backends[0].mode == "shared"
        now += 1.0
        assert await spend(backends[0], now) == 6 and backends[0].mode == "local"
    finally:
        for b in backends:
            await b.aclose()


MINUTE = (RateWindow(limit=30, period=60),)


@pytest.mark.timeout(60)
async def test_one_process_whose_call_times_out_takes_no_local_share_while_the_others_reach_redis(
    private_redis: PrivateRedis,
) -> None:
    """The soak's 223 requests a minute against 200: one worker's Redis call outlasted its timeout (its
    loop held on a loaded machine) and it spent a local third on top of what the others, still on
    Redis, spent of the whole budget. A lone failure must not make a local share."""
    proxy = HoldingProxy("127.0.0.1", private_redis.port)
    await proxy.start()
    changes: list[tuple[str, str | None]] = []
    slow = RedisRateLimitBackend(
        f"redis://127.0.0.1:{proxy.port}/0",
        key_prefix="mock:partial",
        workers=3,
        probe_seconds=2,
        on_mode=lambda m, e: changes.append((m, e)),
        timeout=0.3,
    )
    others = [
        RedisRateLimitBackend(private_redis.url, key_prefix="mock:partial", workers=3) for _ in range(2)
    ]
    now = 2_000_000.0
    try:
        admitted = sum([1 for _ in range(9) if await slow.reserve(MINUTE, 1, now) == 0.0])
        assert admitted == 9
        proxy.hold()
        # the script runs in Redis (its spend counts there) but the answer comes after the timeout
        timed_out = await slow.reserve(MINUTE, 1, now)
        admitted += timed_out == 0.0
        proxy.release()
        for backend in (slow, *others, slow):
            admitted += sum([1 for _ in range(30) if await backend.reserve(MINUTE, 1, now) == 0.0])
        # 30 in the window: 9 + the timed-out call's spend + 20 more, and nothing local on top
        assert admitted == 29
        assert timed_out == pytest.approx(0.25)  # not admitted: its next try, 0.25 s on
        assert slow.mode == "shared" and changes == []
    finally:
        for backend in (slow, *others):
            await backend.aclose()
        await proxy.stop()


@pytest.mark.timeout(60)
async def test_a_process_that_missed_the_outage_finds_redis_restarted_empty_and_keeps_to_its_share(
    private_redis: PrivateRedis,
) -> None:
    """The soak's 208 requests of one key a minute against 200, 8 refused: Redis restarted empty while two
    workers spent their local shares, and a third, which made no call during the outage, found an empty
    Redis and took the whole budget again. Redis's epoch changed: it keeps to its share for one window."""
    options = {"key_prefix": "mock:epoch", "workers": 3, "probe_seconds": 2, "timeout": 0.5}
    options.update(confirm_seconds=1.0, retry_seconds=0.25)
    noticed = [RedisRateLimitBackend(private_redis.url, **options) for _ in range(2)]
    idle = RedisRateLimitBackend(private_redis.url, **options)
    now = 3_000_000.0

    async def calls(backend: RedisRateLimitBackend, tries: int) -> int:
        return sum([1 for _ in range(tries) if await backend.reserve(MINUTE, 1, now) == 0.0])

    try:
        # the fleet spends 21 of 30 in the minute; the idle one last saw 9 left
        assert [await calls(b, n) for b, n in zip((*noticed, idle), (12, 6, 3), strict=True)] == [12, 6, 3]
        private_redis.stop()
        for _ in range(2):  # the two calling through the outage turn local; the idle one calls nothing
            now += 1.0
            for b in noticed:
                await calls(b, 1)
        assert [b.mode for b in noticed] == ["local", "local"] and idle.mode == "shared"
        private_redis.start()  # empty
        now += 1.0
        # a worker restarted during the outage reaches the emptied Redis first: no mark yet, trusted
        early = RedisRateLimitBackend(private_redis.url, **options)
        assert await calls(early, 5) == 5
        # before: 19 admitted through the empty Redis (21 + 19 in a window of 30, on top of the local shares;
        # the first call meets the connection Redis dropped)
        late = await calls(idle, 20)
        # 21 of 30 last seen spent by the fleet: a third of it (7) counts as spent here, 3 of its 10 left
        assert late == 3
        assert idle.mode == "shared"  # Redis answers: shared, but the share binds for one window
        # a worker (re)started meanwhile knew no epoch, but Redis now says it lost the window's spends, and
        # what the idle one last saw of them (21): 7 of its share counts as spent, 3 left (before: 20)
        newcomer = RedisRateLimitBackend(private_redis.url, **options)
        assert await calls(newcomer, 20) == 3
        # the early one learns of the loss at its next call: its part (7) on top of its own 5 (before: 10)
        assert await calls(early, 10) == 0
        now += 65.0  # the window (and the phantom spend) has passed: Redis's budget alone again
        assert await calls(idle, 40) == 30
        assert await calls(newcomer, 5) == 0 and newcomer.mode == "shared"  # the budget is the idle one's
    finally:
        for b in (*noticed, idle):
            await b.aclose()
        with contextlib.suppress(NameError):
            await newcomer.aclose()
            await early.aclose()


@pytest.mark.timeout(60)
async def test_a_worker_whose_first_redis_calls_fail_waits_for_redis_instead_of_a_spent_local_share(
    private_redis: PrivateRedis,
) -> None:
    """The soak's orders of one worker stalled 60 s at its start: its first Redis calls timed out (a loaded
    machine), it turned local after 2 s, and a process that never reached Redis counts its whole share as
    spent for a window. Never answered, it now asks Redis for up to a window, and is shared once it answers."""
    options = {"key_prefix": "mock:start", "workers": 3, "probe_seconds": 2, "timeout": 0.5}
    options.update(confirm_seconds=1.0, retry_seconds=0.25)
    private_redis.stop()
    starting = RedisRateLimitBackend(private_redis.url, **options)
    unreachable = RedisRateLimitBackend(f"redis://127.0.0.1:{free_port()}/0", **options)
    now = 4_000_000.0
    try:
        assert await starting.reserve(MINUTE, 1, now) == pytest.approx(0.25)
        assert await unreachable.reserve(MINUTE, 1, now) == pytest.approx(0.25)
        now += 5.0  # past confirm_seconds (before: local, its share spent for a window)
        assert await starting.reserve(MINUTE, 1, now) == pytest.approx(0.25) and starting.mode == "shared"
        private_redis.start()
        now += 1.0
        assert sum([1 for _ in range(40) if await starting.reserve(MINUTE, 1, now) == 0.0]) == 30
        assert starting.mode == "shared"
        # never reached for a whole window: local now, and that window counts as the unknown spend's, so a
        # third of the limit is there at once (before: nothing for another window)
        now += 50.0  # 56 s of failures: still asking
        assert await unreachable.reserve(MINUTE, 1, now) == pytest.approx(0.25)
        now += 5.0  # 61 s
        assert sum([1 for _ in range(20) if await unreachable.reserve(MINUTE, 1, now) == 0.0]) == 10
        assert unreachable.mode == "local"
    finally:
        await starting.aclose()
        await unreachable.aclose()
