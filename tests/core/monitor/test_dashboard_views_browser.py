"""The dashboard's views in headless Chromium, on a real run: a vendor that fails and recovers, a paper
broker with orders and positions, a scheduled import with its next run, quarantined records, and an
alert channel that cannot deliver. Screenshots of the 'down' and 'recovered' states are kept in
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico.clock import system_clock
from portico.models import OrderStatus
from portico.monitor import RuntimeServer
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async
from tests.core.jobs.conftest import GOOD, HEADER, write

from .browser import chromium_page, chromium_verdict, find_chromium
from .conftest import CANARY
from .vendor import plugin

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
TOKEN = "dash-views-token-0123456789abcdef"
ROW = "document.querySelector('tr.system[data-system=\"pulse\"]')"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium() -> str:
    binary = find_chromium()
    verdict = chromium_verdict(binary, os.environ)
    if verdict is not None:
        action, reason = verdict
        if action == "fail":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    assert binary is not None
    return binary


def _closed_port() -> int:
    """A port nothing listens on: the webhook channel's deliveries fail there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path) -> dict[str, Any]:
    prices = write(tmp_path / "positions.psv", HEADER, *GOOD, "A9|US0378331005|AAPL|1|1|XXY|2026-01-05")
    pm = PluginManager(autoload=False, allow=["alpaca"])
    pm.load_entry_points()
    pm.register(plugin(), name="pulsefeed")
    config = {
        "systems": {
            "pulse": {
                "type": "market_data",
                "connector": "pulsefeed",
                "mock": True,
                "authentication": {"type": "none", "credentials": {"api_key": CANARY}},
            },
            "alpaca": {
                "type": "brokerage",
                "environment": "paper",
                "mock": True,
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": "demo-key-id", "api_secret_key": "demo-secret-key"},
                },
            },
        },
        "data_import": {
            "scheduled_imports": [
                {
                    "id": "custodian_positions",
                    "source": str(prices),
                    "data_type": "positions",
                    "schedule": "0 2 * * 1-5",
                }
            ]
        },
        "monitoring": {
            "health_check_interval": 1,
            "alert_destinations": ["pager"],
            "history": {"sample_interval": 1},
            "channels": {"pager": {"type": "webhook", "url": f"http://127.0.0.1:{_closed_port()}/alerts"}},
        },
        "database_url": f"sqlite:///{tmp_path / 'portico.db'}",
    }
    return {"config": config, "plugins": pm}


async def _trade(integration: AsyncIntegration) -> None:
    """Two paper orders on the alpaca mock, tracked to their fill."""
    for i, (symbol, qty) in enumerate((("AAPL", "10"), ("MSFT", "5"))):
        order_id = await integration.place_external_order(
            "alpaca",
            {"symbol": symbol, "side": "buy", "quantity": qty, "order_type": "market"},
            idempotency_key=f"views-{i}",
        )

        async def filled(order_id: str = order_id) -> bool:
            order = await integration.get_external_order_status("alpaca", order_id)
            return order.status is OrderStatus.FILLED

        await wait_for_async(filled, message=f"order {symbol} filled", timeout=20, interval=0.05)


async def test_views_show_orders_positions_schedule_deliveries_and_the_breaker(
    tmp_path: Path, chromium: str
) -> None:
    parts = _config(tmp_path)
    integration = AsyncIntegration(parts["config"], plugins=parts["plugins"], clock=system_clock)
    await integration.start(schedule=True)
    server = RuntimeServer(integration.monitor, integration, port=0, token=TOKEN, refresh_seconds=0.3)
    await server.start()
    try:
        pulse = integration.systems["pulse"]
        mock_url = pulse.mock.base_url
        await _trade(integration)
        run = await integration.run_job_now("custodian_positions")
        assert (run["loaded"], run["quarantined"]) == (3, 1)
        async with chromium_page(chromium, tmp_path / "profile") as page:
            await page.navigate(server.dashboard_url)
            await page.wait_until(
                "document.body.dataset.transport === 'events'", what="live updates by events"
            )
            await page.wait_until(f"{ROW} && {ROW}.dataset.status === 'healthy'", what="pulse shown healthy")

            orders = await page.evaluate(
                "[...document.querySelectorAll('#orders tr.order')].map(r => r.innerText)"
            )
            assert len(orders) == 2
            assert "alpaca" in orders[0] and "MSFT" in orders[0] and "filled" in orders[0]  # newest first
            assert "AAPL" in orders[1] and "10" in orders[1]
            # the book records a fill once its execution is fetched, which may follow the status by a moment
            positions = await page.wait_until(
                "(rows => rows.length === 2 && rows)([...document.querySelectorAll('#positions tr.position')]"
                ".map(r => [...r.cells].map(c => c.innerText)))",
                what="both fills in the positions view",
            )
            assert sorted((p[0], p[2], p[3]) for p in positions) == [
                ("alpaca", "AAPL", "10"),
                ("alpaca", "MSFT", "5"),
            ]
            scheduled = await page.evaluate(
                "document.querySelector('#schedule tr[data-job=\"custodian_positions\"]').innerText"
            )
            assert "0 2 * * 1-5" in scheduled and "file positions.psv" in scheduled
            next_run = await page.evaluate(
                "document.querySelector('#schedule td.next-run time').getAttribute('datetime')"
            )
            assert (
                next_run and "T02:00:00" in next_run
            )  # the cron's next 02:00 (UTC; the browser shows its zone)
            shown = await page.evaluate("document.querySelector('#schedule td.next-run').innerText")
            assert re.fullmatch(r"\d{4}-\d\d-\d\d 02:00:00 UTC", shown), shown  # readable, zone named
            job = await page.evaluate("document.querySelector('#jobs tr.job').innerText")
            assert "custodian_positions" in job and "file positions.psv" in job  # the system column is filled
            dead = await page.evaluate(
                "[...document.querySelector('#dead-letters tr.dead-letter').cells].map(c => c.innerText)"
            )
            assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", dead[0]), (
                dead
            )  # when it was quarantined
            assert "XXY" in dead[2] and "line 5" in dead[3]

            errors_line = 'document.querySelector(\'[data-chart="errors"][data-system="pulse"] polyline\')'
            await page.wait_until(f"{errors_line} !== null", what="pulse's error-rate line")
            assert await page.evaluate(f"{errors_line}.getAttribute('class')") == "line no-errors"
            assert (
                await page.evaluate(f"getComputedStyle({errors_line}).stroke") == "rgb(156, 163, 175)"
            )  # grey at 0

            await _fail(mock_url)
            await page.wait_until(f"{ROW}.dataset.status === 'down'", what="pulse turning down")
            await page.wait_until(
                f"{ROW}.querySelector('td.breaker').innerText === 'open'",
                what="the breaker opening",
                timeout=30,
            )
            last_error = await page.wait_until(
                f"({ROW}.querySelector('td.last-error .cause') || {{}}).innerText",
                what="the error that opened it",
            )
            assert last_error.startswith("opened by ServerError: HTTP 503"), last_error
            assert "CircuitOpen" in await page.evaluate(f"{ROW}.querySelector('td.last-error').innerText")
            failed = await page.wait_until(
                "[...document.querySelectorAll('#deliveries tr.delivery.result-failed')]"
                ".map(r => [...r.cells].map(c => c.innerText)).filter(r => r[1].startsWith('system_down'))[0]",
                what="the failed delivery of the system-down alert",
            )
            assert failed[1:5] == ["system_down/pulse/", "firing", "pager", "failed"], failed
            assert failed[5].startswith("ConnectError"), failed
            failed_colour = await page.evaluate(
                "getComputedStyle(document.querySelector('#deliveries tr.result-failed td.result')).color"
            )
            assert failed_colour == "rgb(185, 28, 28)"
            await page.wait_until(
                f"{errors_line}.getAttribute('class') === 'line errors'", what="the line turning red"
            )
            assert await page.evaluate(f"getComputedStyle({errors_line}).stroke") == "rgb(220, 38, 38)"
            ticks = await page.evaluate(
                "[...document.querySelectorAll('[data-chart=\"latency\"] text.tick')].map(t => t.textContent)"
            )
            assert "0 ms" in ticks and any(t.endswith(" ms") and t != "0 ms" for t in ticks), ticks
            assert any(t.startswith("time (") for t in ticks) and any(t.count(":") == 2 for t in ticks), ticks
            await page.screenshot(ARTIFACTS / "dashboard-views-down.png")
            html = await page.evaluate("document.documentElement.outerHTML")
            assert CANARY not in html and TOKEN not in html

            # the breaker's recovery wait is its own setting; a second keeps the test short
            pulse.breaker.recovery_timeout = 1.0
            await _heal(mock_url)
            await page.wait_until(f"{ROW}.dataset.status === 'healthy'", what="pulse recovering", timeout=30)
            await page.wait_until(
                f"{ROW}.querySelector('td.breaker').innerText === 'closed'", what="breaker closed"
            )
            await page.screenshot(ARTIFACTS / "dashboard-views-recovered.png")
    finally:
        await server.stop()
        await integration.stop()
        await integration.monitor.drain()
    assert (ARTIFACTS / "dashboard-views-down.png").stat().st_size > 10_000


async def _fail(mock_url: str) -> None:
    async with httpx.AsyncClient() as c:
        fault = {"route": "/v1/status", "kind": "error", "status": 503}
        (await c.post(f"{mock_url}/__mock__/faults", json=fault)).raise_for_status()


async def _heal(mock_url: str) -> None:
    async with httpx.AsyncClient() as c:
        (await c.delete(f"{mock_url}/__mock__/faults")).raise_for_status()
