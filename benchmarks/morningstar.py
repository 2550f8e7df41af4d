"""Morningstar: portico's connector vs morningstar-data against the same local mock (ratio in one run).

Run:
``.venv/bin/python -m benchmarks.morningstar`` (under a minute, loopback only).

Each round asks both clients for the fund data of two funds (four data points, three monthly returns):
the package's ``md.direct.get_investment_data`` (requests, pandas feather read) and portico's
``MorningstarConnector.get_fund_data`` (shared ApiClient, polars). The mock runs in its own process and its
tasks complete when created, so what is timed is the clients' own work and the
round trips both make (create the task, which completes at once, and fetch its file). The package reads MD_API at import, so the
environment is set before it is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
from typing import Any

__all__ = ["main"]

FUNDS = ["F00000YOOK", "FOUSA00D6E"]
POINTS = [
    {"datapointId": "OS01W"},
    {"datapointId": "LS05M"},
    {"datapointId": "ZZ006"},
    {"datapointId": "HP010", "isTsdp": True, "startDate": "2025-09-01", "endDate": "2025-11-30"},
]


def _serve(ready: Any, stop: Any) -> None:
    from portico.mocks import start_mock
    from portico.mocks.morningstar import create_app

    app = create_app(seed=1, pending_polls=0, poll_delay_ms=0)
    running = start_mock(app, log_level="error")
    ready.put((running.urls["base"], running.urls["jwks"], app.state.mock.issue_token(lifetime=3600)))
    stop.wait()
    running.stop_sync()


def _package_round(md: Any) -> float:
    started = time.perf_counter()
    frame = md.direct.get_investment_data(FUNDS, POINTS)
    assert len(frame) == 2
    return time.perf_counter() - started


async def _portico_rounds(base: str, token: str, rounds: int) -> list[float]:
    from portico.connectors.morningstar import MorningstarConnector
    from portico.sdk import ConnectorContext

    context = ConnectorContext.for_testing(MorningstarConnector, urls={"base": base}, credentials={"token": token})
    connector = MorningstarConnector(context)
    await connector.open()
    times = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            profiles = await connector.get_fund_data(FUNDS, POINTS)
            assert len(profiles) == 2
            times.append(time.perf_counter() - started)
    finally:
        await connector.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.morningstar")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        base, jwks, token = ready.get(timeout=60)
        os.environ.update({"MD_API": base, "UIM_DECODE_KEY": jwks, "MD_AUTH_TOKEN": token})
        import morningstar_data as md  # after MD_API is set: the package reads it once, at import

        for _ in range(5):  # warm both paths
            _package_round(md)
        asyncio.run(_portico_rounds(base, token, 5))
        package, portico = [], []
        for _ in range(4):  # interleaved halves, so a load change on the shared machine hits both
            package += [_package_round(md) for _ in range(args.rounds // 4)]
            portico += asyncio.run(_portico_rounds(base, token, args.rounds // 4))
        p_med, q_med = statistics.median(package) * 1000, statistics.median(portico) * 1000
        print(f"morningstar-data get_investment_data: median {p_med:.2f} ms per call ({len(package)} calls)")
        print(f"portico get_fund_data:                median {q_med:.2f} ms per call ({len(portico)} calls)")
        print(f"ratio (package / portico): {p_med / q_med:.2f}x")
    finally:
        stop.set()
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
