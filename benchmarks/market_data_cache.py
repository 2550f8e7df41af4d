"""Market data cache and quality checks: what a cache miss adds to a call, and what the checks cost.

Run: ``.venv/bin/python -m benchmarks.market_data_cache [--calls 300]``

(a) Cache miss: ``get_market_data`` for 30 five-minute bars of one symbol (intraday: the daily-bar history
    layer, a store of its own, stays out of it), each call a window never asked
    before (so every call with the cache on is a miss that stores its answer), against the same kind of calls
    with the cache off. Both services use the Alpha Vantage connector on the in-process mock (ASGI
    transport, no sockets), on a SQLite store in a temporary directory; rounds alternate and the median
    round is reported, wall and CPU per call. Target: a miss at most 1.2x the cache-off call.
(b) Quality checks on daily bars (``check_bars``, a year of bars): per series with the trading
    calendar cached per range, and with the cache cleared before every series (what every call paid
    before), beside the share of a cache-off call the checks take.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["main"]

_END = datetime(2026, 1, 2, 21, 0, tzinfo=UTC)


async def _calls(service: Any, offset: int, calls: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        # a window never asked before (its end moves a minute per call): a distinct cache key, so a miss
        end = _END - timedelta(minutes=offset + i)
        result = await service.get_market_data(
            "av", ["IBM"], "bars", {"interval": "5min", "limit": 30, "end": end.isoformat()}
        )
        result.raise_for_errors()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


async def bench_cache(calls: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Part (a): median (wall, CPU) seconds per call, cache on (every call a miss) and off."""
    from portico.clock import FakeClock
    from portico.marketdata import MarketDataService
    from portico.store import Database
    from tests.connectors.alpha_vantage.conftest import AvHarness  # run from the repository root

    clock = FakeClock(datetime(2026, 1, 6, 21, 0, tzinfo=UTC))
    harness = AvHarness(clock)
    connector = harness.connector(system_id="av")
    figures: dict[str, list[tuple[float, float]]] = {"cache off": [], "cache on, miss": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'cache.db'}")
        services = {
            "cache off": MarketDataService(
                {"av": connector}, db=db, clock=clock, config={"cache": {"enabled": False}}
            ),
            "cache on, miss": MarketDataService(
                {"av": connector}, db=db, clock=clock, config={"cache": {"ttl": {"bars": 3600}}}
            ),
        }
        try:
            await _calls(services["cache off"], 0, 20)  # warm the connector, the mock and the store
            offset = 1000
            for _ in range(rounds):
                for label, service in services.items():
                    figures[label].append(await _calls(service, offset, calls))
                    offset += calls
            cache = services["cache on, miss"].cache
            assert cache is not None
            cache.flush()
        finally:
            for service in services.values():
                await service.aclose()
                if service.cache is not None:
                    service.cache.close()
            await connector.close()
            db.dispose()
    return {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in figures.items()
    }


def bench_quality(series: int) -> dict[str, float]:
    """Part (b): CPU seconds per ``check_bars`` of a year of daily bars, calendar cached and not."""
    from portico.marketdata import _calendar
    from portico.marketdata._config import QualityConfig
    from portico.marketdata._quality import check_bars
    from portico.models import Bar, BarInterval

    start = datetime(2025, 1, 2, 21, 0, tzinfo=UTC)
    days = [start + timedelta(days=d) for d in range(365)]
    bars = [
        Bar(
            symbol="IBM",
            timestamp=t,
            open=Decimal(100),
            high=Decimal(101),
            low=Decimal(99),
            close=Decimal(100),
            volume=Decimal(1000),
        )
        for t in days
        if t.weekday() < 5
    ]
    config = QualityConfig()
    now = days[-1] + timedelta(hours=2)
    out: dict[str, float] = {}
    for label, clear in (("calendar cached per range", False), ("calendar computed per series", True)):
        cpu = time.process_time()
        for _ in range(series):
            if clear:
                _calendar._trading_days.cache_clear()
            check_bars("IBM", bars, BarInterval.DAY, now=now, config=config)
        out[label] = (time.process_time() - cpu) / series
    return out


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print the figures with the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--series", type=int, default=300)
    args = parser.parse_args(argv)

    print(
        f"(a) get_market_data 5-minute bars, Alpha Vantage in-process mock, {args.calls} calls x {args.rounds} alternating rounds (median round)"
    )
    figures = asyncio.run(bench_cache(args.calls, args.rounds))
    off_wall, off_cpu = figures["cache off"]
    for label, (wall, cpu) in figures.items():
        print(f"    {label:<18} {wall * 1e3:8.3f} ms wall  {cpu * 1e3:8.3f} ms CPU per call")
    miss_wall, miss_cpu = figures["cache on, miss"]
    ratio = miss_wall / off_wall
    print(f"    miss / cache-off  {ratio:8.2f}x wall  {miss_cpu / off_cpu:8.2f}x CPU")
    print(
        f"TARGET market_data_cache: cache miss <= 1.2x the cache-off call: {ratio:.2f}x {'met' if ratio <= 1.2 else 'missed'}"
    )

    print(f"\n(b) check_bars on a year of daily bars, {args.series} series")
    quality = bench_quality(args.series)
    for label, cpu in quality.items():
        print(
            f"    {label:<30} {cpu * 1e6:8.0f} us CPU per series  ({cpu / off_cpu:5.1%} of a cache-off call's CPU)"
        )
    speedup = quality["calendar computed per series"] / quality["calendar cached per range"]
    print(
        f"TARGET market_data_quality: trading calendar cached per range: checks {speedup:.1f}x faster than computing it per series {'met' if speedup > 1 else 'missed'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
