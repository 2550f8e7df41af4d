"""Redis lost: each process keeps a conservative share (limit / workers) and says so; Redis back: shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.http._ratelimit_redis import LocalShare, RedisRateLimitBackend
from portico.sdk import RateWindow
from tests.scaleout.redis_server import PrivateRedis

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
        )
        for _ in range(3)
    ]
    try:
        # shared: the three together get the limit, and no more
        now = 1_000_000.0
        got = [await spend(b, now) for b in backends]
        assert sum(got) == 30 and got == [20, 10, 0]
        private_redis.stop()
        now += 1.5  # a new window
        got = [await spend(b, now) for b in backends]
        # each process: a third of the limit, less what it spent in the window before (all expired here)
        assert got == [10, 10, 10]
        assert [m for m, _ in changes] == ["local"] * 3 and all("Connection" in (e or "") for _, e in changes)
        assert all(b.mode == "local" and b.remaining(SECOND, now) == [0.0] for b in backends)
        private_redis.start()
        now += 1.0  # before the probe time: still local
        assert await backends[0].reserve(SECOND, 1, now) == 0.0 and backends[0].mode == "local"
        now += 1.5  # past the probe: Redis is asked again, and answers
        assert await backends[0].reserve(SECOND, 1, now) == 0.0
        assert backends[0].mode == "shared" and changes[-1] == ("shared", None)
    finally:
        for b in backends:
            await b.aclose()
