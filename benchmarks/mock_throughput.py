"""The Alpaca mock's ``GET /v2/positions`` throughput with the clock ``portico mock`` uses (real time).

Run: ``.venv/bin/python -m benchmarks.mock_throughput`` (about 20 seconds; ``--seconds``).

The mock (ten positions) runs in its own process under uvicorn, as ``portico mock alpaca`` serves it,
with its per-key rate limit off; an aiohttp load loop keeps 8 keep-alive connections busy. Two mocks
are measured in the same run: one on the real-time clock (prices move with the wall clock, so each
read prices the book again) and one on a frozen clock (what an older version of this benchmark
measured). The mock's own CPU time per request is read from ``/proc``, the load loop's from this
process. For scale, a third server answers every request with a fixed body of the same size through
the same uvicorn setup (``start_mock``: uvloop, httptools): the server's floor on this machine, so the
ratio says how much of the cost is the mock's own and how much the HTTP server's and the machine's.
Target (issue 28): at least 3,000 requests per second on the real-time clock.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from decimal import Decimal
from typing import Any

__all__ = ["main"]

KEYS = {"APCA-API-KEY-ID": "BENCH", "APCA-API-SECRET-KEY": "secret"}
SYMBOLS = ("AAPL", "MSFT", "TSLA", "SPY", "QQQ", "AMZN", "GOOGL", "NVDA", "META", "IBM")


class _FixedAnswer:
    """An ASGI app answering every request with one fixed JSON body (and the lifespan protocol)."""

    __asgi__ = True  # start_mock serves it as the app it is

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:  # the request body, to the end
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def _serve(ready: Any, stop: Any, mode: str) -> None:
    from portico.mocks import DEFAULT_START, start_mock
    from portico.mocks.alpaca import create_app

    options: dict[str, Any] = {"start": DEFAULT_START} if mode == "frozen" else {}
    app: Any = create_app(seed=1, rate_limit=None, starting_cash=10_000_000, **options)
    for symbol in SYMBOLS:
        app.venue.place_order(symbol=symbol, side="buy", qty=Decimal(10))
    if mode == "fixed":  # the mock's own answer, then served without the mock
        import httpx

        async def answer() -> bytes:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mock", headers=KEYS) as client:
                response = await client.get("/v2/positions")
                response.raise_for_status()
                return response.content

        app = _FixedAnswer(asyncio.run(answer()))
    running = start_mock(app, log_level="error")
    ready.put(running.base_url)
    stop.wait()
    running.stop_sync()


def _process_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def _load(base_url: str, connections: int, seconds: float) -> tuple[int, int, float]:
    import aiohttp

    done = errors = 0
    async with aiohttp.ClientSession(base_url, connector=aiohttp.TCPConnector(limit=connections),
                                     headers=KEYS) as session:  # fmt: skip

        async def worker(deadline: float) -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.get("/v2/positions") as response:
                    await response.read()
                    if response.status == 200:
                        done += 1
                    else:
                        errors += 1

        warm = time.perf_counter() + 0.5
        await asyncio.gather(*(worker(warm) for _ in range(connections)))
        done = errors = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds) for _ in range(connections)))
        return done, errors, time.perf_counter() - started


def _measure(mode: str, connections: int, seconds: float) -> tuple[float, int, float | None, float]:
    """(requests/s, errors, server CPU us per request, load loop CPU us per request)."""
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop, mode), daemon=True)
    server.start()
    try:
        base_url = ready.get(timeout=60)
        before = _process_cpu(server.pid or 0)
        client_before = time.process_time()
        done, errors, elapsed = asyncio.run(_load(base_url, connections, seconds))
        client_us = (time.process_time() - client_before) / max(done + errors, 1) * 1e6
        after = _process_cpu(server.pid or 0)
    finally:
        stop.set()
        server.join(15)
    cpu_us = (
        (after - before) / max(done + errors, 1) * 1e6 if before is not None and after is not None else None
    )
    return done / elapsed, errors, cpu_us, client_us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.mock_throughput")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    modes = (("real-time clock (portico mock)", "realtime"), ("frozen clock", "frozen"),
             ("fixed answer, same server (floor)", "fixed"))  # fmt: skip
    rows = [(label, *_measure(mode, args.connections, args.seconds)) for label, mode in modes]
    print(
        f"Alpaca mock GET /v2/positions (10 positions), {args.connections} connections, {args.seconds:g} s each"
    )
    print(f"{'':<36}{'req/s':>9}{'errors':>8}{'server CPU us/req':>19}{'client CPU us/req':>19}")
    for label, rate, errors, cpu_us, client_us in rows:
        cpu = f"{cpu_us:.0f}" if cpu_us is not None else "n/a"
        print(f"{label:<36}{rate:>9,.0f}{errors:>8}{cpu:>19}{client_us:>19.0f}")
    realtime_rate = rows[0][1]
    cpu_us = rows[0][3]
    floor_rate, floor_cpu = rows[2][1], rows[2][3]
    if cpu_us and floor_cpu:
        print(f"the mock vs the fixed answer on the same server: {floor_rate / realtime_rate:.2f}x the time, "
              f"{cpu_us / floor_cpu:.2f}x the server CPU per request")  # fmt: skip
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    capacity = f", {1e6 / cpu_us:,.0f} req/s per core of mock CPU" if cpu_us else ""
    print(f"TARGET mock_throughput alpaca GET /v2/positions: >= 3,000 req/s on the real-time clock: "
          f"{realtime_rate:,.0f} req/s{capacity} {'met' if realtime_rate >= 3000 else 'missed'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
