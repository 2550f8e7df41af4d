"""Per-call overhead of monitoring (call log line + metrics + correlation id) against the same call unmonitored.

Run: ``.venv/bin/python -m benchmarks.monitoring_overhead [--calls 1000] [--rounds 5]`` (about 30 s).

A subprocess serves a small JSON endpoint (aiohttp) on loopback. Two portico ``ApiClient`` instances
call it with the same policies; one has the monitor's call observer and sends the correlation header
inside a correlation scope per call, with logging configured as in production (JSON lines through the
redaction processor, written to ``/dev/null`` so the terminal is not what is measured); the other has
no observer, no correlation header and no scope. Calls alternate one by one between the two clients,
so machine drift affects both alike. The target is under 5% added median latency.

The observer queues each record and the monitor logs and measures it on the event loop's next turn,
which overlaps the wait for the next response; the last line reports that work's CPU cost per call,
measured on its own, so the saving is visible rather than hidden.
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

_SERVER = r"""
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


async def _run(base_url: str, calls: int, rounds: int) -> dict[str, Any]:
    from portico.context import correlation_scope
    from portico.http import ApiClient
    from portico.monitor import IntegrationMonitor, Redactor, configure_logging

    sink = open(os.devnull, "w")  # noqa: SIM115 - lives for the whole run
    redactor = Redactor(["bench-secret-key-0123456789"])
    configure_logging(json=True, level="INFO", stream=sink, redactor=redactor)
    monitor = IntegrationMonitor(redactor=redactor, config={"history": {"enabled": False}})
    monitored = ApiClient(base_url, system="bench", observers=[monitor.call_observer()])
    plain = ApiClient(base_url, system="bench", correlation_header=False)
    perf = time.perf_counter

    async def monitored_call() -> float:
        start = perf()
        with correlation_scope():
            await monitored.get("/v2/quote", endpoint="GET /v2/quote")
        return perf() - start

    async def plain_call() -> float:
        start = perf()
        await plain.get("/v2/quote", endpoint="GET /v2/quote")
        return perf() - start

    for _ in range(300):  # warm pools, caches and code paths
        await monitored_call()
        await plain_call()
    samples: dict[str, list[float]] = {"monitored": [], "plain": []}
    round_ratios = []
    for _ in range(rounds):
        m: list[float] = []
        p: list[float] = []
        for i in range(calls):
            # alternate which goes first, so neither always runs on a warmer connection
            if i % 2:
                m.append(await monitored_call())
                p.append(await plain_call())
            else:
                p.append(await plain_call())
                m.append(await monitored_call())
        samples["monitored"] += m
        samples["plain"] += p
        round_ratios.append(statistics.median(m) / statistics.median(p))

    # The processing alone, without the network: what monitoring costs per call in CPU (the observer
    # queues this work to the loop's next turn, where it overlaps the wait for the next response).
    from portico.http import CallRecord

    record = CallRecord(system="bench", method="GET", endpoint="GET /v2/quote", status=200, outcome="ok",
                        latency=0.0005, attempt=1, correlation_id="0" * 32)
    n = 20_000
    start = perf()
    for _ in range(n):
        monitor.record_call(record)
    observer_cost = (perf() - start) / n

    await monitored.aclose()
    await plain.aclose()
    sink.close()
    assert monitor.metrics("bench")["requests"] >= calls * rounds
    return {
        "monitored": statistics.median(samples["monitored"]),
        "plain": statistics.median(samples["plain"]),
        "round_ratios": round_ratios,
        "observer_cost": observer_cost,
        "calls": len(samples["plain"]),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per client per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        started = time.perf_counter()
        r = asyncio.run(_run(f"http://127.0.0.1:{port}", args.calls, args.rounds))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)

    added = r["monitored"] / r["plain"] - 1.0
    print(f"\nmedian latency per call, loopback, {r['calls']} calls per client (interleaved)\n")
    print(f"{'client':<42} {'median':>10} {'ratio':>7}")
    print(f"{'ApiClient, monitoring off':<42} {r['plain'] * 1e6:>7.0f} us {1.0:>6.3f}x")
    print(f"{'ApiClient, monitoring on (log+metrics+cid)':<42} {r['monitored'] * 1e6:>7.0f} us {r['monitored'] / r['plain']:>6.3f}x")
    print(f"\nadded median latency: {added * 100:+.1f}% (target < 5%)")
    print("per-round ratios: " + ", ".join(f"{x:.3f}" for x in r["round_ratios"]))
    print(
        f"CPU per call of the monitoring work itself (log line + metrics), no network: {r['observer_cost'] * 1e6:.1f} us"
        f" ({r['observer_cost'] / r['plain'] * 100:.1f}% of a call)"
    )
    print(f"(measured in {elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
