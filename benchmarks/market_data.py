"""Market data throughput: portico's market data service against the raw clients, in one run, on loopback.

Run: ``.venv/bin/python -m benchmarks.market_data`` (about a minute).

(a) Streaming: quotes from the Alpaca mock's market data stream delivered through
    ``subscribe_market_data`` to a callback, against a raw ``websockets`` receive loop on the same stream
    (messages per second; target at least 50,000/s and within 1.5x of the raw loop).
(b) Daily bars for 100 symbols from the Alpha Vantage mock (its own process) on premium keys
    (150 calls/minute): portico's ``get_market_data`` (canonical Decimal bars, quality checks, the shared
    limiter and retry policy) against the community ``alpha_vantage`` package (dicts of strings), same mock,
    same run. Each round uses fresh keys so no client inherits another's quota; the best of five rounds
    is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

_AV_SERVER = r"""
import socket, sys
import uvicorn
from portico.mocks._kit import MockClock
from portico.mocks.alpha_vantage import create_app

symbols = [f"SYM{i:03d}" for i in range(int(sys.argv[1]))]
tiers = {f"{who}-{r}": "premium_150" for who in ("warm", "package", "threads", "portico", "sequential") for r in range(5)}
app = create_app(seed=11, clock=MockClock(), symbols=symbols, key_tiers=tiers)
# proto IPPROTO_TCP, or asyncio leaves Nagle on for accepted connections (40 ms per small answer)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False)).run(sockets=[sock])
"""


def _start_av_mock(symbols: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _AV_SERVER, str(symbols)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())
    return proc, f"http://127.0.0.1:{port}"


def _package_sequential(base: str, key: str, symbols: list[str]) -> int:
    from alpha_vantage.alphavantage import AlphaVantage
    from alpha_vantage.timeseries import TimeSeries

    AlphaVantage._ALPHA_VANTAGE_API_URL = f"{base}/query?"
    ts = TimeSeries(key=key)
    rows = 0
    for symbol in symbols:
        data, _ = ts.get_daily(symbol)
        rows += len(data)
    return rows


def _package_threads(base: str, key: str, symbols: list[str], threads: int = 8) -> int:
    from alpha_vantage.alphavantage import AlphaVantage
    from alpha_vantage.timeseries import TimeSeries

    AlphaVantage._ALPHA_VANTAGE_API_URL = f"{base}/query?"
    ts = TimeSeries(key=key)
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(len(data) for data, _ in pool.map(ts.get_daily, symbols))


async def _portico(base: str, key: str, symbols: list[str], *, sequential: bool) -> int:
    from portico.connectors.alpha_vantage import AlphaVantageConnector, rate_limit_policy
    from portico.http import ApiClient, RateLimiter
    from portico.marketdata import MarketDataService
    from portico.sdk import ConnectorContext

    policy = rate_limit_policy("premium_150")
    limiter = RateLimiter(policy, name="bench")

    def factory(base_url: str, **overrides: Any) -> ApiClient:
        return ApiClient(
            base_url, **{"system": "av", "retry": policy.retry, "rate_limiter": limiter, **overrides}
        )

    context = ConnectorContext.for_testing(
        AlphaVantageConnector,
        urls={"base": f"{base}/query"},
        system_id="av",
        credentials={"api_key": key},
        connection={"tier": "premium_150"},
        client_factory=factory,
    )
    connector = AlphaVantageConnector(context)
    await connector.open()
    try:
        if sequential:
            rows = 0
            for symbol in symbols:
                rows += len(await connector.get_bars(symbol, limit=100))
            return rows
        service = MarketDataService({"av": connector}, config={"cache": {"enabled": False}})
        result = await service.get_market_data("av", symbols, "bars", {"limit": 100})
        result.raise_for_errors()
        return sum(len(bars) for bars in result.data.values())
    finally:
        await connector.close()


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    rows = fn()
    return time.perf_counter() - start, rows


def bench_daily_bars(symbols: int, rounds: int) -> dict[str, float]:
    """Part (b): seconds for ``symbols`` daily series per client (best of ``rounds``)."""
    proc, base = _start_av_mock(symbols)
    names = [f"SYM{i:03d}" for i in range(symbols)]
    try:
        _package_threads(base, "warm-0", names)  # the mock generates and caches each series once
        best: dict[str, float] = {}
        for r in range(rounds):
            runs = {
                "alpha_vantage package, sequential": lambda r=r: _package_sequential(
                    base, f"package-{r}", names
                ),
                "alpha_vantage package, 8 threads": lambda r=r: _package_threads(base, f"threads-{r}", names),
                "portico connector, sequential": lambda r=r: asyncio.run(
                    _portico(base, f"sequential-{r}", names, sequential=True)
                ),
                "portico get_market_data (16 in flight)": lambda r=r: asyncio.run(
                    _portico(base, f"portico-{r}", names, sequential=False)
                ),
            }
            for label, run in runs.items():
                seconds, rows = _timed(run)
                if rows != symbols * 100:
                    raise SystemExit(f"{label} returned {rows} rows, expected {symbols * 100}")
                best[label] = min(best.get(label, float("inf")), seconds)
        return best
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _streaming_available() -> str | None:
    try:
        import portico.connectors.alpaca.connector  # noqa: F401
    except ImportError as exc:
        return f"the Alpaca connector is not installed ({exc})"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print the side-by-side figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200_000, help="quotes per streaming run")
    parser.add_argument("--skip-stream", action="store_true")
    args = parser.parse_args(argv)

    print("(a) streaming quotes: Alpaca mock data stream -> callback")
    missing = None if args.skip_stream else _streaming_available()
    if args.skip_stream or missing:
        print(f"    skipped: {missing or '--skip-stream'}")
    else:
        from benchmarks._market_data_stream import bench_stream

        figures = asyncio.run(bench_stream(args.messages))
        raw = figures["raw websockets receive loop"]
        for label, rate in figures.items():
            print(f"    {label:<44} {rate:>12,.0f} msg/s   raw/this {raw / rate:5.2f}x")

    print(f"\n(b) daily bars, {args.symbols} symbols, Alpha Vantage mock, premium keys (150/minute)")
    best = bench_daily_bars(args.symbols, args.rounds)
    reference = best["alpha_vantage package, sequential"]
    for label, seconds in best.items():
        print(f"    {label:<44} {seconds:8.3f} s   package-seq/this {reference / seconds:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
