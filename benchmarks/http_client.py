"""Per-call latency of portico's ApiClient against raw aiohttp and raw httpx, on loopback.

Run: ``.venv/bin/python -m benchmarks.http_client`` (under a minute; ``--budget`` bounds the measuring).

A subprocess serves a small JSON endpoint with aiohttp. Each client makes the same GET calls, one at a
time (sequential) and from 8 concurrent tasks; the table shows the median latency of one call and its
ratio to raw aiohttp, plus the client process's CPU time per sequential call (less disturbed by other
load on the machine). The ApiClient runs with every policy on: a rate limiter with two (high) windows,
a circuit breaker, the retry policy, a correlation id and a call observer. Clients are measured in many
short interleaved rounds and each ratio is the median over rounds of that round's ratio, so load from
other processes lands on every client alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

_SERVER = r"""
import socket, sys
from aiohttp import web

BODY = {"symbol": "AAPL", "bid": "187.24", "ask": "187.26", "bid_size": 300, "ask_size": 200,
        "timestamp": "2026-01-05T14:30:00.123456Z", "conditions": ["R"], "tape": "C"}

async def quote(request):
    return web.json_response(BODY)

app = web.Application()
app.router.add_get("/v2/quote", quote)
app.router.add_post("/v2/orders", quote)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)
"""

Call = Callable[[], Awaitable[Any]]


async def _sequential(call: Call, n: int, cpu: list[float] | None = None) -> list[float]:
    samples = []
    perf = time.perf_counter
    cpu_start = time.thread_time()
    for _ in range(n):
        start = perf()
        await call()
        samples.append(perf() - start)
    if cpu is not None:
        cpu.append((time.thread_time() - cpu_start) / n)
    return samples


async def _concurrent(call: Call, n: int, workers: int = 8, cpu: list[float] | None = None) -> list[float]:
    samples: list[float] = []
    perf = time.perf_counter
    cpu_start = time.thread_time()

    async def worker() -> None:
        for _ in range(n // workers):
            start = perf()
            await call()
            samples.append(perf() - start)

    await asyncio.gather(*(worker() for _ in range(workers)))
    if cpu is not None:
        cpu.append((time.thread_time() - cpu_start) / (n // workers * workers))
    return samples


async def _calls_per_request(call: Call, n: int = 400, workers: int = 8) -> float:
    """Python function calls (cProfile's count, resumes of coroutines included) per call, 8 in flight."""
    import cProfile
    import pstats

    profile = cProfile.Profile()

    async def worker() -> None:
        for _ in range(n // workers):
            await call()

    profile.enable()
    await asyncio.gather(*(worker() for _ in range(workers)))
    profile.disable()
    stats = pstats.Stats(profile)
    return sum(entry[1] for entry in stats.stats.values()) / (n // workers * workers)  # type: ignore[attr-defined]


async def _run(url_root: str, calls: int, rounds: int, budget: float) -> dict[str, dict[str, float]]:
    import aiohttp
    import httpx

    from portico.context import correlation_scope
    from portico.http import ApiClient, CallRecord, CircuitBreaker, RateLimiter
    from portico.sdk import RateLimitPolicy, RateWindow, RetryPolicy

    url = url_root + "/v2/quote"
    observed = 0

    def observer(record: CallRecord) -> None:
        nonlocal observed
        observed += 1

    session = aiohttp.ClientSession()
    raw_httpx = httpx.AsyncClient()
    limiter = RateLimiter(
        RateLimitPolicy(windows=(RateWindow(limit=1e9, period=1), RateWindow(limit=1e9, period=60))),
        name="bench",
    )
    portico_client = ApiClient(
        url_root,
        system="bench",
        retry=RetryPolicy(attempts=3),
        rate_limiter=limiter,
        breaker=CircuitBreaker("bench"),
        observers=[observer],
    )
    httpx_transport_client = ApiClient(
        url_root,
        system="bench",
        transport="httpx",
        rate_limiter=limiter,
        breaker=CircuitBreaker("b2"),
        observers=[observer],
    )

    async def aiohttp_call() -> Any:
        async with session.get(url) as response:
            return await response.json()

    async def httpx_call() -> Any:
        return (await raw_httpx.get(url)).json()

    async def portico_call() -> Any:
        return (await portico_client.get("/v2/quote", endpoint="GET /v2/quote")).json()

    async def portico_httpx_call() -> Any:
        return (await httpx_transport_client.get("/v2/quote", endpoint="GET /v2/quote")).json()

    # What connectors send most: a GET with query parameters and a JSON POST with an idempotency key.
    params: dict[str, str | int] = {"symbols": "AAPL", "feed": "iex", "limit": 5}
    order = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}
    orders_url = url_root + "/v2/orders"

    async def aiohttp_params_call() -> Any:
        async with session.get(url, params=params) as response:
            return await response.json()

    async def portico_params_call() -> Any:
        return (await portico_client.get("/v2/quote", params=params, endpoint="GET /v2/quote")).json()

    async def aiohttp_post_call() -> Any:
        async with session.post(orders_url, json=order, headers={"Idempotency-Key": "k-1"}) as response:
            return await response.json()

    async def portico_post_call() -> Any:
        response = await portico_client.post(
            "/v2/orders", json=order, endpoint="POST /v2/orders", idempotency_key="k-1"
        )
        return response.json()

    clients: dict[str, Call] = {
        "raw aiohttp": aiohttp_call,
        "raw httpx": httpx_call,
        "portico ApiClient": portico_call,
        "ApiClient on httpx transport": portico_httpx_call,
        "raw aiohttp GET+params": aiohttp_params_call,
        "ApiClient GET+params": portico_params_call,
        "raw aiohttp POST json": aiohttp_post_call,
        "ApiClient POST json": portico_post_call,
    }
    samples: dict[str, dict[str, list[float]]] = {
        name: {"sequential": [], "concurrent": []} for name in clients
    }
    # Per round, each client's median divided by raw aiohttp's median in the same round.
    ratios: dict[str, dict[str, list[float]]] = {
        name: {"sequential": [], "concurrent": [], "cpu": [], "cpu_concurrent": []} for name in clients
    }
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    cpu_concurrent: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    started = time.perf_counter()
    with correlation_scope():
        for call in clients.values():  # warm up pools and code paths
            await _sequential(call, 100)
            await _concurrent(call, 80)
        # Many short rounds, rotating which client goes first, so load from other processes on the
        # machine lands on every client alike; stop early when the time budget is spent.
        for round_number in range(rounds):
            shift = round_number % len(names)
            medians: dict[str, dict[str, float]] = {}
            for name in names[shift:] + names[:shift]:
                sequential = await _sequential(clients[name], calls, cpu[name])
                concurrent = await _concurrent(clients[name], calls, cpu=cpu_concurrent[name])
                samples[name]["sequential"] += sequential
                samples[name]["concurrent"] += concurrent
                medians[name] = {
                    "sequential": statistics.median(sequential),
                    "concurrent": statistics.median(concurrent),
                    "cpu": cpu[name][-1],
                    "cpu_concurrent": cpu_concurrent[name][-1],
                }
            for name in names:
                for mode in ("sequential", "concurrent", "cpu", "cpu_concurrent"):
                    ratios[name][mode].append(medians[name][mode] / medians[baseline_of(name)][mode])
            if time.perf_counter() - started > budget:
                break
        profiled = {name: await _calls_per_request(clients[name]) for name in _PROFILED}
    await session.close()
    await raw_httpx.aclose()
    await portico_client.aclose()
    await httpx_transport_client.aclose()
    assert observed > 0
    return {
        name: {
            **{mode: statistics.median(values) for mode, values in modes.items()},
            "cpu": statistics.median(cpu[name]),
            "cpu_concurrent": statistics.median(cpu_concurrent[name]),
            "calls": profiled.get(name, float("nan")),
            **{f"{mode}_ratio": statistics.median(values) for mode, values in ratios[name].items()},
            "rounds": len(ratios[name]["sequential"]),
        }
        for name, modes in samples.items()
    }


_PROFILED = (
    "raw aiohttp",
    "portico ApiClient",
    "raw aiohttp GET+params",
    "ApiClient GET+params",
    "raw aiohttp POST json",
    "ApiClient POST json",
)


def baseline_of(name: str) -> str:
    """The raw aiohttp client making the same call as ``name``."""
    if "params" in name:
        return "raw aiohttp GET+params"
    if "POST" in name:
        return "raw aiohttp POST json"
    return "raw aiohttp"


def _import_time(module: str, runs: int = 7) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - start)
    baseline = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(baseline)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=48, help="calls per client, per mode, per round")
    parser.add_argument("--rounds", type=int, default=400, help="at most this many rounds")
    parser.add_argument("--budget", type=float, default=45.0, help="seconds of measuring before stopping")
    args = parser.parse_args(argv)

    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        started = time.perf_counter()
        results = asyncio.run(_run(f"http://127.0.0.1:{port}", args.calls, args.rounds, args.budget))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)

    rounds = results["raw aiohttp"]["rounds"]
    print(
        f"\nmedian latency per call, loopback, {int(rounds)} rounds of {args.calls} calls per client and mode"
    )
    print(
        "(ratio: median over rounds of the client's median / raw aiohttp's median in the same round, making the"
        " same call: plain GET, GET with params, or POST with a JSON body)\n"
    )
    print("cpu/call: the client process's CPU time per sequential call, which load elsewhere disturbs less\n")
    print("cpu/call 8 conc.: the same, per call made by the 8 concurrent tasks\n")
    print(
        f"{'client':<30} {'sequential':>12} {'ratio':>7} {'8 concurrent':>14} {'ratio':>7} {'cpu/call':>10} {'ratio':>7}"
        f" {'cpu/call 8 conc.':>17} {'ratio':>7}"
    )
    for name, figures in results.items():
        print(
            f"{name:<30} {figures['sequential'] * 1e6:>9.0f} us {figures['sequential_ratio']:>6.2f}x "
            f"{figures['concurrent'] * 1e6:>11.0f} us {figures['concurrent_ratio']:>6.2f}x "
            f"{figures['cpu'] * 1e6:>7.0f} us {figures['cpu_ratio']:>6.2f}x "
            f"{figures['cpu_concurrent'] * 1e6:>14.0f} us {figures['cpu_concurrent_ratio']:>6.2f}x"
        )
    print()
    for raw_name, ours_name in (
        ("raw aiohttp", "portico ApiClient"),
        ("raw aiohttp GET+params", "ApiClient GET+params"),
        ("raw aiohttp POST json", "ApiClient POST json"),
    ):
        raw_calls, ours_calls = results[raw_name]["calls"], results[ours_name]["calls"]
        print(
            f"Python calls per request, 8 in flight (cProfile, 400 calls): {raw_name} {raw_calls:.0f}, "
            f"{ours_name} {ours_calls:.0f} ({ours_calls / raw_calls:.2f}x)"
        )
    for ours_name, call in (
        ("portico ApiClient", "GET"),
        ("ApiClient GET+params", "GET with params"),
        ("ApiClient POST json", "POST json"),
    ):
        ours = results[ours_name]
        for mode, label in (("sequential", "sequential"), ("concurrent", "8 concurrent")):
            cpu_key = "cpu_ratio" if mode == "sequential" else "cpu_concurrent_ratio"
            ratio = ours[f"{mode}_ratio"]
            print(
                f"TARGET http_client ApiClient {call} {label}: at most 1.3x raw aiohttp: {ratio:.2f}x latency "
                f"({ours[cpu_key]:.2f}x CPU per call; {ours['cpu' if mode == 'sequential' else 'cpu_concurrent'] * 1e6:.0f}"
                f" us vs {results[baseline_of(ours_name)]['cpu' if mode == 'sequential' else 'cpu_concurrent'] * 1e6:.0f} us)"
                f" {'met' if ratio <= 1.3 else 'missed'}"
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n(measured in {elapsed:.0f} s; 1-minute load average {load:.1f} on {os.cpu_count()} CPUs)")
    import_portico, interpreter = _import_time("portico")
    import_http, _ = _import_time("portico.http")
    print(
        f"python -c 'import portico': {import_portico * 1e3:.0f} ms "
        f"(bare interpreter {interpreter * 1e3:.0f} ms, so portico adds {(import_portico - interpreter) * 1e3:.0f} ms)"
    )
    print(f"python -c 'import portico.http': {import_http * 1e3:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
