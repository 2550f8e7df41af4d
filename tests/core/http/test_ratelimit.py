"""RateLimiter: every window respected under bursts, costs, bounded waits, run-time changes, sharing."""

from __future__ import annotations

import asyncio
import bisect

import httpx
import pytest
from pydantic import SecretStr

from portico.clock import FakeClock
from portico.errors import ConfigurationError, RateLimited
from portico.http import ApiClient, CallRecord, RateLimiter, RateLimiterRegistry, credential_fingerprint
from portico.sdk import RateLimitPolicy, RateWindow, RetryPolicy

from .scripted import ScriptedTransport, json_response


def max_in_any_window(times: list[float], period: float, costs: list[float] | None = None) -> float:
    """The most cost admitted in any interval [t, t + period) starting at an admission."""
    order = sorted(range(len(times)), key=times.__getitem__)
    ts = [times[i] for i in order]
    cs = [(costs[i] if costs else 1.0) for i in order]
    best = 0.0
    for i, start in enumerate(ts):
        end = bisect.bisect_left(ts, start + period - 1e-9)
        best = max(best, sum(cs[i:end]))
    return best


POLICY = RateLimitPolicy(
    windows=(RateWindow(limit=5, period=1), RateWindow(limit=20, period=60), RateWindow(limit=25, period=86400)),
    max_wait=1e9,
)


async def test_every_window_is_respected_under_a_10x_burst(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(POLICY, clock=fake_clock, name="venue")
    admitted: list[float] = []

    async def call() -> None:
        await limiter.acquire()
        admitted.append(fake_clock.monotonic())

    # 10x the daily budget, all at once.
    await asyncio.gather(*(call() for _ in range(250)))
    assert len(admitted) == 250
    for window in POLICY.windows:
        assert max_in_any_window(admitted, window.period) <= window.limit, window
    # And the limiter was not needlessly slow: the first 5 went at once, the 21st waited for the minute.
    start = admitted[0]
    assert admitted[4] == start
    assert admitted[5] == pytest.approx(start + 1.0)
    assert admitted[20] == pytest.approx(start + 60.0)
    assert admitted[25] == pytest.approx(start + 86400.0)


async def test_costly_endpoints_take_more_of_the_budget(fake_clock: FakeClock) -> None:
    policy = RateLimitPolicy(
        windows=(RateWindow(limit=10, period=1),), endpoint_costs={"GET /v2/bars": 4}, max_wait=1e6
    )
    limiter = RateLimiter(policy, clock=fake_clock)
    admitted: list[float] = []
    costs: list[float] = []

    async def call(endpoint: str) -> None:
        cost = limiter.cost_of(endpoint)
        await limiter.acquire(cost)
        admitted.append(fake_clock.monotonic())
        costs.append(cost)

    await asyncio.gather(*(call("GET /v2/bars" if i % 2 else "GET /v2/quotes") for i in range(40)))
    assert max_in_any_window(admitted, 1.0, costs) <= 10
    assert sum(costs) == 100


async def test_bounded_wait_then_rate_limited(fake_clock: FakeClock) -> None:
    policy = RateLimitPolicy(windows=(RateWindow(limit=2, period=10),), max_wait=3.0)
    limiter = RateLimiter(policy, clock=fake_clock, name="venue")
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(RateLimited) as info:
        await limiter.acquire()
    assert info.value.retry_after == pytest.approx(10.0)
    assert fake_clock.sleeps == []  # it did not wait in vain
    fake_clock.advance(7.5)
    waited = await limiter.acquire()  # 2.5 s left: within max_wait
    assert waited == pytest.approx(2.5)
    assert limiter.throttled == 1 and limiter.admitted == 3


async def test_a_cost_that_can_never_fit_is_a_configuration_error(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(RateLimitPolicy(windows=(RateWindow(limit=2, period=1),)), clock=fake_clock)
    with pytest.raises(ConfigurationError, match="never fit"):
        await limiter.acquire(3)


async def test_waiters_are_served_in_arrival_order(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(RateLimitPolicy(windows=(RateWindow(limit=1, period=1),), max_wait=100), clock=fake_clock)
    order: list[int] = []

    async def call(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    await asyncio.gather(*(call(i) for i in range(10)))
    assert order == list(range(10))


async def test_update_windows_applies_at_run_time_and_remaining_reports_budget(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(RateLimitPolicy(windows=(RateWindow(limit=5, period=1),), max_wait=0), clock=fake_clock)
    for _ in range(3):
        await limiter.acquire()
    assert limiter.remaining() == {"5/second": 2}
    limiter.update_windows([RateWindow(limit=3, period=1), RateWindow(limit=100, period=60)])
    assert limiter.remaining() == {"3/second": 0, "100/minute": 100}
    with pytest.raises(RateLimited):
        await limiter.acquire()
    fake_clock.advance(1.0)
    await limiter.acquire()
    assert limiter.remaining() == {"3/second": 2, "100/minute": 99}
    with pytest.raises(Exception, match="greater than 0"):
        limiter.update_windows([RateWindow.model_construct(limit=0, period=1)])


async def test_retry_after_from_the_venue_holds_every_caller(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(RateLimitPolicy(windows=(RateWindow(limit=100, period=1),), max_wait=60), clock=fake_clock)
    transport = ScriptedTransport(json_response(429, headers={"Retry-After": "5"}), json_response(200))
    client = ApiClient(
        "https://api.example.test", system="venue", transport=transport, clock=fake_clock, rate_limiter=limiter
    )
    await client.get("/quotes")
    # The retry waited for Retry-After, and the limiter now holds others until then too.
    assert fake_clock.sleeps[0] == 5.0
    await limiter.block_for(3.0)
    waited = await limiter.acquire()
    assert waited == pytest.approx(3.0)


async def test_api_client_waits_on_the_limiter_and_reports_the_wait(fake_clock: FakeClock) -> None:
    limiter = RateLimiter(
        RateLimitPolicy(windows=(RateWindow(limit=2, period=1),), endpoint_costs={"GET /bars": 2}, max_wait=5),
        clock=fake_clock,
    )
    records: list[CallRecord] = []
    transport = ScriptedTransport(json_response(200))
    client = ApiClient(
        "https://api.example.test",
        system="venue",
        transport=transport,
        clock=fake_clock,
        rate_limiter=limiter,
        observers=[records.append],
    )
    await client.get("/bars", endpoint="GET /bars")
    await client.get("/bars", endpoint="GET /bars")
    assert records[0].rate_limit_wait == 0.0
    assert records[1].rate_limit_wait == pytest.approx(1.0)
    tight = RateLimiter(RateLimitPolicy(windows=(RateWindow(limit=1, period=60),), max_wait=1), clock=fake_clock)
    client = ApiClient(
        "https://api.example.test", system="venue", transport=transport, clock=fake_clock, rate_limiter=tight,
        observers=[records.append], retry=RetryPolicy(attempts=1),
    )
    await client.get("/x")
    with pytest.raises(RateLimited) as info:
        await client.get("/x", endpoint="GET /x")
    assert info.value.system == "venue" and info.value.request == "GET /x"
    assert records[-1].outcome == "throttled"
    assert transport.calls == 3


def test_fingerprint_is_stable_secret_free_and_connector_scoped() -> None:
    creds = {"api_key": SecretStr("AKXXXXXXXX"), "secret_key": SecretStr("sssssss")}
    fp = credential_fingerprint("alpaca", creds)
    assert fp == credential_fingerprint("alpaca", {"secret_key": "sssssss", "api_key": "AKXXXXXXXX"})
    assert fp != credential_fingerprint("alpaca", {**creds, "api_key": SecretStr("AKYYYYYYYY")})
    assert fp != credential_fingerprint("other", creds)
    assert "AKXXXXXXXX" not in fp and len(fp) == 24


def test_registry_shares_one_limiter_per_connector_and_credentials(fake_clock: FakeClock) -> None:
    registry = RateLimiterRegistry(clock=fake_clock)
    creds = {"api_key": SecretStr("k1")}
    a = registry.get("alpaca", POLICY, credentials=creds)
    b = registry.get("alpaca", POLICY, credentials={"api_key": "k1"})
    c = registry.get("alpaca", POLICY, credentials={"api_key": "k2"})
    d = registry.get("alpha_vantage", POLICY, credentials=creds)
    assert a is b
    assert len({id(a), id(c), id(d)}) == 3
    assert len(registry) == 3
    assert "k1" not in repr(a)


async def test_two_clients_with_the_same_credentials_share_the_budget(fake_clock: FakeClock) -> None:
    registry = RateLimiterRegistry(clock=fake_clock)
    policy = RateLimitPolicy(windows=(RateWindow(limit=3, period=1),), max_wait=100)
    transport = ScriptedTransport(json_response(200))
    clients = [
        ApiClient(
            "https://api.example.test",
            system=f"alpaca_{i}",
            transport=transport,
            clock=fake_clock,
            rate_limiter=registry.get("alpaca", policy, credentials={"key": "same"}),
        )
        for i in range(2)
    ]
    times: list[float] = []

    async def call(client: ApiClient) -> None:
        await client.get("/x")
        times.append(fake_clock.monotonic())

    await asyncio.gather(*(call(clients[i % 2]) for i in range(12)))
    assert max_in_any_window(times, 1.0) <= 3
    assert isinstance(transport, httpx.AsyncBaseTransport)
