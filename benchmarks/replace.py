"""Replace: an order replace through the trading service (the facade) vs the connector's replace alone.

Run: ``.venv/bin/python -m benchmarks.replace`` (under a minute, loopback only).

One runtime connects an Alpaca system on its mock. The connector side calls
``AlpacaConnector.replace_order`` on a resting limit order, then on the order that replaced it, and so
on (each replace gives a new order linked to the old one). The facade side does the same through
``AsyncIntegration.replace_external_order``, so it pays on top of the same PATCH for the replace intent
and its link stored before the send, the key lock, the venue's answer applied to both orders and the
audit entry. Each side has its own chain of orders; alternating rounds; wall and process CPU per replace.
The same run measures a resting order's placement through the facade and the connector: a replace
carries the guarantees of a placement, so the target is that its ratio to the connector stays within
1.25x of placement's ratio (both pay the intent's storage and the hash-chained audit append).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

__all__ = ["main"]

TARGET = 1.25

RESTING = {
    "symbol": "F",
    "side": "buy",
    "quantity": "1",
    "order_type": "limit",
    "limit_price": "1.00",
    "time_in_force": "gtc",
}


def _config(db: str) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{db}",
        "systems": {
            "alpaca": {
                "type": "brokerage",
                "mock": True,
                "mock_seed": 3,
                "mock_options": {"rate_limit": None, "starting_cash": 100_000_000},
                "throttling": {"max_requests_per_minute": 600000},
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": "PKBENCH", "api_secret_key": "bench-secret"},
                },
            }
        },
    }


async def _timed(call: Callable[[int], Awaitable[Any]], start: int, n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(start, start + n):
        await call(i)
    return time.perf_counter() - wall, time.process_time() - cpu


def _price(i: int) -> str:
    # a new limit every time, always resting (below the mock's prices), never the same twice in a row
    return f"1.{(i % 90) + 10:02d}"


async def _run(replaces: int) -> None:
    from portico.models import OrderRequest
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    with tempfile.TemporaryDirectory() as home:
        os.environ["PORTICO_HOME"] = home
        async with AsyncIntegration(
            _config(os.path.join(home, "bench.db")), plugins=PluginManager()
        ) as integration:
            connector = integration.systems["alpaca"].connector
            assert connector is not None
            bare = await connector.place_order(
                OrderRequest.model_validate({**RESTING, "client_order_id": "bench-bare"})
            )
            chain = {"bare": bare.order_id, "facade": ""}
            chain["facade"] = await integration.place_external_order(
                "alpaca", RESTING, idempotency_key="bench"
            )

            async def alone(i: int) -> None:
                new = await connector.replace_order(chain["bare"], limit_price=Decimal(_price(i)))
                chain["bare"] = new.order_id

            async def facade(i: int) -> None:
                chain["facade"] = await integration.replace_external_order(
                    "alpaca", chain["facade"], {"limit_price": _price(i)}, idempotency_key=f"bench-{i}"
                )

            async def place_alone(i: int) -> None:
                await connector.place_order(
                    OrderRequest.model_validate({**RESTING, "client_order_id": f"pa-{i}"})
                )

            async def place_facade(i: int) -> None:
                await integration.place_external_order("alpaca", RESTING, idempotency_key=f"pf-{i}")

            sides = {
                "alone": alone,
                "facade": facade,
                "place_alone": place_alone,
                "place_facade": place_facade,
            }
            for call in sides.values():  # warm every path (connections, first-use services)
                await call(-1)
            figures: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
            rounds, per = 4, max(1, replaces // 4)
            for r in range(rounds):  # alternating: a load change on the shared machine hits every side
                for name, call in sides.items():
                    figures[name].append(await _timed(call, r * per, per))
            venue = integration.systems["alpaca"].mock.app.venue
            replaced = sum(1 for o in venue.orders.values() if o.status == "replaced")
    n = rounds * per

    def per_call(key: str) -> tuple[float, float]:
        return sum(w for w, _ in figures[key]) / n * 1000, sum(c for _, c in figures[key]) / n * 1000

    a_wall, a_cpu = per_call("alone")
    f_wall, f_cpu = per_call("facade")
    ratio = f_wall / a_wall
    print(f"order replace, {n} replaces each (a chain of orders per side), same runtime and Alpaca mock")
    print(f"{'':<34}{'wall ms/replace':>16}{'cpu ms/replace':>15}{'ratio':>8}")
    print(f"{'connector replace_order alone':<34}{a_wall:>16.2f}{a_cpu:>15.2f}{1.0:>7.2f}x")
    print(f"{'replace_external_order (service)':<34}{f_wall:>16.2f}{f_cpu:>15.2f}{ratio:>7.2f}x")
    p_wall, p_cpu = per_call("place_alone")
    q_wall, q_cpu = per_call("place_facade")
    print(f"{'for scale, placement alone':<34}{p_wall:>16.2f}{p_cpu:>15.2f}{1.0:>7.2f}x")
    print(f"{'place_external_order (service)':<34}{q_wall:>16.2f}{q_cpu:>15.2f}{q_wall / p_wall:>7.2f}x")
    print(
        f"added by the service: replace {f_wall - a_wall:.2f} ms, placement {q_wall - p_wall:.2f} ms "
        "(both store the intent and append to the audit log)"
    )
    print(f"orders replaced at the venue: {replaced} (expected {2 * (n + 1)})")
    place_ratio = q_wall / p_wall
    relative = ratio / place_ratio
    outcome = "met" if relative <= TARGET and replaced == 2 * (n + 1) else "missed"
    print(
        f"TARGET replace service overhead: the service/connector ratio of a replace at most {TARGET}x "
        f"placement's, every replace once at the venue: {ratio:.2f}x vs {place_ratio:.2f}x = {relative:.2f}, "
        f"{replaced} replaced {outcome}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.replace")
    parser.add_argument("--replaces", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.replaces))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
