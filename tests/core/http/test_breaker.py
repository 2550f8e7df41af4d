"""CircuitBreaker: opening, failing fast, the single half-open probe, listeners; alone and in ApiClient."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from portico.clock import FakeClock
from portico.errors import CircuitOpen, NotFound, ServerError
from portico.http import ApiClient, BreakerState, CallRecord, CircuitBreaker
from portico.sdk import RetryPolicy

from .scripted import ScriptedTransport, json_response
from .waiting import eventually


def test_opens_after_threshold_failures_within_the_window(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=3, window=10.0, recovery_timeout=30.0, clock=fake_clock)
    for _ in range(2):
        breaker.record_failure(breaker.before_call())
    assert breaker.state is BreakerState.CLOSED
    fake_clock.advance(11.0)  # the first two fall out of the window
    breaker.record_failure(breaker.before_call())
    breaker.record_failure(breaker.before_call())
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(breaker.before_call())
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as info:
        breaker.before_call()
    assert info.value.retry_after == pytest.approx(30.0)
    assert info.value.system == "venue"


def test_a_success_resets_the_failure_count(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=2, clock=fake_clock)
    breaker.record_failure(breaker.before_call())
    breaker.record_success(breaker.before_call())
    breaker.record_failure(breaker.before_call())
    assert breaker.state is BreakerState.CLOSED


def test_half_open_admits_one_probe_whose_verdict_decides(fake_clock: FakeClock) -> None:
    changes: list[tuple[str, str]] = []
    breaker = CircuitBreaker("venue", failure_threshold=1, recovery_timeout=5.0, clock=fake_clock)
    breaker.add_listener(lambda b, old, new: changes.append((old.value, new.value)))
    breaker.record_failure(breaker.before_call())
    fake_clock.advance(4.9)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    fake_clock.advance(0.1)
    assert breaker.before_call() is True  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a second caller while the probe is out
    breaker.record_failure(True)
    assert breaker.state is BreakerState.OPEN
    fake_clock.advance(5.0)
    assert breaker.before_call() is True
    breaker.record_success(True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.before_call() is False
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert breaker.opened_count == 2


def test_a_released_probe_lets_the_next_caller_probe(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=1, recovery_timeout=1.0, clock=fake_clock)
    breaker.record_failure(breaker.before_call())
    fake_clock.advance(1.0)
    breaker.release(breaker.before_call())
    assert breaker.before_call() is True


def client_with_breaker(transport: httpx.AsyncBaseTransport, clock: FakeClock, breaker: CircuitBreaker, **kw) -> ApiClient:
    return ApiClient(
        "https://api.example.test",
        system="venue",
        transport=transport,
        clock=clock,
        breaker=breaker,
        retry=RetryPolicy(attempts=1),
        **kw,
    )


async def test_api_client_opens_the_breaker_on_5xx_and_then_fails_fast(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=3, recovery_timeout=30.0, clock=fake_clock)
    transport = ScriptedTransport(json_response(500))
    records: list[CallRecord] = []
    client = client_with_breaker(transport, fake_clock, breaker, observers=[records.append])
    for _ in range(3):
        with pytest.raises(ServerError):
            await client.get("/account")
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as info:
        await client.get("/account", endpoint="GET /account")
    assert transport.calls == 3  # the venue saw nothing more
    assert info.value.request == "GET /account" and info.value.system == "venue"
    assert records[-1].outcome == "circuit_open"


async def test_venue_rejections_do_not_count_as_failures(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=2, clock=fake_clock)
    client = client_with_breaker(ScriptedTransport(json_response(404)), fake_clock, breaker)
    for _ in range(5):
        with pytest.raises(NotFound):
            await client.get("/orders/x")
    assert breaker.state is BreakerState.CLOSED


async def test_transport_failures_count(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=2, clock=fake_clock)
    client = client_with_breaker(ScriptedTransport(httpx.ConnectTimeout("slow")), fake_clock, breaker)
    for _ in range(2):
        with pytest.raises(Exception, match="connect"):
            await client.get("/account")
    assert breaker.state is BreakerState.OPEN


async def test_exactly_one_half_open_probe_under_concurrency(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=1, recovery_timeout=10.0, clock=fake_clock)
    release = asyncio.Event()
    probes_in_flight = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal probes_in_flight
        if request.url.path == "/fail":
            return json_response(503)
        probes_in_flight += 1
        await release.wait()
        return json_response(200)

    transport = ScriptedTransport(answer)
    client = client_with_breaker(transport, fake_clock, breaker)
    with pytest.raises(ServerError):
        await client.get("/fail")
    assert breaker.state is BreakerState.OPEN
    fake_clock.advance(10.0)

    calls = [asyncio.create_task(client.get("/probe")) for _ in range(20)]
    # every task reaches the breaker: one probe goes through, the other nineteen are refused at once
    await eventually(lambda: sum(c.done() for c in calls) == 19 and probes_in_flight >= 1)
    assert probes_in_flight == 1
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    ok = [r for r in results if isinstance(r, httpx.Response)]
    refused = [r for r in results if isinstance(r, CircuitOpen)]
    assert len(ok) == 1 and len(refused) == 19
    assert breaker.state is BreakerState.CLOSED
    assert transport.calls == 2
    assert (await client.get("/probe")).status_code == 200


async def test_cancelled_probe_frees_the_half_open_slot(fake_clock: FakeClock) -> None:
    breaker = CircuitBreaker("venue", failure_threshold=1, recovery_timeout=1.0, clock=fake_clock)
    hang = asyncio.Event()
    entered = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/fail":
            return json_response(502)
        entered.set()
        await hang.wait()
        return json_response(200)

    client = client_with_breaker(ScriptedTransport(answer), fake_clock, breaker)
    with pytest.raises(ServerError):
        await client.get("/fail")
    fake_clock.advance(1.0)
    probe = asyncio.create_task(client.get("/slow"))
    await asyncio.wait_for(entered.wait(), 10)  # the probe is in flight
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert breaker.before_call() is True
