"""Gateway: order placement through the REST gateway vs the Python facade, same runtime, same mock.

Run: ``.venv/bin/python -m benchmarks.gateway`` (under a minute, loopback only).

One runtime connects an Alpaca system on its mock; the gateway serves it on 127.0.0.1. The facade side
awaits ``AsyncIntegration.place_external_order``; the gateway side posts the same order to
``POST /v1/systems/alpaca/orders`` with an API token and an ``Idempotency-Key`` over HTTP (httpx,
keep-alive), so it pays for the token check, the idempotency record, the audit entry, the event log
and the JSON answer on top of the same facade call. Alternating rounds; wall and process CPU per order.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

__all__ = ["main"]

TARGET = 1.5


def _config(db: str) -> dict[str, Any]:
    from portico.gateway import hash_password

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
        "gateway": {
            "enabled": True,
            "requests_per_minute": 1_000_000,  # the benchmark measures overhead, not the API's rate limit
            "users": {"bench": {"password_hash": hash_password("bench-pw"), "groups": ["traders"]}},
            "groups": {"traders": {"grants": [{"resource": "systems", "permission": "READ_WRITE"}]}},
        },
    }


async def _timed(call: Callable[[int], Awaitable[Any]], start: int, n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(start, start + n):
        await call(i)
    return time.perf_counter() - wall, time.process_time() - cpu


async def _run(orders: int) -> None:
    from portico.gateway import Gateway, GrantConfig
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    order = {"symbol": "F", "side": "buy", "quantity": "1"}
    with tempfile.TemporaryDirectory() as home:
        os.environ["PORTICO_HOME"] = home
        async with AsyncIntegration(
            _config(os.path.join(home, "bench.db")), plugins=PluginManager()
        ) as integration:
            gateway = Gateway(integration, port=0)
            await gateway.start()
            token, _ = gateway.security.create_token(
                "bench", "bench", [GrantConfig(resource="systems", permission="READ_WRITE")], 1
            )
            async with httpx.AsyncClient(
                base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}
            ) as http:

                async def facade(i: int) -> None:
                    await integration.place_external_order("alpaca", order, idempotency_key=f"facade-{i}")

                async def through_gateway(i: int) -> None:
                    answer = await http.post(
                        "/v1/systems/alpaca/orders", json=order, headers={"Idempotency-Key": f"gw-{i}"}
                    )
                    if answer.status_code != 201:
                        raise RuntimeError(f"gateway answered {answer.status_code}: {answer.text[:200]}")

                await facade(-1)  # warm both paths (connections, first-use services)
                await through_gateway(-1)
                figures: dict[str, list[tuple[float, float]]] = {"facade": [], "gateway": []}
                rounds, per = 4, max(1, orders // 4)
                for r in range(rounds):  # alternating: a load change on the shared machine hits both
                    figures["facade"].append(await _timed(facade, r * per, per))
                    figures["gateway"].append(await _timed(through_gateway, r * per, per))
            await gateway.stop()
    n = rounds * per

    def per_call(key: str) -> tuple[float, float]:
        return sum(w for w, _ in figures[key]) / n * 1000, sum(c for _, c in figures[key]) / n * 1000

    f_wall, f_cpu = per_call("facade")
    g_wall, g_cpu = per_call("gateway")
    ratio = g_wall / f_wall
    print(f"order placement, {n} market orders each, same runtime and Alpaca mock")
    print(f"{'':<26}{'wall ms/order':>15}{'cpu ms/order':>14}{'ratio':>8}")
    print(f"{'Python facade':<26}{f_wall:>15.2f}{f_cpu:>14.2f}{1.0:>7.2f}x")
    print(f"{'REST gateway (HTTP)':<26}{g_wall:>15.2f}{g_cpu:>14.2f}{ratio:>7.2f}x")
    print(
        f"target: gateway <= {TARGET}x the facade's wall time per order: {'met' if ratio <= TARGET else 'missed'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.gateway")
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.orders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
