"""FactSet: portico's connector vs FactSet's own SDK (fds.sdk.FactSetPrices) against the same mock.

Run: ``.venv/bin/python -m benchmarks.factset`` (under a minute, loopback only).

Each call asks for a month of daily prices of two ids (HTTP Basic): the SDK's
``PricesApi.get_security_prices`` (urllib3, its generated models) and portico's
``FactSetConnector.get_prices`` (the shared ApiClient, canonical bars). The mock runs in its own
process, so what is timed is each client's work and the round trips; the two alternate in quarters,
so a change of load on the shared machine hits both. Wall time and the client process's CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from datetime import date
from typing import Any

__all__ = ["main"]

USER, KEY = "BENCH-123456", "bench-key"
IDS = ["AAPL-US", "MSFT-US"]
START, END = date(2024, 3, 1), date(2024, 3, 29)


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks.factset import create_app

    running = start_mock(create_app(seed=3, users={USER: KEY}), log_level="error")
    ready.put(running.urls["base"])
    stop.wait()
    running.stop_sync()


def _sdk_rounds(base: str, rounds: int) -> list[tuple[float, float]]:
    import fds.sdk.FactSetPrices as fp
    from fds.sdk.FactSetPrices.api.prices_api import PricesApi

    client = fp.ApiClient(fp.Configuration(host=base, username=USER, password=KEY))
    api = PricesApi(client)
    out = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        answer = api.get_security_prices(IDS, start_date=START.isoformat(), end_date=END.isoformat(), frequency="D")
        rows = answer.get_response_200().data
        out.append((time.perf_counter() - wall, time.process_time() - cpu))
        assert len(rows) == 42, len(rows)  # 21 weekdays x 2 ids
    return out


async def _portico_rounds(base: str, rounds: int) -> list[tuple[float, float]]:
    from portico.auth import AuthenticationManager
    from portico.connectors.factset.connector import FactSetConnector
    from portico.sdk import ConnectorContext

    credentials = {"username": USER, "password": KEY}
    auth = AuthenticationManager().build("factset", "basic", credentials, {})
    context = ConnectorContext.for_testing(
        FactSetConnector, urls={"base": base, "auth": base.removesuffix("/content")}, credentials=credentials,
        auth_scheme="basic", auth=auth,
    )  # fmt: skip
    connector = FactSetConnector(context)
    await connector.open()
    out = []
    try:
        for _ in range(rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            bars = await connector.get_prices(IDS, start=START, end=END)
            out.append((time.perf_counter() - wall, time.process_time() - cpu))
            assert sum(len(b) for b in bars.values()) == 42
    finally:
        await connector.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.factset")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1500))  # the SDK's own note for its large package
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base = ready.get(timeout=60)
        _sdk_rounds(base, 5)  # warm both paths
        asyncio.run(_portico_rounds(base, 5))
        sdk: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(4):
            sdk += _sdk_rounds(base, args.rounds // 4)
            ours += asyncio.run(_portico_rounds(base, args.rounds // 4))
        s_wall, s_cpu = (statistics.median(x[i] for x in sdk) * 1000 for i in (0, 1))
        p_wall, p_cpu = (statistics.median(x[i] for x in ours) * 1000 for i in (0, 1))
        print(f"{'':<34}{'wall ms':>9}{'cpu ms':>9}   ({len(sdk)} calls each, a month of 2 ids)")
        print(f"{'fds.sdk.FactSetPrices get_prices':<34}{s_wall:>9.2f}{s_cpu:>9.2f}")
        print(f"{'portico FactSetConnector':<34}{p_wall:>9.2f}{p_cpu:>9.2f}")
        print(f"ratio (SDK / portico): wall {s_wall / p_wall:.2f}x, cpu {s_cpu / p_cpu:.2f}x (target >= 1)")
    finally:
        stop.set()
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
