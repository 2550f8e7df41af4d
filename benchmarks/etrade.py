"""E*TRADE: portico's connector vs pyetrade on the same mock (OAuth 1.0a signed quotes).

Run: ``.venv/bin/python -m benchmarks.etrade`` (under a minute, loopback only).

Each call is a signed ``GET /v1/market/quote/AAPL,MSFT`` with the mock's pre-issued access token:
pyetrade's ``ETradeMarket.get_quote`` (requests-oauthlib, its documented hosts reassigned to the mock)
one after another, against portico's ``EtradeConnector.get_latest_quotes`` one after another and 8 at
a time. The mock runs in its own process; calls/s and the client process's CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from typing import Any

__all__ = ["main"]

KEY, SECRET = "etrade-mock-consumer-key", "etrade-mock-consumer-secret"
TOKEN, TOKEN_SECRET = "etrade-mock-access-token", "etrade-mock-access-token-secret"
SYMBOLS = ["AAPL", "MSFT"]
FAST = {m: {"per_second": 100000, "per_hour": 100_000_000} for m in ("accounts", "market", "order")}


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks.etrade import create_app

    running = start_mock(create_app(seed=1, rate_limits=None), log_level="error")
    ready.put((running.base_url.rstrip("/"), dict(running.urls)))
    stop.wait()
    running.stop_sync()


def _pyetrade(base: str, calls: int) -> tuple[float, float]:
    import pyetrade

    market = pyetrade.ETradeMarket(KEY, SECRET, TOKEN, TOKEN_SECRET, dev=False)
    market.base_url = base + "/v1/market/"
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        market.get_quote(SYMBOLS, resp_format="json")
    return time.perf_counter() - wall, time.process_time() - cpu


async def _portico(urls: dict[str, str], calls: int, concurrency: int) -> tuple[float, float]:
    from pydantic import SecretStr

    from portico.auth import AuthenticationManager
    from portico.connectors.etrade import SPEC, EtradeConnector
    from portico.plugins import PluginManager
    from portico.sdk import ConnectorContext, resolve_url_templates

    secrets = {
        k: SecretStr(v)
        for k, v in {
            "consumer_key": KEY,
            "consumer_secret": SECRET,
            "token": TOKEN,
            "token_secret": TOKEN_SECRET,
        }.items()
    }
    scheme = SPEC.auth_scheme()
    assert scheme is not None
    manager = AuthenticationManager(vault=None, audit=None, plugins=PluginManager())
    auth = manager.build("etrade", scheme.scheme, secrets, resolve_url_templates(dict(scheme.options), urls))
    context = ConnectorContext.for_testing(
        EtradeConnector, urls=urls, credentials=secrets, connection={"rate_limits": FAST},
        auth_scheme=scheme.scheme, auth=auth,
    )  # fmt: skip
    connector = EtradeConnector(context)
    await connector.open()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            quotes = await connector.get_latest_quotes(SYMBOLS)
            assert len(quotes) == 2

    try:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one() for _ in range(calls)))
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await connector.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.etrade")
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base, urls = ready.get(timeout=60)
        _pyetrade(base, 10)  # warm both
        asyncio.run(_portico(urls, 10, 1))
        n = args.calls
        rows = [("pyetrade get_quote, sequential", *_pyetrade(base, n))]
        rows.append(("portico, sequential", *asyncio.run(_portico(urls, n, 1))))
        rows.append(("portico, 8 at a time", *asyncio.run(_portico(urls, n, 8))))
        reference = n / rows[0][1]
        print(f"{n} signed quote calls per client, one run, same mock")
        print(f"{'':<32}{'calls/s':>9}{'cpu ms/call':>13}{'ratio':>8}")
        for name, wall, cpu in rows:
            print(f"{name:<32}{n / wall:>9.0f}{cpu / n * 1000:>13.2f}{n / wall / reference:>7.2f}x")
        print("target: portico >= 1.5x pyetrade calls/s")
    finally:
        stop.set()
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
