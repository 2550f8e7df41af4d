"""Per-call overhead of monitoring (call log line + metrics + correlation id) against the same call unmonitored.

Run: ``.venv/bin/python -m benchmarks.monitoring_overhead [--calls 1000] [--rounds 5]`` (under a minute).

Two local servers, each in a subprocess on loopback: a portico mock (the mock kit's ``MockApp`` on
uvicorn, as ``mock: true`` serves vendors) and, as the worst case, a bare aiohttp JSON endpoint. One
portico ``ApiClient`` (one connection pool) with the monitor's call observer calls each server:

- monitoring on: inside a correlation scope per call (so the ``X-Correlation-ID`` header is sent and the
  log line carries the id), with logging configured as in production (JSON lines through the redaction
  processor, written to ``/dev/null`` so the terminal is not what is measured);
- correlation only: the scope and header, the monitor disabled (to show what the id itself costs);
- monitoring off: the monitor disabled and no correlation scope.

The three alternate in blocks of 50 calls so machine drift affects all alike. The monitor processes call
records in batches off the call path (see ``portico.monitor.CallObserver``); the report therefore also
shows p99 latency, where batches land, and the CPU cost of the monitoring work per call measured on its
own, so nothing is hidden. The target is under 5% added median latency against the local mock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

BLOCK = 50

_AIOHTTP_SERVER = r"""
import socket
from aiohttp import web

BODY = {"symbol": "AAPL", "bid": "187.24", "ask": "187.26", "bid_size": 300, "ask_size": 200,
        "timestamp": "2026-01-05T14:30:00.123456Z", "conditions": ["R"], "tape": "C"}

async def quote(request):
    return web.json_response(BODY)

app = web.Application()
app.router.add_get("/v2/quote", quote)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)
"""

_MOCK_SERVER = r"""
import socket
import uvicorn
from starlette.responses import JSONResponse
from starlette.routing import Route
from portico.mocks import MockApp

BODY = {"symbol": "AAPL", "bid": "187.24", "ask": "187.26", "bid_size": 300, "ask_size": 200,
        "timestamp": "2026-01-05T14:30:00.123456Z", "conditions": ["R"], "tape": "C"}

async def quote(request):
    return JSONResponse(BODY)

app = MockApp([Route("/v2/quote", quote)], name="bench")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])
"""

SERVERS = {"portico mock (MockApp on uvicorn)": _MOCK_SERVER, "bare aiohttp endpoint": _AIOHTTP_SERVER}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _run(base_url: str, calls: int, rounds: int) -> dict[str, Any]:
    from portico.context import correlation_scope
    from portico.http import ApiClient, CallRecord
    from portico.monitor import IntegrationMonitor, Redactor, configure_logging

    sink = open(os.devnull, "w")  # noqa: SIM115 - lives for the whole run
    redactor = Redactor(["bench-secret-key-0123456789"])
    configure_logging(json=True, level="INFO", stream=sink, redactor=redactor)
    monitor = IntegrationMonitor(redactor=redactor, config={"history": {"enabled": False}})
    # One client, one connection pool: only monitoring differs between the two kinds of call.
    client = ApiClient(base_url, system="bench", observers=[monitor.call_observer()])
    perf = time.perf_counter

    async def monitored_call() -> float:
        monitor.enabled = True
        start = perf()
        with correlation_scope():
            await client.get("/v2/quote", endpoint="GET /v2/quote")
        return perf() - start

    async def correlated_call() -> float:
        monitor.enabled = False  # correlation only: scope and header, no log line, no metrics
        start = perf()
        with correlation_scope():
            await client.get("/v2/quote", endpoint="GET /v2/quote")
        return perf() - start

    async def plain_call() -> float:
        monitor.enabled = False  # the observer returns at once; no scope, so no correlation header
        start = perf()
        await client.get("/v2/quote", endpoint="GET /v2/quote")
        return perf() - start

    for _ in range(300):  # warm pools, caches and code paths
        await monitored_call()
        await correlated_call()
        await plain_call()
    kinds = (plain_call, correlated_call, monitored_call)
    samples: dict[Any, list[float]] = {k: [] for k in kinds}
    round_ratios = []
    for _ in range(rounds):
        this_round: dict[Any, list[float]] = {k: [] for k in kinds}
        for block in range(calls // BLOCK):
            shift = block % len(kinds)
            for call in kinds[shift:] + kinds[:shift]:
                for _ in range(BLOCK):
                    this_round[call].append(await call())
        for k in kinds:
            samples[k] += this_round[k]
        round_ratios.append(statistics.median(this_round[monitored_call]) / statistics.median(this_round[plain_call]))
    monitored, correlated, plain = samples[monitored_call], samples[correlated_call], samples[plain_call]
    await monitor.drain()
    assert monitor.metrics("bench")["requests"] >= calls * rounds

    # The monitoring work alone, no network: log line + metrics for one record, and one correlation scope.
    record = CallRecord(system="bench", method="GET", endpoint="GET /v2/quote", status=200, outcome="ok",
                        latency=0.0005, attempt=1, correlation_id="0123456789abcdef0123456789abcdef")
    n = 20_000
    start = perf()
    for _ in range(n):
        monitor.record_call(record)
    record_cost = (perf() - start) / n
    start = perf()
    for _ in range(n):
        with correlation_scope():
            pass
    scope_cost = (perf() - start) / n
    await client.aclose()
    sink.close()
    return {
        "monitored": statistics.median(monitored),
        "correlated": statistics.median(correlated),
        "plain": statistics.median(plain),
        "monitored_p99": _p(monitored, 99),
        "plain_p99": _p(plain, 99),
        "round_ratios": round_ratios,
        "record_cost": record_cost,
        "scope_cost": scope_cost,
        "calls": len(plain),
    }


def _measure(script: str, calls: int, rounds: int) -> dict[str, Any]:
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return asyncio.run(_run(f"http://127.0.0.1:{port}", calls, rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls of each kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results = {name: _measure(script, args.calls, args.rounds) for name, script in SERVERS.items()}
    elapsed = time.perf_counter() - started
    for name, r in results.items():
        added = r["monitored"] / r["plain"] - 1.0
        print(f"\n{name}: {r['calls']} calls of each kind, interleaved in blocks of {BLOCK}")
        print(f"  {'':<34} {'median':>9} {'ratio':>7} {'p99':>9}")
        print(f"  {'monitoring off':<34} {r['plain'] * 1e6:>6.0f} us {1.0:>6.3f}x {r['plain_p99'] * 1e6:>6.0f} us")
        print(f"  {'correlation id only (scope+header)':<34} {r['correlated'] * 1e6:>6.0f} us {r['correlated'] / r['plain']:>6.3f}x")
        print(
            f"  {'monitoring on (log+metrics+cid)':<34} {r['monitored'] * 1e6:>6.0f} us "
            f"{r['monitored'] / r['plain']:>6.3f}x {r['monitored_p99'] * 1e6:>6.0f} us"
        )
        print(f"  added median latency: {added * 100:+.1f}% (of which log line + metrics: "
              f"{(r['monitored'] - r['correlated']) / r['plain'] * 100:+.1f}%)   per-round ratios: "
              + ", ".join(f"{x:.3f}" for x in r["round_ratios"]))
    any_r = next(iter(results.values()))
    print(
        f"\nCPU of the monitoring work itself, no network: {any_r['record_cost'] * 1e6:.1f} us per call record "
        f"(log line + metrics, processed in batches) and {any_r['scope_cost'] * 1e6:.1f} us per correlation scope"
    )
    print("target: under 5% added median latency against the local mock")
    print(f"(measured in {elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
