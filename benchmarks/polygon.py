"""Polygon.io (Massive): portico's connector vs the vendor's ``massive`` client on the same mock.

Run: ``.venv/bin/python -m benchmarks.polygon`` (under a minute, loopback only).

100 daily series (a year of day bars each): ``massive.RESTClient.get_aggs`` one after another, as its
synchronous API runs them, against portico's ``PolygonConnector.get_bars`` one after another and
8 at a time (what ``get_market_data`` with many symbols does). The mock runs in its own process on a
paid plan (no call limit); wall time and the client process's CPU for the whole pull.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["main"]

KEY = "bench-paid-key"
TICKERS = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA"]
START, END = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, tzinfo=UTC)


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks._kit import MockClock
    from portico.mocks.polygon import create_app

    app = create_app(seed=7, clock=MockClock(datetime(2026, 1, 5, 15, tzinfo=UTC)))
    running = start_mock(app, log_level="error")
    ready.put(running.base_url)
    stop.wait()
    running.stop_sync()


def _series(n: int) -> list[str]:
    return [TICKERS[i % len(TICKERS)] for i in range(n)]


def _massive(base: str, n: int) -> tuple[float, float, int]:
    from massive import RESTClient

    client = RESTClient(api_key=KEY, base=base, retries=0)
    wall, cpu = time.perf_counter(), time.process_time()
    bars = sum(len(client.get_aggs(t, 1, "day", "2025-01-02", "2025-12-31", limit=50000)) for t in _series(n))
    return time.perf_counter() - wall, time.process_time() - cpu, bars


async def _portico(base: str, n: int, concurrency: int) -> tuple[float, float, int]:
    from portico.connectors.polygon.connector import PolygonConnector
    from portico.sdk import ConnectorContext

    context = ConnectorContext.for_testing(
        PolygonConnector, urls={"base": base}, credentials={"api_key": KEY}, connection={"plan": "advanced"}
    )
    connector = PolygonConnector(context)
    await connector.open()
    gate = asyncio.Semaphore(concurrency)

    async def one(ticker: str) -> int:
        async with gate:
            return len(await connector.get_bars(ticker, start=START, end=END))

    try:
        wall, cpu = time.perf_counter(), time.process_time()
        counts = await asyncio.gather(*(one(t) for t in _series(n)))
        return time.perf_counter() - wall, time.process_time() - cpu, sum(counts)
    finally:
        await connector.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.polygon")
    parser.add_argument("--series", type=int, default=100)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base = ready.get(timeout=60)
        _massive(base, 5)  # warm both
        asyncio.run(_portico(base, 5, 1))
        m_wall, m_cpu, m_bars = _massive(base, args.series)
        s_wall, s_cpu, s_bars = asyncio.run(_portico(base, args.series, 1))
        c_wall, c_cpu, c_bars = asyncio.run(_portico(base, args.series, 8))
        assert m_bars == s_bars == c_bars, (m_bars, s_bars, c_bars)
        print(f"{args.series} daily series of a year ({m_bars} bars), one run, same mock")
        print(f"{'':<30}{'wall s':>8}{'cpu s':>8}{'wall ratio':>12}")
        print(f"{'massive get_aggs, sequential':<30}{m_wall:>8.2f}{m_cpu:>8.2f}{1.0:>11.2f}x")
        print(f"{'portico, sequential':<30}{s_wall:>8.2f}{s_cpu:>8.2f}{m_wall / s_wall:>11.2f}x")
        print(f"{'portico, 8 at a time':<30}{c_wall:>8.2f}{c_cpu:>8.2f}{m_wall / c_wall:>11.2f}x")
        print("target: portico >= 1.5x massive")
    finally:
        stop.set()
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
