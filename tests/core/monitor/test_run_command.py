"""``portico run``: the runtime with its HTTP server, in-process and as the real command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

from .conftest import CANARY, wait_for
from .vendor import plugin


async def test_serve_connects_checks_and_serves_until_stopped(tmp_path: Path) -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin(), name="pulsefeed")
    config = {
        "systems": {
            "pulse": {
                "type": "market_data",
                "connector": "pulsefeed",
                "mock": True,
                "authentication": {"type": "none", "credentials": {"api_key": CANARY}},
            }
        },
        "monitoring": {"health_check_interval": 1, "http": {"port": 0}},
        "database_url": f"sqlite:///{tmp_path / 'p.db'}",
    }
    from portico.cli._run import serve

    lines: list[str] = []
    stop = asyncio.Event()
    integration = AsyncIntegration(config, plugins=pm)
    task = asyncio.create_task(serve(integration, stop=stop, echo=lines.append))
    await wait_for(lambda: any("/dashboard?token=" in line for line in lines) or task.done(), what="the server")
    url = re.search(r"(http://\S+/dashboard\?token=\S+)", "\n".join(lines)).group(1)  # type: ignore[union-attr]
    base = url.split("/dashboard")[0]
    assert base.startswith("http://127.0.0.1:")
    assert "system pulse: connected" in lines
    async with httpx.AsyncClient(follow_redirects=True) as c:
        await wait_for(lambda: integration.monitor.health("pulse").status == "healthy", what="a health check")
        health = (await c.get(f"{base}/health")).json()
        assert health["systems"]["pulse"]["status"] == "healthy"
        assert "portico_system_health" in (await c.get(f"{base}/metrics")).text
        page = await c.get(url)  # the printed URL logs in (cookie) and lands on the page
        assert page.status_code == 200 and 'data-system="pulse"' in page.text
    stop.set()
    assert await task == 0
    assert integration.systems["pulse"].state == "disconnected"


def test_the_command_prints_the_token_once_and_stops_on_sigint(tmp_path: Path) -> None:
    config = tmp_path / "portico.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "external_integration_config": {
                    "systems": {},
                    "monitoring": {"log_level": "INFO", "health_check_interval": 5},
                    "database_url": f"sqlite:///{tmp_path / 'p.db'}",
                }
            }
        )
    )
    env = {**os.environ, "PORTICO_HOME": str(tmp_path / "home"), "PORTICO_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from portico.cli import main; main()", "run", "--config", str(config), "--http-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        out_lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            out_lines.append(line.rstrip("\n"))
            if line.startswith("portico is running"):
                break
        text = "\n".join(out_lines)
        match = re.search(r"│ (http://127\.0\.0\.1:\d+)/dashboard\?token=(\S+) +│", text)
        assert match, text
        base, token = match.groups()
        with httpx.Client() as c:
            assert c.get(f"{base}/health").json()["status"] == "healthy"
            assert c.get(f"{base}/dashboard/state").status_code == 401
            assert c.get(f"{base}/dashboard/state", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        again = subprocess.run(
            [sys.executable, "-m", "portico.cli", "run", "--print-token"],
            capture_output=True, text=True, env=env, timeout=60,
        )
        assert again.returncode == 0 and again.stdout == f"{token}\n", again.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert text.count(token) == 1 and token not in err
    assert max(len(line) for line in out_lines) <= 80, "the token box fits 80 columns"
    gone = subprocess.run(
        [sys.executable, "-m", "portico.cli", "run", "--print-token"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert gone.returncode == 1 and "no portico run is serving a dashboard here" in gone.stderr



async def test_serve_on_all_interfaces_warns_and_checks_the_host_header(tmp_path: Path) -> None:
    from portico.cli._run import serve

    config = {"systems": {}, "monitoring": {"http": {"port": 0}}, "database_url": f"sqlite:///{tmp_path / 'p.db'}"}
    lines: list[str] = []
    warnings: list[str] = []
    stop = asyncio.Event()
    integration = AsyncIntegration(config, plugins=PluginManager(autoload=False))
    task = asyncio.create_task(serve(integration, stop=stop, host="0.0.0.0", echo=lines.append, warn=warnings.append))
    try:
        await wait_for(lambda: any(line.startswith("portico is running") for line in lines) or task.done(), what="the server")
        [warning] = warnings
        assert warning.startswith("warning:") and "0.0.0.0" in warning and "plain HTTP" in warning
        port = re.search(r"health: +http://[^:]+:(\d+)/health", "\n".join(lines)).group(1)  # type: ignore[union-attr]
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"http://127.0.0.1:{port}/health/live")).status_code == 200
            rebound = await c.get(f"http://127.0.0.1:{port}/health", headers={"Host": f"evil.example:{port}"})
            assert rebound.status_code == 400
    finally:
        stop.set()
        assert await task == 0


async def test_the_demo_dashboard_checks_every_system_at_start(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from portico.cli._demo import _serve

    pm = PluginManager(autoload=False)
    pm.register(plugin(), name="pulsefeed")
    config = {
        "systems": {
            "pulse": {
                "type": "market_data",
                "connector": "pulsefeed",
                "mock": True,
                "authentication": {"type": "none", "credentials": {"api_key": CANARY}},
            }
        },
        "monitoring": {"health_check_interval": 3600},  # only the check at start can answer in time
        "database_url": f"sqlite:///{tmp_path / 'p.db'}",
    }
    out = io.StringIO()
    integration = AsyncIntegration(config, plugins=pm)
    await integration.start()
    task = asyncio.create_task(_serve(Console(file=out, width=400), integration, 0))
    try:
        await wait_for(lambda: "│ http://127.0.0.1:" in out.getvalue() or task.done(), what="the demo server")
        await wait_for(lambda: integration.monitor.health("pulse").status == "healthy", what="the check at start")
        assert integration.monitor.overall_status() == "healthy"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await integration.stop()
