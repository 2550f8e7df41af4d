"""Schwab: portico's connector vs schwab-py on the same mock, for positions and order placement.

Run: ``.venv/bin/python -m benchmarks.schwab`` (about a minute, loopback only).

The Schwab mock runs in its own process (in the measured process it would take the GIL from the
clients), with three linked accounts. Both clients sign in on it with the code flow: portico through
the runtime (``AsyncIntegration``: the AuthenticationManager, vault, store, throttling and metrics
of ``portico run``), schwab-py through an authlib session whose httpx transport sends its requests
to the mock (schwab-py has no base-URL setting). Then, one call at a time, in alternating rounds (a
load change on the shared machine hits both):

* positions: ``GET /trader/v1/accounts/{hash}?fields=positions``; portico's ``get_positions``
  returns validated positions, schwab-py's response is decoded (``.json()``) and its positions read,
  as a caller of either has to;
* placement: a market order; portico's ``place_order`` stores the intent before sending and returns
  the order, schwab-py's 201 is checked and its order id read from ``Location``
  (``Utils.extract_order_id``), as a caller needs it.

Like for like: in the headline rounds neither side does anything in the background. The runtime
there leaves the order stream unfollowed (its connector declares no order updates); ``portico run``
follows it, which costs a REST read of each changed order and the order book's writes: a third row
measures placement with a runtime that does (on its own account, after the other rounds). After the
rounds the orders at the mock are counted per account: exactly what each side placed. Reported:
calls/s, the client process's CPU per call (every thread) and the mock process's CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

__all__ = ["main"]

APP_KEY, APP_SECRET = "bench-app-key", "bench-app-secret"
CALLBACK = "https://127.0.0.1:8182"
TARGET = 1.5
SYSTEM: dict[str, Any] = {
    "type": "brokerage",
    "connector": "schwab",
    "allow_insecure": True,  # the loopback mock speaks plain HTTP
    "connection": {"order_limit_per_minute": 120},
    # the published general window (120 calls a minute) would set the pace, not the clients: lifted here;
    # orders stay under the app's 120 a minute on both sides (the mock's own order limit is off)
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
    # account 1: portico's runtime; 2: schwab-py; 3: the runtime that follows its order stream
    for _ in range(2):
        app.link_account(app.venue.create_account(cash=Decimal(10_000_000)).id)
    running = start_mock(app, log_level="error")
    ready.put((os.getpid(), running.base_url))
    stop.wait()
    running.stop_sync()


def _process_cpu(pid: int) -> float:
    """CPU seconds a process has used (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


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


def _plugins(follow_orders: bool) -> Any:
    """The ``schwab`` connector; without ``follow_orders`` one that declares no order updates, so the
    runtime follows no order stream (the connector's calls are the same code)."""
    from portico.connectors.schwab import SchwabConnector
    from portico.hookspecs import hookimpl
    from portico.plugins import PluginManager
    from portico.sdk import Capability, StreamKind

    connector_cls: type[Any] = SchwabConnector
    if not follow_orders:
        spec = SchwabConnector.spec
        operations = {
            c: s
            for c, s in spec.capabilities.operations.items()
            if c is not Capability.SUBSCRIBE_ORDER_UPDATES
        }
        spec = spec.model_copy(
            update={
                "capabilities": spec.capabilities.model_copy(update={"operations": operations}),
                "streams": tuple(s for s in spec.streams if s is not StreamKind.ORDER_UPDATES),
            }
        )
        connector_cls = type("BenchSchwabConnector", (SchwabConnector,), {"spec": spec})

    class _Plugin:
        @hookimpl
        def portico_connectors(self) -> list[Any]:
            return [connector_cls]

        @hookimpl
        def portico_auth_schemes(self) -> dict[str, Any]:
            from portico.connectors.schwab.plugin import portico_auth_schemes

            return portico_auth_schemes()

    plugins = PluginManager(autoload=False)
    plugins.register(_Plugin(), name="bench-schwab")
    return plugins


class _Tally:
    """Calls, wall seconds, client CPU and mock CPU seconds, summed over the rounds."""

    def __init__(self) -> None:
        self.calls = 0
        self.wall = self.cpu = self.server = 0.0

    def rate(self) -> float:
        return self.calls / self.wall if self.wall > 0 else float("inf")

    def cpu_ms(self) -> float:
        return self.cpu / max(self.calls, 1) * 1000

    def server_ms(self) -> float:
        return self.server / max(self.calls, 1) * 1000


async def _round(tally: _Tally, call: Callable[[], Any], n: int, server_pid: int, is_async: bool) -> None:
    server, wall, cpu = _process_cpu(server_pid), time.perf_counter(), time.process_time()
    for _ in range(n):
        if is_async:
            await call()
        else:
            call()
    tally.wall += time.perf_counter() - wall
    tally.cpu += time.process_time() - cpu
    tally.server += _process_cpu(server_pid) - server
    tally.calls += n


async def _run(calls: int, orders: int, rounds: int, base: str, server_pid: int) -> dict[str, _Tally]:
    from schwab.client import Client
    from schwab.orders.equities import equity_buy_market
    from schwab.utils import Utils

    from portico.models import OrderRequest, OrderSide
    from portico.runtime import AsyncIntegration

    def config(**connection: Any) -> dict[str, Any]:
        system = {**SYSTEM, "connection": {**SYSTEM["connection"], "base_url": base, **connection}}
        return {"systems": {"schwab": system}}

    tallies = {k: _Tally() for k in ("pos_py", "pos_p", "ord_py", "ord_p", "ord_follow")}
    client = _schwab_py(base)
    linked = client.get_account_numbers().json()
    (number_p, hash_p), (_, hash_py), (number_follow, hash_follow) = (
        (a["accountNumber"], a["hashValue"]) for a in linked
    )
    utils = Utils(client, hash_py)
    placed = {hash_p: 0, hash_py: 0, hash_follow: 0}
    ids = iter(range(10**9))

    def positions_py() -> None:
        response = client.get_account(hash_py, fields=[Client.Account.Fields.POSITIONS])
        assert response.status_code == 200, response.status_code
        assert isinstance(response.json()["securitiesAccount"]["positions"], list)

    def place_py() -> None:
        response = client.place_order(hash_py, equity_buy_market("F", 1))
        assert response.status_code == 201, response.status_code
        assert utils.extract_order_id(response) is not None
        placed[hash_py] += 1

    def placer(connector: Any, account_hash: str) -> Callable[[], Awaitable[None]]:
        async def place() -> None:
            order = await connector.place_order(
                OrderRequest(
                    symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"bench-{next(ids)}"
                )
            )
            assert order.order_id.isdigit(), order
            placed[account_hash] += 1

        return place

    async with AsyncIntegration(config(account_number=number_p), plugins=_plugins(False)) as integration:
        connector = integration.connectors["schwab"]
        place_p = placer(connector, hash_p)

        async def positions_p() -> None:
            assert isinstance(await connector.get_positions(), list)

        warm = 5  # pools, token, account hashes, code paths (the orders count against the app's limit)
        for _ in range(warm):
            positions_py()
            await positions_p()
            place_py()
            await place_p()
        for _ in range(rounds):
            await _round(tallies["pos_py"], positions_py, calls // rounds, server_pid, False)
            await _round(tallies["pos_p"], positions_p, calls // rounds, server_pid, True)
            await _round(tallies["ord_py"], place_py, orders // rounds, server_pid, False)
            await _round(tallies["ord_p"], place_p, orders // rounds, server_pid, True)
        # both accounts got the same orders: the two reads show the same book
        theirs = client.get_account(hash_py, fields=[Client.Account.Fields.POSITIONS]).json()
        ours = await connector.get_positions()
        assert [p.symbol for p in ours] == [
            p["instrument"]["symbol"] for p in theirs["securitiesAccount"]["positions"]
        ]

    async with AsyncIntegration(config(account_number=number_follow), plugins=_plugins(True)) as integration:
        place_f = placer(integration.connectors["schwab"], hash_follow)
        for _ in range(warm):
            await place_f()
        for _ in range(rounds):
            await _round(tallies["ord_follow"], place_f, orders // rounds, server_pid, True)

    # nothing lost, nothing doubled: the mock holds exactly the orders each side placed
    now = datetime.now(UTC)
    for account_hash, count in placed.items():
        listed = client.get_orders_for_account(
            account_hash, from_entered_datetime=now - timedelta(hours=1), to_entered_datetime=now + timedelta(minutes=1),
            max_results=3000,
        ).json()  # fmt: skip
        assert len(listed) == count, (account_hash, len(listed), count)
    return tallies


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the figures; returns them."""
    parser = argparse.ArgumentParser(
        prog="benchmarks.schwab", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--calls", type=int, default=600, help="position reads per side")
    parser.add_argument(
        "--orders", type=int, default=100, help="orders per side (at most 115: the app's 120 a minute)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    args = parser.parse_args(argv)
    if args.orders + 5 > 120:
        parser.error("--orders: the app's order limit is 120 a minute, 5 of them for warming up")
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        server_pid, base = ready.get(timeout=60)
        with tempfile.TemporaryDirectory(prefix="portico-bench-") as home:
            os.environ["PORTICO_HOME"] = home  # the runtime's store, vault and audit key: not the user's
            tallies = asyncio.run(_run(args.calls, args.orders, args.rounds, base, server_pid))
    finally:
        stop.set()
        server.join(15)
    calls, orders = tallies["pos_p"].calls, tallies["ord_p"].calls
    print(
        f"Schwab: schwab-py vs portico on the same mock ({calls} position reads and {orders} market orders "
        f"each, one call at a time, {args.rounds} alternating rounds, {os.cpu_count()} CPUs)"
    )
    print(f"{'':<46}{'calls/s':>9}{'client CPU ms':>15}{'mock CPU ms':>13}{'ratio':>8}")
    rows = (
        ("positions", "pos_py", "pos_p"),
        ("place order", "ord_py", "ord_p"),
    )
    figures: dict[str, Any] = {}
    for label, theirs, ours in rows:
        py, p = tallies[theirs], tallies[ours]
        ratio = p.rate() / py.rate()
        figures[label] = {"schwab_py": py.rate(), "portico": p.rate(), "ratio": ratio}
        for who, t, r in (("schwab-py", py, 1.0), ("portico connector", p, ratio)):
            print(
                f"{label + ', ' + who:<46}{t.rate():>9.0f}{t.cpu_ms():>15.2f}{t.server_ms():>13.2f}{r:>7.2f}x"
            )
    follow = tallies["ord_follow"]
    print(
        f"{'place order, portico following the order stream':<46}{follow.rate():>9.0f}{follow.cpu_ms():>15.2f}"
        f"{follow.server_ms():>13.2f}{follow.rate() / tallies['ord_py'].rate():>7.2f}x"
    )
    print("(CPU per call: client = this process, every thread; mock = the mock's process)")
    for label, _, _ in rows:
        ratio = figures[label]["ratio"]
        outcome = "met" if ratio >= TARGET else "missed"
        print(f"TARGET schwab {label}: portico >= {TARGET}x schwab-py calls/s: {ratio:.2f}x {outcome}")
    return figures


if __name__ == "__main__":
    main()
    raise SystemExit(0)
