"""Alpaca: portico vs alpaca-py against the same local mock, and the mock's own throughput.

Run: ``.venv/bin/python -m benchmarks.alpaca`` (about a minute, loopback only).

1. Sequential calls per second, one call at a time: listing positions and placing market orders,
   through portico's Alpaca connector and through alpaca-py's ``TradingClient``. Target: portico at
   least 2x alpaca-py.
2. The mock serving ``GET /v2/positions`` to 8 concurrent keep-alive connections (an aiohttp load loop).
   Target: at least 2,000 requests per second.
3. The facade's order path, as users call it: ``AsyncIntegration.place_external_order`` (intent stored
   before the send, pre-trade checks, the order stream consumed, audit) against the connector's own
   ``place_order`` on the same runtime, and the synchronous ``Integration`` against the async facade on
   the same calls (an order, a positions read). Targets: the facade at most 2x the connector's cost
   (calls/s and CPU per order); the sync facade within 1.05x of the async one.

The mock runs in its own process (so client and server do not share a GIL) with its per-key rate
limit off; both clients talk to the same mock.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
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
    ready.put((os.getpid(), dict(running.urls)))
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


async def _sequential(
    base_url: str, seconds: float, rounds: int
) -> tuple[dict[str, Measure], dict[str, Measure]]:
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
            OrderRequest(
                symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"portico-{next(ids)}"
            )
        )

    def alpaca_positions() -> None:
        theirs_client.get_all_positions()

    def alpaca_order() -> None:
        theirs_client.submit_order(
            MarketOrderRequest(
                symbol="F",
                qty=1,
                side=AlpacaSide.BUY,
                time_in_force=AlpacaTif.DAY,
                client_order_id=f"alpaca-py-{next(ids)}",
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


def _bench_plugins(urls: dict[str, str]) -> Any:
    """A plugin manager whose ``alpaca`` connector's paper environment is the mock in its own process
    (``mock: true`` would serve it on a thread of the measured process)."""
    from portico.connectors.alpaca import AlpacaConnector
    from portico.hookspecs import hookimpl
    from portico.plugins import PluginManager
    from portico.sdk import Environment

    env = Environment(name="paper", urls=dict(urls), description="the benchmark's mock")
    spec = AlpacaConnector.spec.model_copy(update={"environments": (env,), "default_environment": "paper"})
    connector_cls = type("BenchAlpacaConnector", (AlpacaConnector,), {"spec": spec})

    class _Plugin:
        @hookimpl
        def portico_connectors(self) -> list[Any]:
            return [connector_cls]

    plugins = PluginManager(autoload=False)
    plugins.register(_Plugin(), name="bench-alpaca")
    return plugins


def _facade_config(key: str, database: str) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{database}",
        "systems": {
            "alpaca": {
                "type": "brokerage",
                "connector": "alpaca",
                "allow_insecure": True,  # the loopback mock speaks plain HTTP
                "throttling": {"max_requests_per_minute": 600_000},
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": key, "api_secret_key": "secret"},
                },
            }
        },
    }


def _facade(mocks: list[dict[str, str]], seconds: float, rounds: int, home: str) -> dict[str, Measure]:
    """The connector on its own, the async facade and the sync facade, placing orders (and the facades
    reading positions) in alternating rounds, each on its own mock (a runtime follows its account's
    order stream, so orders of another client there would be its work too): calls/s and client CPU us
    per call (every thread of the process)."""
    from portico.connectors.alpaca import AlpacaConnector
    from portico.runtime import AsyncIntegration, Integration
    from portico.sdk import ConnectorContext

    own_urls, async_urls, sync_urls = mocks
    ids = iter(range(10**9))
    tallies = {k: _Tally() for k in ("connector", "async", "sync", "async_pos", "sync_pos")}
    sync_rt = Integration(_facade_config("BENCH", f"{home}/sync.db"), plugins=_bench_plugins(sync_urls))

    async def run() -> None:
        from portico.models import OrderRequest, OrderSide

        connector = AlpacaConnector(
            ConnectorContext.for_testing(
                AlpacaConnector,
                urls={"trading": own_urls["trading"], "data": own_urls["data"]},
                credentials={
                    "api_key_id": KEYS["APCA-API-KEY-ID"],
                    "api_secret_key": KEYS["APCA-API-SECRET-KEY"],
                },
            )
        )
        await connector.open()
        try:
            async with AsyncIntegration(
                _facade_config("BENCH", f"{home}/async.db"), plugins=_bench_plugins(async_urls)
            ) as rt:

                async def connector_order() -> None:
                    await connector.place_order(
                        OrderRequest(
                            symbol="F",
                            side=OrderSide.BUY,
                            quantity=Decimal(1),
                            client_order_id=f"c-{next(ids)}",
                        )
                    )

                async def async_order() -> None:
                    await rt.place_external_order(
                        "alpaca",
                        {"symbol": "F", "side": "buy", "quantity": 1},
                        idempotency_key=f"a-{next(ids)}",
                    )

                def sync_order() -> None:
                    sync_rt.place_external_order(
                        "alpaca",
                        {"symbol": "F", "side": "buy", "quantity": 1},
                        idempotency_key=f"s-{next(ids)}",
                    )

                async def async_positions() -> None:
                    await rt.get_external_positions("alpaca")

                def sync_positions() -> None:
                    sync_rt.get_external_positions("alpaca")

                plan: list[tuple[str, Callable[[], Any], bool]] = [
                    ("connector", connector_order, True),  # on its own, as the alpaca-py comparison runs it
                    ("async", async_order, True),
                    ("sync", sync_order, False),
                    ("async_pos", async_positions, True),
                    ("sync_pos", sync_positions, False),
                ]
                for _, call, is_async in plan:  # warm pools, caches and code paths
                    for _ in range(20):
                        await call() if is_async else call()
                slice_ = seconds / rounds
                for _ in range(rounds):
                    for name, call, is_async in plan:
                        tally = tallies[name]
                        started, cpu = time.perf_counter(), time.process_time()
                        while time.perf_counter() - started < slice_:
                            if is_async:
                                await call()
                            else:
                                call()
                            tally.calls += 1
                        tally.wall += time.perf_counter() - started
                        tally.cpu += time.process_time() - cpu

        finally:
            await connector.close()

    with sync_rt:
        asyncio.run(run())
    return {k: t.measure() for k, t in tallies.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the figures; returns them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds per client and operation")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    # one mock for the alpaca-py comparison and the load test, three for the facade rounds
    servers = [ctx.Process(target=_serve, args=(ready, stop), daemon=True) for _ in range(4)]
    for server in servers:
        server.start()
    try:
        started = [ready.get(timeout=60) for _ in servers]
        mocks = [urls for _, urls in started]
        server_pid, base_url = started[0][0], mocks[0]["trading"]
        ours, theirs = asyncio.run(_sequential(base_url, args.seconds, args.rounds))
        with tempfile.TemporaryDirectory(prefix="portico-bench-") as home:
            os.environ["PORTICO_HOME"] = home  # the runtimes' audit key and state: not the user's
            facade = _facade(mocks[1:], args.seconds, args.rounds, home)
        cpu_before = _process_cpu(server_pid)
        served, errors, total = asyncio.run(_load(base_url, args.connections, args.seconds))
        cpu_after = _process_cpu(server_pid)
    finally:
        stop.set()
        for server in servers:
            server.join(15)
    server_us = (
        (cpu_after - cpu_before) / max(total, 1) * 1e6
        if cpu_before is not None and cpu_after is not None
        else None
    )
    figures = {
        "portico": ours,
        "alpaca_py": theirs,
        "mock_positions_per_s": served,
        "mock_errors": errors,
        "mock_cpu_us_per_request": server_us,
        "facade": facade,
    }
    print(
        f"Alpaca benchmark ({args.seconds:g} s per client and operation in {args.rounds} alternating rounds, "
        f"mock at {base_url}, {os.cpu_count()} CPUs)"
    )
    print(
        f"{'sequential':<18}{'portico/s':>11}{'alpaca-py/s':>13}{'ratio':>8}   client CPU us/call: portico, alpaca-py, ratio"
    )
    for name, label in (("positions", "list positions"), ("orders", "place order")):
        (ours_rate, ours_cpu), (their_rate, their_cpu) = ours[name], theirs[name]
        print(
            f"  {label:<16}{ours_rate:>11.0f}{their_rate:>13.0f}{ours_rate / their_rate:>7.2f}x"
            f"   {ours_cpu:>8.0f} {their_cpu:>8.0f} {their_cpu / ours_cpu:>6.2f}x"
        )
    print(
        f"mock GET /v2/positions, {args.connections} connections: {served:.0f} req/s measured, {errors} errors (target >= 2000)"
    )
    if server_us is not None:
        print(
            f"  mock CPU per request: {server_us:.0f} us -> {1e6 / server_us:.0f} req/s per core of capacity"
        )
    (c_rate, c_cpu), (a_rate, a_cpu), (s_rate, s_cpu) = facade["connector"], facade["async"], facade["sync"]
    (ap_rate, ap_cpu), (sp_rate, sp_cpu) = facade["async_pos"], facade["sync_pos"]
    print("facade order path (one runtime per facade, the same mock; client CPU of every thread)")
    print(f"  {'':<44}{'calls/s':>9}{'CPU us/call':>13}")
    print(f"  {'connector.place_order':<44}{c_rate:>9.0f}{c_cpu:>13.0f}")
    print(f"  {'AsyncIntegration.place_external_order':<44}{a_rate:>9.0f}{a_cpu:>13.0f}")
    print(f"  {'Integration.place_external_order (sync)':<44}{s_rate:>9.0f}{s_cpu:>13.0f}")
    print(f"  {'AsyncIntegration.get_external_positions':<44}{ap_rate:>9.0f}{ap_cpu:>13.0f}")
    print(f"  {'Integration.get_external_positions (sync)':<44}{sp_rate:>9.0f}{sp_cpu:>13.0f}")
    cost, cpu_cost = c_rate / a_rate, a_cpu / c_cpu
    met = "met" if cost <= 2 and cpu_cost <= 2 else "missed"
    print(
        f"  facade vs connector: {cost:.2f}x the time, {cpu_cost:.2f}x the CPU per order (target <= 2x): {met}"
    )
    print(
        f"TARGET alpaca facade order vs connector: at most 2x the time and the CPU per order: "
        f"{cost:.2f}x the time ({a_rate:.0f} vs {c_rate:.0f} orders/s), {cpu_cost:.2f}x the CPU "
        f"({a_cpu:.0f} vs {c_cpu:.0f} us per order) {met}"
    )
    for label, (fast, slow) in (("order", (a_rate, s_rate)), ("positions", (ap_rate, sp_rate))):
        ratio = fast / slow
        print(f"  sync vs async facade, {label}: {ratio:.3f}x the time per call (target <= 1.05x): "
              f"{'met' if ratio <= 1.05 else 'missed'}")  # fmt: skip
    portico_orders = ours["orders"][0] / theirs["orders"][0]
    print(f"  connector vs alpaca-py, place order: {portico_orders:.2f}x calls/s (target >= 2x): "
          f"{'met' if portico_orders >= 2 else 'missed'}")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
