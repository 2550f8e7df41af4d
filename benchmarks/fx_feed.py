"""The FX feed: 156 currency pairs in one cycle, under each vendor's published throttle, against the
15-minute cycle it must fit in.

Run: ``.venv/bin/python -m benchmarks.fx_feed`` (under a minute, loopback only).

The runtime serves the Bloomberg and Refinitiv mocks (``mock: true``) with each connector's default
throttling (Bloomberg Data License 1200 calls a minute, LSEG about 5 a second) and runs
``run_fx_feed_cycle`` through the facade: once with Bloomberg as the primary and Refinitiv as the
fallback (the integration plan's setup; the Bloomberg mock leaves two pairs unanswered, so the fallback
runs too), once with Refinitiv alone. Wall time per cycle and its share of the 900 s budget.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

__all__ = ["main"]

CURRENCIES = ["AUD", "CAD", "CHF", "CNY", "EUR", "GBP", "HKD", "JPY", "NOK", "NZD", "SEK", "SGD", "USD"]
PAIRS = [f"{b}/{q}" for b in CURRENCIES for q in CURRENCIES if b != q]
BUDGET = 900.0

SYSTEMS: dict[str, Any] = {
    "bloomberg": {
        "type": "data_service",
        "mock": True,
        "mock_options": {"unknown_identifiers": ["NOKSEK Curncy", "SGDHKD Curncy"]},
        "authentication": {
            "type": "oauth2_client_credentials",
            "credentials": {"client_id": "portico-mock-client", "client_secret": "portico-mock-secret"},
        },
    },
    "refinitiv": {
        "type": "data_service",
        "mock": True,
        "authentication": {
            "type": "refinitiv_password",
            "credentials": {
                "app_key": "portico-app-key",
                "username": "portico-user",
                "password": "portico-password",
            },
        },
    },
}


async def _cycle(primary: str, fallback: str | None, retry_delay: float) -> tuple[float, Any]:
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    feed = {"primary": primary, "fallback": fallback, "pairs": PAIRS, "retry_delay": retry_delay}
    config = {"systems": SYSTEMS, "market_data": {"fx_feed": feed}}
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        started = time.perf_counter()
        cycle = await integration.run_fx_feed_cycle()
        return time.perf_counter() - started, cycle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.fx_feed")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="seconds between primary attempts")
    args = parser.parse_args(argv)
    print(f"{len(PAIRS)} pairs per cycle, each vendor's default throttle, cycle budget {BUDGET:.0f} s")
    print(f"{'':<34}{'wall s':>8}{'primary':>9}{'fallback':>10}{'failed':>8}{'budget used':>13}")
    for label, primary, fallback in (
        ("bloomberg -> refinitiv fallback", "bloomberg", "refinitiv"),
        ("refinitiv alone", "refinitiv", None),
    ):
        wall, cycle = asyncio.run(_cycle(primary, fallback, args.retry_delay))
        print(
            f"{label:<34}{wall:>8.2f}{len(cycle.from_primary):>9}{len(cycle.from_fallback):>10}"
            f"{len(cycle.failed):>8}{wall / BUDGET:>12.2%}"
        )
    print(
        f"target: every pair in one cycle, well inside {BUDGET:.0f} s (the retries wait --retry-delay each)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
