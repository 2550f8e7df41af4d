"""Yahoo Finance: portico's connector vs yfinance on the same mock.

Run: ``.venv/bin/python -m benchmarks.yahoo_finance`` (under a minute, loopback only; ``--rounds``,
``--series``).

100 daily series (a year of day bars each, the same five tickers in turn) from one mock in its own process
(its clock pinned), like for like at two concurrencies:

* one after another: ``yfinance.Ticker.history`` (its ``session=`` seam, curl_cffi off, an adapter sending
  Yahoo's hosts to the mock) against ``YahooFinanceConnector.get_bars``;
* 8 at a time: ``history`` from 8 threads sharing one session against ``get_bars`` 8 at a time on one
  connector.

yfinance keeps the answers of past windows in memory: the cache is cleared before each series, so both
sides ask the mock every time. Every series is checked on both sides: the same trading days and unadjusted closes (yfinance's
``auto_adjust=False`` ``Close`` against portico's exact decimals as floats). The four runs alternate over
``--rounds`` rounds; each figure is the median. Printed per series: wall time, the client process's CPU,
and the mock's CPU (read from ``/proc``), so it shows when the mock, not the client, sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["main"]

TICKERS = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA"]
START, END = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
PINNED = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
CONCURRENCY = 8

Series = list[tuple[str, float]]  # (trading day, unadjusted close) per bar
Run = tuple[float, float, float, list[Series]]  # wall s, client CPU s, mock CPU s, series


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks.yahoo_finance import create_app

    app = create_app(seed=3, start=PINNED, history_start=date(2024, 1, 2))
    running = start_mock(app, log_level="error")
    ready.put((running.base_url, running.port, os.getpid()))
    stop.wait()
    running.stop_sync()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _series(n: int) -> list[str]:
    return [TICKERS[i % len(TICKERS)] for i in range(n)]


def _yfinance(port: int, pid: int, n: int, concurrency: int) -> Run:
    import requests
    import yfinance as yf
    from requests.adapters import HTTPAdapter

    class ToMock(HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            parts = urlsplit(request.url or "")
            copy = request.copy()
            copy.url = urlunsplit(("http", f"127.0.0.1:{port}", parts.path, parts.query, ""))
            copy.headers["Host"] = parts.hostname or ""
            response = super().send(copy, **kwargs)
            response.request, response.url = request, request.url or ""
            return response

    session = requests.Session()
    session.mount("https://", ToMock(pool_maxsize=concurrency))

    def one(ticker: str) -> Series:
        # yfinance keeps the answers of past windows (64 of them); each series here asks the mock, as
        # portico's connector does (the market data service's cache, not the connector, keeps answers)
        yf.data.YfData.cache_get.cache_clear()
        frame = yf.Ticker(ticker, session=session).history(
            start="2025-01-02", end="2026-01-01", interval="1d", auto_adjust=False
        )
        return [
            (stamp.date().isoformat(), float(close))
            for stamp, close in zip(frame.index, frame["Close"], strict=True)
        ]

    def work() -> list[Series]:
        if concurrency == 1:
            return [one(t) for t in _series(n)]
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, _series(n)))

    mock, wall, cpu = _proc_cpu(pid), time.perf_counter(), time.process_time()
    series = work()
    return time.perf_counter() - wall, time.process_time() - cpu, _proc_cpu(pid) - mock, series


def _portico(base: str, pid: int, n: int, concurrency: int) -> Run:
    from portico.connectors.yahoo_finance.connector import YahooFinanceConnector
    from portico.sdk import ConnectorContext

    async def run() -> Run:
        urls = {"query1": base, "query2": base, "cookie": base}
        context = ConnectorContext.for_testing(
            YahooFinanceConnector, urls=urls, connection={"requests_per_minute": 600}
        )
        connector = YahooFinanceConnector(context)
        await connector.open()
        gate = asyncio.Semaphore(concurrency)

        async def one(ticker: str) -> Series:
            async with gate:
                bars = await connector.get_bars(ticker, start=START, end=END)
            return [(b.timestamp.date().isoformat(), float(b.close)) for b in bars]

        try:
            mock, wall, cpu = _proc_cpu(pid), time.perf_counter(), time.process_time()
            series = await asyncio.gather(*(one(t) for t in _series(n)))
            return time.perf_counter() - wall, time.process_time() - cpu, _proc_cpu(pid) - mock, list(series)
        finally:
            await connector.close()

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.yahoo_finance")
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ["YF_DISABLE_CURL_CFFI"] = "1"  # before yfinance is imported: it picks its backend on import
    import yfinance as yf

    yf.set_tz_cache_location(tempfile.mkdtemp(prefix="yf-bench-"))
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    runs: dict[str, Callable[[str, int, int], Run]] = {
        "yfinance history, one at a time": lambda base, port, pid: _yfinance(port, pid, args.series, 1),
        "portico get_bars, one at a time": lambda base, port, pid: _portico(base, pid, args.series, 1),
        f"yfinance history, {CONCURRENCY} threads": lambda base, port, pid: _yfinance(port, pid, args.series, CONCURRENCY),
        f"portico get_bars, {CONCURRENCY} at a time": lambda base, port, pid: _portico(base, pid, args.series, CONCURRENCY),
    }  # fmt: skip
    results: dict[str, list[Run]] = {name: [] for name in runs}
    try:
        base, port, pid = ready.get(timeout=60)
        _yfinance(port, pid, 5, 1)  # warm both (and the mock's kept answers)
        _portico(base, pid, 5, 1)
        for _ in range(args.rounds):
            for name, run in runs.items():
                results[name].append(run(base, port, pid))
    finally:
        stop.set()
        server.join(timeout=10)
    reference = results["yfinance history, one at a time"][0][3]
    bars = sum(len(s) for s in reference)
    for name, rows in results.items():
        for row in rows:
            assert row[3] == reference, f"{name} answered other bars than yfinance"

    def median(name: str, i: int) -> float:
        return statistics.median(float(r[i]) for r in results[name])  # type: ignore[arg-type]

    one, many = "one at a time", f"{CONCURRENCY} threads"
    print(f"{args.series} daily series of a year ({bars} bars, checked equal on both sides), one mock, "
          f"median of {args.rounds} alternating rounds")  # fmt: skip
    print(f"{'':<34}{'wall s':>8}{'ms/series':>11}{'CPU ms/series':>15}{'mock CPU ms':>13}{'wall ratio':>12}")
    for name in runs:
        peer = f"yfinance history, {one if one in name else many}"
        print(f"{name:<34}{median(name, 0):>8.2f}{median(name, 0) / args.series * 1e3:>11.2f}"
              f"{median(name, 1) / args.series * 1e3:>15.2f}{median(name, 2) / args.series * 1e3:>13.2f}"
              f"{median(peer, 0) / median(name, 0):>11.2f}x")  # fmt: skip

    def target(label: str, vendor: str, portico: str) -> None:
        ratio = median(vendor, 0) / median(portico, 0)
        cpu = median(vendor, 1) / median(portico, 1)
        verdict = "met" if ratio >= 1.5 else "missed"
        print(f"TARGET yahoo_finance 100 daily series {label}: portico >= 1.5x yfinance: wall {ratio:.2f}x "
              f"(client CPU {cpu:.2f}x) {verdict}")  # fmt: skip

    target(one, f"yfinance history, {one}", f"portico get_bars, {one}")
    target(
        f"{CONCURRENCY} at a time", f"yfinance history, {many}", f"portico get_bars, {CONCURRENCY} at a time"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
