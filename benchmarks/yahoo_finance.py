"""Yahoo Finance: portico's connector vs yfinance on the same mock.

Run: ``.venv/bin/python -m benchmarks.yahoo_finance`` (under a minute, loopback only).

100 daily series (a year of day bars each): ``yfinance.Ticker.history`` one after another (its
``session=`` seam, curl_cffi off, an adapter sending Yahoo's hosts to the mock) against portico's
``YahooFinanceConnector.get_bars`` one after another and 8 at a time. The mock runs in its own process;
wall time and the client process's CPU for the whole pull.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["main"]

TICKERS = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA"]
START, END = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
PINNED = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks.yahoo_finance import create_app

    app = create_app(seed=3, start=PINNED, history_start=date(2024, 1, 2))
    running = start_mock(app, log_level="error")
    ready.put((running.base_url, running.port))
    stop.wait()
    running.stop_sync()


def _series(n: int) -> list[str]:
    return [TICKERS[i % len(TICKERS)] for i in range(n)]


def _yfinance(port: int, n: int) -> tuple[float, float, int]:
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
    session.mount("https://", ToMock())
    wall, cpu = time.perf_counter(), time.process_time()
    bars = 0
    for ticker in _series(n):
        frame = yf.Ticker(ticker, session=session).history(start="2025-01-02", end="2026-01-01", interval="1d")
        bars += len(frame)
    return time.perf_counter() - wall, time.process_time() - cpu, bars


async def _portico(base: str, n: int, concurrency: int) -> tuple[float, float, int]:
    from portico.connectors.yahoo_finance.connector import YahooFinanceConnector
    from portico.sdk import ConnectorContext

    urls = {"query1": base, "query2": base, "cookie": base}
    context = ConnectorContext.for_testing(YahooFinanceConnector, urls=urls, connection={"requests_per_minute": 600})
    connector = YahooFinanceConnector(context)
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
    parser = argparse.ArgumentParser(prog="benchmarks.yahoo_finance")
    parser.add_argument("--series", type=int, default=100)
    args = parser.parse_args(argv)
    os.environ["YF_DISABLE_CURL_CFFI"] = "1"  # before yfinance is imported: it picks its backend on import
    import yfinance as yf

    yf.set_tz_cache_location(tempfile.mkdtemp(prefix="yf-bench-"))
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base, port = ready.get(timeout=60)
        _yfinance(port, 5)  # warm both
        asyncio.run(_portico(base, 5, 1))
        y_wall, y_cpu, y_bars = _yfinance(port, args.series)
        s_wall, s_cpu, s_bars = asyncio.run(_portico(base, args.series, 1))
        c_wall, c_cpu, c_bars = asyncio.run(_portico(base, args.series, 8))
        assert y_bars == s_bars == c_bars, (y_bars, s_bars, c_bars)
        print(f"{args.series} daily series of a year ({y_bars} bars), one run, same mock")
        print(f"{'':<30}{'wall s':>8}{'cpu s':>8}{'wall ratio':>12}")
        print(f"{'yfinance history, sequential':<30}{y_wall:>8.2f}{y_cpu:>8.2f}{1.0:>11.2f}x")
        print(f"{'portico, sequential':<30}{s_wall:>8.2f}{s_cpu:>8.2f}{y_wall / s_wall:>11.2f}x")
        print(f"{'portico, 8 at a time':<30}{c_wall:>8.2f}{c_cpu:>8.2f}{y_wall / c_wall:>11.2f}x")
        print("target: portico >= 1.5x yfinance")
    finally:
        stop.set()
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
