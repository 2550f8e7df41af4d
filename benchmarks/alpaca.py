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


class _Tally:
    """Calls, wall seconds and client CPU seconds, summed over interleaved rounds."""

    def __init__(self) -> None:
        self.calls = 0
        self.wall = 0.0
        self.cpu = 0.0

    def measure(self) -> Measure:
        return _rate(self.calls, self.wall), self.cpu / max(self.calls, 1) * 1e6


def _process_cpu(pid: int) -> float | None:
    """CPU seconds a process has used (Linux), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _sequential(base_url: str, seconds: float, rounds: int) -> tuple[dict[str, Measure], dict[str, Measure]]:
    """portico and alpaca-py in alternating short rounds, so load swings on the machine hit both alike."""
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide as AlpacaSide
    from alpaca.trading.enums import TimeInForce as AlpacaTif
    from alpaca.trading.requests import MarketOrderRequest

    from portico.connectors.alpaca import AlpacaConnector
    from portico.models import OrderRequest, OrderSide
    from portico.sdk import ConnectorContext

    context = ConnectorContext.for_testing(
        AlpacaConnector,
        urls={"trading": base_url, "data": base_url},
        credentials={"api_key_id": KEYS["APCA-API-KEY-ID"], "api_secret_key": KEYS["APCA-API-SECRET-KEY"]},
    )
    connector = AlpacaConnector(context)
    await connector.open()
    theirs_client = TradingClient(KEYS["APCA-API-KEY-ID"], KEYS["APCA-API-SECRET-KEY"], url_override=base_url)
    ids = iter(range(10**9))

    async def portico_positions() -> None:
        await connector.get_positions()

    async def portico_order() -> None:
        await connector.place_order(
            OrderRequest(symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"portico-{next(ids)}")
        )

    def alpaca_positions() -> None:
        theirs_client.get_all_positions()

    def alpaca_order() -> None:
        theirs_client.submit_order(
            MarketOrderRequest(
                symbol="F", qty=1, side=AlpacaSide.BUY, time_in_force=AlpacaTif.DAY, client_order_id=f"alpaca-py-{next(ids)}"
            )
        )

    ours = {"positions": _Tally(), "orders": _Tally()}
    theirs = {"positions": _Tally(), "orders": _Tally()}
    plan: list[tuple[str, Callable[[], Awaitable[None]], Callable[[], None]]] = [
        ("positions", portico_positions, alpaca_positions),
        ("orders", portico_order, alpaca_order),
    ]
    slice_ = seconds / rounds
    try:
        for _, async_call, sync_call in plan:  # warm pools and code paths
            for _ in range(20):
                await async_call()
                sync_call()
        for _ in range(rounds):
            for name, async_call, sync_call in plan:
                tally = ours[name]
                started, cpu = time.perf_counter(), time.process_time()
                while time.perf_counter() - started < slice_:
                    await async_call()
                    tally.calls += 1
                tally.wall += time.perf_counter() - started
                tally.cpu += time.process_time() - cpu
                tally = theirs[name]
                started, cpu = time.perf_counter(), time.process_time()
                while time.perf_counter() - started < slice_:
                    sync_call()
                    tally.calls += 1
                tally.wall += time.perf_counter() - started
                tally.cpu += time.process_time() - cpu
    finally:
        await connector.close()
    return {k: t.measure() for k, t in ours.items()}, {k: t.measure() for k, t in theirs.items()}


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
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds per client and operation")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base_url = ready.get(timeout=60)
        ours, theirs = asyncio.run(_sequential(base_url, args.seconds, args.rounds))
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
    print(
        f"Alpaca benchmark ({args.seconds:g} s per client and operation in {args.rounds} alternating rounds, "
        f"mock at {base_url}, {os.cpu_count()} CPUs)"
    )
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
