"""The Redis backend: one budget shared by limiters in different processes (two instances here)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from portico.clock import FakeClock
from portico.errors import RateLimited
from portico.http import RateLimiter, RateLimiterRegistry
from portico.http._ratelimit_redis import RedisRateLimitBackend
from portico.sdk import RateLimitPolicy, RateWindow

from .test_ratelimit import max_in_any_window

REDIS_URL = os.environ.get("PORTICO_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="set PORTICO_TEST_REDIS_URL to run the Redis rate-limit tests"),
]

POLICY = RateLimitPolicy(windows=(RateWindow(limit=4, period=1), RateWindow(limit=10, period=60)), max_wait=1e6)


class RecordingBackend(RedisRateLimitBackend):
    """Notes the time of every admission as the script saw it (the clock is shared by both limiters)."""

    def __init__(self, admitted: list[float], **kwargs) -> None:
        super().__init__(REDIS_URL, **kwargs)
        self.admitted = admitted

    async def reserve(self, windows, cost, now):  # type: ignore[no-untyped-def]
        wait = await super().reserve(windows, cost, now)
        if wait == 0:
            self.admitted.append(now)
        return wait


async def test_two_limiters_share_one_budget_in_redis(fake_clock: FakeClock) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    admitted: list[float] = []
    backends = [RecordingBackend(admitted, key_prefix=prefix) for _ in range(2)]
    limiters = [RateLimiter(POLICY, clock=fake_clock, backend=b, name="venue") for b in backends]

    async def call(limiter: RateLimiter) -> None:
        await limiter.acquire()

    try:
        # 3x the minute budget, split across the two "processes".
        await asyncio.gather(*(call(limiters[i % 2]) for i in range(30)))
        assert len(admitted) == 30
        for window in POLICY.windows:
            assert max_in_any_window(admitted, window.period) <= window.limit
        assert limiters[0].remaining()["10/minute"] <= 10
    finally:
        for limiter in limiters:
            await limiter.aclose()


async def test_bounded_wait_and_block_are_shared(fake_clock: FakeClock) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    policy = RateLimitPolicy(windows=(RateWindow(limit=2, period=10),), max_wait=1.0)
    a = RateLimiter(policy, clock=fake_clock, backend=RedisRateLimitBackend(REDIS_URL, key_prefix=prefix))
    b = RateLimiter(policy, clock=fake_clock, backend=RedisRateLimitBackend(REDIS_URL, key_prefix=prefix))
    try:
        await a.acquire()
        await a.acquire()
        with pytest.raises(RateLimited) as info:
            await b.acquire()
        assert info.value.retry_after == pytest.approx(10.0, abs=1e-3)
        fake_clock.advance(10.0)
        await a.block_for(5.0)
        waited = await b.acquire(max_wait=6.0)
        assert waited == pytest.approx(5.0, abs=1e-3)
    finally:
        await a.aclose()
        await b.aclose()


async def test_registry_with_redis_keys_by_fingerprint_never_by_key(fake_clock: FakeClock) -> None:
    import redis.asyncio as redis

    registry = RateLimiterRegistry(clock=fake_clock, redis_url=REDIS_URL)
    secret = f"SECRET-{uuid.uuid4().hex}"
    limiter = registry.get("alpaca", POLICY, credentials={"api_key": secret})
    client = redis.from_url(REDIS_URL)
    try:
        await limiter.acquire()
        keys = [k.decode() async for k in client.scan_iter(match="portico:ratelimit:{alpaca:*")]
        assert keys
        assert not any(secret in k for k in keys)
    finally:
        await registry.aclose()
        await client.aclose()
