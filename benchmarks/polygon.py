"""Polygon.io (Massive): portico's connector vs the vendor's ``massive`` client on the same mock.

Run: ``.venv/bin/python -m benchmarks.polygon`` (under a minute, loopback only; ``--rounds``, ``--series``).

100 daily series (a year of day bars each, the same five tickers in turn) from one mock in its own process
on a paid plan (no call limit), like for like at two concurrencies:

* one after another: ``massive.RESTClient.get_aggs`` against ``PolygonConnector.get_bars``;
* 8 at a time: ``get_aggs`` from 8 threads sharing one client (its connection pool) against ``get_bars``
  8 at a time on one connector (what ``get_market_data`` with many symbols does).

Every series is checked on both sides: the same bar timestamps and closes (massive's floats against
portico's exact decimals as floats). The check runs after the clock stops, on both sides alike: turning
portico's datetimes and decimals into massive's integers and floats for the comparison cost more than
building the bars (about 0.3 ms a series), and is the benchmark's work, not the caller's. The four runs alternate over ``--rounds`` rounds; each figure is the
median. Printed per series: wall time, the client process's CPU, and the mock's CPU (read from
``/proc``), so it shows when the mock, not the client, sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["main"]

KEY = "bench-paid-key"
TICKERS = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA"]
START, END = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
CONCURRENCY = 8
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Series = list[tuple[int, float]]  # (bar start in Unix ms, close) per bar
Run = tuple[float, float, float, list[Series]]  # wall s, client CPU s, mock CPU s, series


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks._kit import MockClock
    from portico.mocks.polygon import create_app

    app = create_app(seed=7, clock=MockClock(datetime(2026, 1, 5, 15, tzinfo=UTC)))
    running = start_mock(app, log_level="error")
    ready.put((running.base_url, os.getpid()))
    stop.wait()
    running.stop_sync()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _series(n: int) -> list[str]:
    return [TICKERS[i % len(TICKERS)] for i in range(n)]


def _timed(pid: int, work: Callable[[], list[Any]], check: Callable[[Any], Series]) -> Run:
    mock, wall, cpu = _proc_cpu(pid), time.perf_counter(), time.process_time()
    answers = work()
    timed = time.perf_counter() - wall, time.process_time() - cpu, _proc_cpu(pid) - mock
    return *timed, [check(answer) for answer in answers]


def _massive_series(aggs: list[Any]) -> Series:
    return [(a.timestamp, a.close) for a in aggs]


def _portico_series(bars: list[Any]) -> Series:
    return [((b.timestamp - EPOCH) // timedelta(milliseconds=1), float(b.close)) for b in bars]


def _massive(base: str, pid: int, n: int, concurrency: int) -> Run:
    from massive import RESTClient

    client = RESTClient(api_key=KEY, base=base, retries=0)  # its pool keeps 10 connections a host

    def one(ticker: str) -> list[Any]:
        return client.get_aggs(ticker, 1, "day", "2025-01-02", "2025-12-31", limit=50000)

    def work() -> list[list[Any]]:
        if concurrency == 1:
            return [one(t) for t in _series(n)]
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, _series(n)))

    return _timed(pid, work, _massive_series)


def _portico(base: str, pid: int, n: int, concurrency: int) -> Run:
    from portico.connectors.polygon.connector import PolygonConnector
    from portico.sdk import ConnectorContext

    async def run() -> Run:
        context = ConnectorContext.for_testing(
            PolygonConnector,
            urls={"base": base},
            credentials={"api_key": KEY},
            connection={"plan": "advanced"},
        )
        connector = PolygonConnector(context)
        await connector.open()
        gate = asyncio.Semaphore(concurrency)

        async def one(ticker: str) -> list[Any]:
            async with gate:
                return await connector.get_bars(ticker, start=START, end=END)

        try:
            mock, wall, cpu = _proc_cpu(pid), time.perf_counter(), time.process_time()
            answers = await asyncio.gather(*(one(t) for t in _series(n)))
            timed = time.perf_counter() - wall, time.process_time() - cpu, _proc_cpu(pid) - mock
            return *timed, [_portico_series(bars) for bars in answers]
        finally:
            await connector.close()

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.polygon")
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    runs = {
        "massive get_aggs, one at a time": lambda base, pid: _massive(base, pid, args.series, 1),
        "portico get_bars, one at a time": lambda base, pid: _portico(base, pid, args.series, 1),
        f"massive get_aggs, {CONCURRENCY} threads": lambda base, pid: _massive(base, pid, args.series, CONCURRENCY),
        f"portico get_bars, {CONCURRENCY} at a time": lambda base, pid: _portico(base, pid, args.series, CONCURRENCY),
    }  # fmt: skip
    results: dict[str, list[Run]] = {name: [] for name in runs}
    try:
        base, pid = ready.get(timeout=60)
        _massive(base, pid, 5, 1)  # warm both (and the mock's kept windows)
        _portico(base, pid, 5, 1)
        for _ in range(args.rounds):
            for name, run in runs.items():
                results[name].append(run(base, pid))
    finally:
        stop.set()
        server.join(timeout=10)
    reference = results["massive get_aggs, one at a time"][0][3]
    bars = sum(len(s) for s in reference)
    for name, rows in results.items():
        for row in rows:
            assert row[3] == reference, f"{name} answered other bars than massive"

    def median(name: str, i: int) -> float:
        return statistics.median(float(r[i]) for r in results[name])  # type: ignore[arg-type]

    print(f"{args.series} daily series of a year ({bars} bars, checked equal on both sides), one mock, "
          f"median of {args.rounds} alternating rounds")  # fmt: skip
    print(f"{'':<34}{'wall s':>8}{'ms/series':>11}{'CPU ms/series':>15}{'mock CPU ms':>13}{'wall ratio':>12}")
    pairs = [(f"massive get_aggs, {label}", f"portico get_bars, {label}")
             for label in ("one at a time", f"{CONCURRENCY} threads")]  # fmt: skip
    for name in runs:
        peer = "massive get_aggs, one at a time" if "one at a time" in name else pairs[1][0]
        ratio = median(peer, 0) / median(name, 0)
        print(f"{name:<34}{median(name, 0):>8.2f}{median(name, 0) / args.series * 1e3:>11.2f}"
              f"{median(name, 1) / args.series * 1e3:>15.2f}{median(name, 2) / args.series * 1e3:>13.2f}"
              f"{ratio:>11.2f}x")  # fmt: skip

    def target(label: str, massive: str, portico: str) -> None:
        ratio = median(massive, 0) / median(portico, 0)
        cpu = median(massive, 1) / median(portico, 1)
        verdict = "met" if ratio >= 1.5 else "missed"
        print(f"TARGET polygon 100 daily series {label}: portico >= 1.5x massive: wall {ratio:.2f}x "
              f"(client CPU {cpu:.2f}x) {verdict}")  # fmt: skip

    target("one at a time", "massive get_aggs, one at a time", "portico get_bars, one at a time")
    target(f"{CONCURRENCY} at a time", f"massive get_aggs, {CONCURRENCY} threads",
           f"portico get_bars, {CONCURRENCY} at a time")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
