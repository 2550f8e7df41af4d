"""Alpaca: portico vs alpaca-py against the same local mock, and the mock's own throughput.

Run: ``.venv/bin/python -m benchmarks.alpaca`` (about a minute, loopback only).

1. Sequential calls per second, one call at a time: listing positions and placing market orders,
   through portico's Alpaca connector and through alpaca-py's ``TradingClient``. Target: portico at
   least 2x alpaca-py.
2. The mock serving ``GET /v2/positions`` to 8 concurrent keep-alive connections (an aiohttp load loop).
   Target: at least 2,000 requests per second.

The mock runs in its own process (so client and server do not share a GIL) with its per-key rate
limit off; both clients talk to the same mock.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

__all__ = ["main"]

KEYS = {"APCA-API-KEY-ID": "BENCH", "APCA-API-SECRET-KEY": "secret"}
SYMBOLS = ("AAPL", "MSFT", "TSLA", "SPY", "QQQ", "AMZN", "GOOGL", "NVDA", "META", "IBM")


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import DEFAULT_START, start_mock
    from portico.mocks.alpaca import create_app

    app = create_app(seed=1, rate_limit=None, start=DEFAULT_START, starting_cash=10_000_000)
    # a realistic book: one position per symbol
    for symbol in SYMBOLS:
        app.venue.place_order(symbol=symbol, side="buy", qty=Decimal(10))
    running = start_mock(app, log_level="error")
    ready.put(running.base_url)
    stop.wait()
    running.stop_sync()


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


Measure = tuple[float, float]
"""(calls per second, client CPU microseconds per call)."""


async def _timed_async(call: Callable[[int], Awaitable[Any]], seconds: float) -> Measure:
    for i in range(20):  # warm the pool and the code paths
        await call(-1 - i)
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - started) < seconds:
        await call(count)
        count += 1
    return _rate(count, elapsed), (time.process_time() - cpu) / max(count, 1) * 1e6


def _timed_sync(call: Callable[[int], Any], seconds: float) -> Measure:
    for i in range(20):
        call(-1 - i)
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - started) < seconds:
        call(count)
        count += 1
    return _rate(count, elapsed), (time.process_time() - cpu) / max(count, 1) * 1e6


def _process_cpu(pid: int) -> float | None:
    """CPU seconds a process has used (Linux), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _portico(base_url: str, seconds: float) -> dict[str, Measure]:
    from portico.connectors.alpaca import AlpacaConnector
    from portico.models import OrderRequest, OrderSide
    from portico.sdk import ConnectorContext

    urls = {"trading": base_url, "data": base_url}
    context = ConnectorContext.for_testing(
        AlpacaConnector, urls=urls, credentials={"api_key_id": KEYS["APCA-API-KEY-ID"], "api_secret_key": KEYS["APCA-API-SECRET-KEY"]}
    )
    connector = AlpacaConnector(context)
    await connector.open()
    try:

        async def positions(_: int) -> None:
            await connector.get_positions()

        async def order(i: int) -> None:
            await connector.place_order(
                OrderRequest(symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"portico-{i}")
            )

        return {"positions": await _timed_async(positions, seconds), "orders": await _timed_async(order, seconds)}
    finally:
        await connector.close()


def _alpaca_py(base_url: str, seconds: float) -> dict[str, Measure]:
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    client = TradingClient(KEYS["APCA-API-KEY-ID"], KEYS["APCA-API-SECRET-KEY"], url_override=base_url)

    def positions(_: int) -> None:
        client.get_all_positions()

    def order(i: int) -> None:
        client.submit_order(
            MarketOrderRequest(symbol="F", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=f"alpaca-py-{i}")
        )

    return {"positions": _timed_sync(positions, seconds), "orders": _timed_sync(order, seconds)}


async def _load(base_url: str, connections: int, seconds: float) -> tuple[float, int, int]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=connections)
    done = 0
    errors = 0
    async with aiohttp.ClientSession(base_url, connector=connector, headers=KEYS) as session:

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
        elapsed = time.perf_counter() - started
    return _rate(done, elapsed), errors, done + errors


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the figures; returns them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base_url = ready.get(timeout=60)
        ours = asyncio.run(_portico(base_url, args.seconds))
        theirs = _alpaca_py(base_url, args.seconds)
        cpu_before = _process_cpu(server.pid or 0)
        served, errors, total = asyncio.run(_load(base_url, args.connections, args.seconds))
        cpu_after = _process_cpu(server.pid or 0)
    finally:
        stop.set()
        server.join(15)
    server_us = (cpu_after - cpu_before) / max(total, 1) * 1e6 if cpu_before is not None and cpu_after is not None else None
    figures = {
        "portico": ours,
        "alpaca_py": theirs,
        "mock_positions_per_s": served,
        "mock_errors": errors,
        "mock_cpu_us_per_request": server_us,
    }
    print(f"Alpaca benchmark ({args.seconds:g} s per measurement, mock at {base_url}, {os.cpu_count()} CPUs)")
    print(f"{'sequential':<18}{'portico/s':>11}{'alpaca-py/s':>13}{'ratio':>8}   client CPU us/call: portico, alpaca-py, ratio")
    for name, label in (("positions", "list positions"), ("orders", "place order")):
        (ours_rate, ours_cpu), (their_rate, their_cpu) = ours[name], theirs[name]
        print(
            f"  {label:<16}{ours_rate:>11.0f}{their_rate:>13.0f}{ours_rate / their_rate:>7.2f}x"
            f"   {ours_cpu:>8.0f} {their_cpu:>8.0f} {their_cpu / ours_cpu:>6.2f}x"
        )
    print(f"mock GET /v2/positions, {args.connections} connections: {served:.0f} req/s measured, {errors} errors (target >= 2000)")
    if server_us is not None:
        print(f"  mock CPU per request: {server_us:.0f} us -> {1e6 / server_us:.0f} req/s per core of capacity")
    return figures


if __name__ == "__main__":
    main()
