"""``portico run`` with ``gateway.enabled``: /v1 served, the dashboard behind the gateway's login, and a
public bind without TLS refused before anything is connected."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from portico.cli._run import serve
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async
from tests.gateway.stack import PASSWORDS, config


def _config(tmp_path: Path, **gateway: object) -> dict[str, object]:
    cfg = config(**gateway)
    cfg["monitoring"] = {"http": {"port": 0}}
    cfg["database_url"] = f"sqlite:///{tmp_path / 'run.db'}"
    return cfg


async def test_run_serves_the_api_and_puts_the_dashboard_behind_login(tmp_path: Path) -> None:
    lines: list[str] = []
    stop = asyncio.Event()
    integration = AsyncIntegration(_config(tmp_path), plugins=PluginManager())
    task = asyncio.create_task(serve(integration, stop=stop, echo=lines.append))
    try:
        await wait_for_async(
            lambda: any(line.startswith("api:") for line in lines) or task.done(), timeout=30
        )
        base = re.search(r"api:\s+(\S+)/v1", "\n".join(lines)).group(1)  # type: ignore[union-attr]
        assert not any("token=" in line for line in lines)  # no dashboard token is handed out
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/v1/systems")).status_code == 401
            assert (await http.get("/dashboard/state")).status_code == 401
            page = await http.get("/dashboard", headers={"Accept": "text/html"})
            assert page.status_code == 303 and page.headers["location"] == "/login"
            # the monitor's own ?token= door is closed behind the gateway
            guess = await http.get("/dashboard?token=guess", headers={"Accept": "text/html"})
            assert guess.status_code == 303 and guess.headers["location"] == "/login"
            wrong = await http.post("/login", data={"username": "alice", "password": "nope"})
            assert wrong.status_code == 401 and "portico_session" not in wrong.cookies
            login = await http.post("/login", data={"username": "alice", "password": PASSWORDS["alice"]})
            assert login.status_code == 303 and login.headers["location"] == "/dashboard"
            dashboard = await http.get("/dashboard", headers={"Accept": "text/html"})
            assert dashboard.status_code == 200 and 'data-system="alpaca_a"' in dashboard.text
            assert (await http.get("/dashboard/state")).status_code == 200
            assert (await http.get("/v1/systems")).status_code == 200  # the same session
            http.cookies.clear()
            # a user who may read no system does not see the dashboard
            await http.post("/login", data={"username": "erin", "password": PASSWORDS["erin"]})
            assert (await http.get("/dashboard/state")).status_code == 401
            assert (await http.get("/health")).status_code in {200, 503}  # readiness stays open
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def test_run_refuses_a_public_bind_without_tls(tmp_path: Path) -> None:
    errors: list[str] = []
    integration = AsyncIntegration(_config(tmp_path), plugins=PluginManager())
    code = await serve(
        integration, stop=asyncio.Event(), host="0.0.0.0", error=errors.append, echo=lambda _l: None
    )
    assert code == 2
    assert "refusing to serve the gateway on 0.0.0.0" in errors[0]
    assert all(s.state == "registered" for s in integration.systems.values())  # nothing was connected
