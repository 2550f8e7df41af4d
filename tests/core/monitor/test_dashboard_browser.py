"""The dashboard in a real browser (headless Chromium): what a person sees when a system fails and recovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portico.clock import system_clock

from .browser import chromium_page, chromium_verdict, find_chromium
from .conftest import CANARY
from .stack import monitored_runtime

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

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


ROW = "document.querySelector('tr.system[data-system=\"pulse\"]')"


async def test_a_failing_system_turns_red_and_its_alert_appears(tmp_path: Path, chromium: str) -> None:
    async with monitored_runtime(tmp_path, system_clock, interval=1, refresh_seconds=0.3) as stack:
        await stack.monitor.start()
        stack.monitor.emit("job.completed", system="pulse", job="daily_prices", records_imported=120, records_rejected=2)
        stack.server.dead_letter_provider = lambda: [
            {"id": 7, "job": "daily_prices", "reason": "price is negative", "record": {"symbol": "<b>AAPL</b>", "close": -1}}
        ]
        async with chromium_page(chromium, tmp_path / "profile") as page:
            await page.navigate(stack.server.dashboard_url)
            await page.wait_until(f"{ROW} && {ROW}.dataset.status === 'healthy'", what="pulse shown healthy")
            assert await page.evaluate("location.pathname + location.search") == "/dashboard"  # token left the URL
            assert await page.evaluate("document.querySelectorAll('li.alert').length") == 0
            healthy_colour = await page.evaluate(f"getComputedStyle({ROW}).backgroundColor")
            job = await page.evaluate("document.querySelector('#jobs tr.job').innerText")
            assert "daily_prices" in job and "120" in job and "succeeded" in job
            dead = await page.evaluate("document.querySelector('#dead-letters tr.dead-letter').innerText")
            assert "price is negative" in dead and "<b>AAPL</b>" in dead  # shown as text, not markup
            assert await page.evaluate("document.querySelectorAll('#dead-letters b').length") == 0

            await stack.fail()
            await page.wait_until(f"{ROW}.dataset.status === 'down'", what="pulse turning down")
            red = await page.evaluate(f"getComputedStyle({ROW}).backgroundColor")
            assert red == "rgb(254, 226, 226)" and red != healthy_colour
            status_colour = await page.evaluate(f"getComputedStyle({ROW}.querySelector('td.status')).color")
            assert status_colour == "rgb(185, 28, 28)"
            alert_text = await page.wait_until(
                "(document.querySelector('li.alert[data-rule=\"system_down\"]') || {}).innerText",
                what="the system-down alert",
            )
            assert "emergency" in alert_text and "pulse: system down" in alert_text
            assert "ServerError" in await page.evaluate(f"{ROW}.querySelector('td.last-error').innerText")
            assert await page.evaluate("document.getElementById('overall').innerText") == "DOWN"
            await page.wait_until("document.querySelectorAll('#trends svg polyline').length > 0", what="trend lines")
            await page.screenshot(ARTIFACTS / "dashboard-system-down.png")
            html = await page.evaluate("document.documentElement.outerHTML")
            assert CANARY not in html

            await stack.heal()
            await page.wait_until(f"{ROW}.dataset.status === 'healthy'", what="pulse recovering")
            await page.wait_until("document.querySelectorAll('li.alert').length === 0", what="the alert clearing")
            assert await page.evaluate("document.querySelector('#alerts li.none').innerText") == "No active alerts"
            await page.screenshot(ARTIFACTS / "dashboard-recovered.png")
        await stack.monitor.stop()
    assert (ARTIFACTS / "dashboard-system-down.png").stat().st_size > 10_000
