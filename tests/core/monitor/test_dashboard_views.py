"""The dashboard's views as data (no browser): what ``/dashboard/state`` and ``/dashboard/events`` carry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from portico.clock import system_clock
from portico.monitor import RuntimeServer
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async

from .conftest import CANARY
from .test_dashboard_views_browser import TOKEN, _config, _trade


async def test_state_carries_orders_positions_schedule_and_dead_letters(tmp_path: Path) -> None:
    parts = _config(tmp_path)
    integration = AsyncIntegration(parts["config"], plugins=parts["plugins"], clock=system_clock)
    await integration.start(schedule=True)
    server = RuntimeServer(integration.monitor, integration, port=0, token=TOKEN)
    try:
        await _trade(integration)
        await integration.run_job_now("custodian_positions")

        async def booked() -> dict | None:  # type: ignore[type-arg]
            # the book records a fill once its execution is fetched, which may follow the status by a moment
            state = await server.state()
            return state if len(state["positions"]) == 2 else None

        state = await wait_for_async(booked, timeout=20, interval=0.1, message="both fills in the book")
    finally:
        await integration.stop()
        await integration.monitor.drain()
    assert [(o["system"], o["symbol"], o["side"], o["quantity"], o["status"]) for o in state["orders"]] == [
        ("alpaca", "MSFT", "buy", "5", "filled"),
        ("alpaca", "AAPL", "buy", "10", "filled"),
    ]
    assert sorted((p["system"], p["symbol"], p["quantity"]) for p in state["positions"]) == [
        ("alpaca", "AAPL", "10"),
        ("alpaca", "MSFT", "5"),
    ]
    [job] = state["schedule"]
    assert (job["job"], job["system"], job["schedule"], job["last_status"]) == (
        "custodian_positions",
        "file positions.psv",
        "0 2 * * 1-5",
        "partial",
    )
    assert job["next_run"] is not None and "T02:00:00" in job["next_run"]
    [run] = state["jobs"]
    assert (run["job"], run["system"], run["records_imported"]) == (
        "custodian_positions",
        "file positions.psv",
        3,
    )
    [dead] = state["dead_letters"]
    assert dead["at"] is not None and dead["where"] == "positions.psv, line 5, field currency"
    assert CANARY not in json.dumps(state)


async def test_events_stream_pushes_state_only_to_the_token_holder(tmp_path: Path) -> None:
    parts = _config(tmp_path)
    parts["config"]["systems"].pop("alpaca")
    integration = AsyncIntegration(parts["config"], plugins=parts["plugins"], clock=system_clock)
    await integration.start()
    server = RuntimeServer(integration.monitor, integration, port=0, token=TOKEN, refresh_seconds=0.05)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            assert (await c.get("/dashboard/events")).status_code == 401
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with c.stream("GET", "/dashboard/events", headers=headers) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                data = None
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        data = json.loads(line[6:])
                        break
        assert data is not None and [s["system"] for s in data["systems"]] == ["pulse"]
        assert data["orders"] == [] and data["positions"] == []  # no broker: no trading service read
        assert CANARY not in json.dumps(data)
    finally:
        await server.stop()
        await integration.stop()
