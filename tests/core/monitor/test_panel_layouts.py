"""Dashboard panels are drawn from the layout their plugin contributes: portico's own and a third party's alike."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.contributions import DashboardPanel, PanelColumn
from portico.hookspecs import hookimpl
from portico.monitor import IntegrationMonitor, Redactor, RuntimeServer
from portico.plugins import PluginManager

from .browser import chromium_page, chromium_verdict, find_chromium

TOKEN = "panel-token-abcdefghijklmnop"

LIMITS_PANEL = DashboardPanel(
    key="acme_limits",
    title="Desk limits",
    read=lambda runtime: runtime.limits,
    order=5,
    table_id="acme-limits",
    columns=(
        PanelColumn("account", "Account"),
        PanelColumn("used_pct", "Used %", kind="number"),
        PanelColumn("checked_at", "Checked", kind="time", css="checked"),
        PanelColumn("rule", "Rule", kind="code"),
    ),
    empty="No limits watched",
    row_class="limit",
    row_state=("level", "level"),
    row_key=("account", "account"),
)


class AcmePanels:
    """A third-party plugin adding one panel with a layout and one without."""

    @hookimpl
    def portico_dashboard_panels(self) -> list[DashboardPanel]:
        return [
            LIMITS_PANEL,
            DashboardPanel(key="acme_notes", title="Desk notes", read=lambda runtime: runtime.notes, order=6),
        ]


class DeskRuntime:
    """What the dashboard reads: the runtime's plugins, and the data the plugin's panels read."""

    systems = None

    def __init__(self, plugins: PluginManager) -> None:
        self.plugins = plugins
        self._services: dict[str, Any] = {}
        self.limits: list[dict[str, Any]] = [
            {
                "account": "ACC-7",
                "used_pct": 95,
                "checked_at": "2026-01-05T14:30:00+00:00",
                "rule": "gross<1m",
                "level": "over",
            },
        ]
        self.notes: list[dict[str, Any]] = [{"desk_note": "rebalance friday", "owner": "kim"}]


def desk() -> DeskRuntime:
    plugins = PluginManager(autoload=False)
    plugins.register(AcmePanels(), name="acme-panels")
    return DeskRuntime(plugins)


def client(server: RuntimeServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://127.0.0.1")


async def test_a_contributed_layout_is_drawn_like_the_built_in_panels() -> None:
    server = RuntimeServer(IntegrationMonitor(clock=FakeClock(), redactor=Redactor()), desk(), token=TOKEN)
    async with client(server) as c:
        page = (await c.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})).text
    assert '<section class="panel" data-panel="acme_limits">\n  <h2>Desk limits</h2>' in page
    assert "<thead><tr><th>Account</th><th>Used %</th><th>Checked</th><th>Rule</th></tr></thead>" in page
    assert (
        '<tr class="limit level-over" data-account="ACC-7"><td>ACC-7</td><td class="num">95</td>'
        '<td class="checked"><time datetime="2026-01-05T14:30:00+00:00">2026-01-05 14:30:00 UTC</time></td>'
        "<td><code>gross&lt;1m</code></td></tr>"
    ) in page
    # a panel without a layout: a column per key of its rows
    assert '<table id="panel-acme_notes" class="generic-panel">' in page
    assert "<th>desk note</th><th>owner</th>" in page and "<td>rebalance friday</td><td>kim</td>" in page
    # the built-in services' panels come through the same contribution, with their own layouts
    assert '<table id="orders">' in page and "<th>Placed</th><th>Broker</th><th>Symbol</th>" in page
    assert '<tr class="none"><td colspan="11">No orders yet</td></tr>' in page
    assert '<tr class="none"><td colspan="5">Dead-letter queue empty</td></tr>' in page
    # panels show in their order: the plugin's (5, 6) before the schedule (10) and the orders (40)
    assert (
        page.index('data-panel="acme_limits"')
        < page.index('data-panel="schedule"')
        < page.index('data-panel="orders"')
    )

    state = await server.state()
    [layout] = [p for p in state["panels"] if p["key"] == "acme_limits"]
    assert layout == {
        "key": "acme_limits",
        "title": "Desk limits",
        "table_id": "acme-limits",
        "columns": [
            {"field": "account", "title": "Account", "kind": "text", "css": ""},
            {"field": "used_pct", "title": "Used %", "kind": "number", "css": ""},
            {"field": "checked_at", "title": "Checked", "kind": "time", "css": "checked"},
            {"field": "rule", "title": "Rule", "kind": "code", "css": ""},
        ],
        "empty": "No limits watched",
        "row_class": "limit",
        "row_state": ["level", "level"],
        "row_key": ["account", "account"],
    }


async def test_an_empty_panel_shows_its_text_and_a_provider_replaces_its_read() -> None:
    runtime = desk()
    runtime.limits = []
    server = RuntimeServer(IntegrationMonitor(clock=FakeClock(), redactor=Redactor()), runtime, token=TOKEN)
    async with client(server) as c:
        page = (await c.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})).text
    assert '<tr class="none"><td colspan="4">No limits watched</td></tr>' in page
    server.providers["acme_limits"] = lambda: [{"account": "ACC-1", "used_pct": 10, "level": "ok"}]
    assert (await server.state())["acme_limits"] == [{"account": "ACC-1", "used_pct": 10, "level": "ok"}]


async def test_a_panel_with_an_unknown_cell_kind_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    class Sloppy:
        @hookimpl
        def portico_dashboard_panels(self) -> list[DashboardPanel]:
            return [
                DashboardPanel(
                    key="sloppy",
                    title="Sloppy",
                    read=lambda runtime: [],
                    columns=(PanelColumn("x", "X", kind="chart"),),
                )
            ]

    runtime = desk()
    runtime.plugins.register(Sloppy(), name="sloppy")
    server = RuntimeServer(IntegrationMonitor(clock=FakeClock(), redactor=Redactor()), runtime, token=TOKEN)
    assert "sloppy" not in [p.key for p in server.panels]
    assert "acme_limits" in [p.key for p in server.panels]  # the others still show
    state = await server.state()
    assert "sloppy" not in state and "sloppy" not in [p["key"] for p in state["panels"]]


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


@pytest.mark.browser
async def test_the_page_redraws_a_contributed_panel_from_its_layout(tmp_path: Path, chromium: str) -> None:
    runtime = desk()
    server = RuntimeServer(
        IntegrationMonitor(redactor=Redactor()), runtime, port=0, token=TOKEN, refresh_seconds=0.2
    )
    await server.start()
    try:
        async with chromium_page(chromium, tmp_path / "profile") as page:
            await page.navigate(server.dashboard_url)
            row = "document.querySelector('#acme-limits tr.limit[data-account=\"ACC-7\"]')"
            await page.wait_until(
                f"{row} && document.body.dataset.updates", what="the limits row, redrawn once"
            )
            assert await page.evaluate(f"{row}.className") == "limit level-over"
            cells = await page.evaluate(f"[...{row}.cells].map(c => [c.className, c.innerText])")
            assert cells[0] == ["", "ACC-7"] and cells[1] == ["num", "95"] and cells[3] == ["", "gross<1m"]
            assert cells[2][0] == "checked"
            assert await page.evaluate(
                f"{row}.querySelector('td.checked time').getAttribute('datetime')"
            ) == ("2026-01-05T14:30:00+00:00")
            assert await page.evaluate(f"{row}.querySelectorAll('code').length") == 1

            runtime.limits = [
                {"account": "ACC-9", "used_pct": 40, "checked_at": None, "rule": "<b>net</b>", "level": "ok"},
            ]
            moved = "document.querySelector('#acme-limits tr.limit[data-account=\"ACC-9\"]')"
            await page.wait_until(f"!!{moved}", what="the new row")
            assert await page.evaluate(f"{moved}.className") == "limit level-ok"
            assert await page.evaluate("document.querySelectorAll('#acme-limits tr.limit').length") == 1
            assert (
                await page.evaluate("document.querySelectorAll('#acme-limits b').length") == 0
            )  # text, not markup
            runtime.limits = []
            await page.wait_until(
                "(document.querySelector('#acme-limits tr.none') || {}).innerText === 'No limits watched'",
                what="the empty text",
            )
            notes = await page.evaluate(
                "[...document.querySelectorAll('#panel-acme_notes tr.panel-row td')].map(c => c.innerText)"
            )
            assert notes == ["rebalance friday", "kim"]
    finally:
        await server.stop()
