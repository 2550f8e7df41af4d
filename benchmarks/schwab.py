"""Schwab: portico's connector vs schwab-py on the same mock, for positions and order placement.

Run: ``.venv/bin/python -m benchmarks.schwab`` (under a minute, loopback only).

The Schwab mock runs in its own process (in the measured process it would take the GIL from the
clients); the runtime connects the ``schwab`` connector to it (``connection.base_url``, the mock
approves the sign-in) and follows the account's order stream as ``portico run`` does; schwab-py signs
in on the same mock with its own code exchange, through an authlib session whose httpx transport sends
its requests there (schwab-py has no base-URL setting). schwab-py trades on a second linked account,
so the runtime's order stream is not handed schwab-py's orders to follow. Both then read positions
(``GET /trader/v1/accounts/{hash}?fields=positions``) and place market orders, one call after another,
in alternating rounds; calls/s and the process's CPU per call (every thread) for each.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

__all__ = ["main"]

APP_KEY, APP_SECRET = "bench-app-key", "bench-app-secret"
CALLBACK = "https://127.0.0.1:8182"
SYSTEM = {
    "type": "brokerage",
    "connector": "schwab",
    "allow_insecure": True,  # the loopback mock speaks plain HTTP
    "connection": {"order_limit_per_minute": 120},
    # the published general window (120 calls a minute) would set the pace, not the clients: lifted here;
    # orders stay under the app's 120 a minute on both sides (the mock enforces it per app key)
    "throttling": {"max_requests_per_minute": 60000},
    "authentication": {
        "type": "schwab_oauth2",
        "credentials": {"client_id": APP_KEY, "client_secret": APP_SECRET},
        "options": {"auto_login": True},
    },
}


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks.schwab import create_app

    app = create_app(seed=5, clients={APP_KEY: APP_SECRET}, order_limit=None)
    # a second linked account for schwab-py (the order limit per app is the connector's to keep: the
    # runtime's limiter holds portico to 120 a minute; the mock's is off so both sides run unthrottled
    # by the server alike)
    app.link_account(app.venue.create_account(cash=Decimal(100_000)).id)
    running = start_mock(app, log_level="error")
    ready.put(running.base_url)
    stop.wait()
    running.stop_sync()


class _ToMock(httpx.HTTPTransport):
    def __init__(self, base: str) -> None:
        super().__init__()
        self._target = httpx.URL(base)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._target.scheme, host=self._target.host, port=self._target.port
        )
        request.headers["host"] = f"{self._target.host}:{self._target.port}"
        return super().handle_request(request)


def _schwab_py(base: str) -> Any:
    import schwab
    from authlib.integrations.httpx_client import OAuth2Client
    from schwab.auth import TOKEN_ENDPOINT, TokenMetadata, get_auth_context

    context = get_auth_context(APP_KEY, CALLBACK)
    redirect = httpx.Client(transport=_ToMock(base)).get(context.authorization_url)
    oauth = OAuth2Client(APP_KEY, redirect_uri=CALLBACK, transport=_ToMock(base))
    token = oauth.fetch_token(
        TOKEN_ENDPOINT, authorization_response=redirect.headers["Location"], client_id=APP_KEY,
        auth=(APP_KEY, APP_SECRET), state=context.state,
    )  # fmt: skip
    metadata = TokenMetadata(token, int(time.time()), lambda *a, **k: None)
    session = OAuth2Client(
        APP_KEY, client_secret=APP_SECRET, token=token, token_endpoint=TOKEN_ENDPOINT,
        update_token=metadata.wrapped_token_write_func(), leeway=300, transport=_ToMock(base),
    )  # fmt: skip
    return schwab.client.Client(APP_KEY, session, token_metadata=metadata)


def _timed(call: Callable[[], Any], n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _timed_async(call: Callable[[], Any], n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _run(calls: int, orders: int, base: str) -> None:
    from schwab.client import Client
    from schwab.orders.equities import equity_buy_market

    from portico.models import OrderRequest, OrderSide
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    system = {**SYSTEM, "connection": {**SYSTEM["connection"], "base_url": base}}  # type: ignore[dict-item]
    async with AsyncIntegration({"systems": {"schwab": system}}, plugins=PluginManager()) as integration:
        connector = integration.connectors["schwab"]
        client = _schwab_py(base)
        # the second linked account: the runtime follows the first one's orders
        account_hash = client.get_account_numbers().json()[1]["hashValue"]

        def positions_py() -> None:
            assert (
                client.get_account(account_hash, fields=[Client.Account.Fields.POSITIONS]).status_code == 200
            )

        def place_py() -> None:
            assert client.place_order(account_hash, equity_buy_market("F", 1)).status_code == 201

        ids = iter(range(10**9))

        async def place_portico() -> None:
            await connector.place_order(
                OrderRequest(
                    symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"bench-{next(ids)}"
                )
            )

        figures: dict[str, list[tuple[float, float]]] = {
            k: [] for k in ("pos_py", "pos_p", "ord_py", "ord_p")
        }
        for _ in range(2):  # alternating halves: a load change on the shared machine hits both
            figures["pos_py"].append(_timed(positions_py, calls // 2))
            figures["pos_p"].append(await _timed_async(connector.get_positions, calls // 2))
            figures["ord_py"].append(_timed(place_py, orders // 2))
            figures["ord_p"].append(await _timed_async(place_portico, orders // 2))

    def rate(key: str, n: int) -> tuple[float, float]:
        wall = sum(w for w, _ in figures[key])
        cpu = sum(c for _, c in figures[key])
        return n / wall, cpu / n * 1000

    print(f"schwab-py vs portico on the same mock ({calls} position reads, {orders} market orders each)")
    print(f"{'':<28}{'calls/s':>9}{'cpu ms/call':>13}{'ratio':>8}")
    for label, py, ours, n in (
        ("positions", "pos_py", "pos_p", calls),
        ("place order", "ord_py", "ord_p", orders),
    ):
        r_py, c_py = rate(py, n)
        r_p, c_p = rate(ours, n)
        print(f"{label + ', schwab-py':<28}{r_py:>9.0f}{c_py:>13.2f}{1.0:>7.2f}x")
        print(f"{label + ', portico':<28}{r_p:>9.0f}{c_p:>13.2f}{r_p / r_py:>7.2f}x")
    print("target: portico >= 1.5x schwab-py calls/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.schwab")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--orders", type=int, default=50)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base = ready.get(timeout=60)
        with tempfile.TemporaryDirectory(prefix="portico-bench-") as home:
            os.environ["PORTICO_HOME"] = home  # the runtime's store, vault and audit key: not the user's
            asyncio.run(_run(args.calls, args.orders, base))
    finally:
        stop.set()
        server.join(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
