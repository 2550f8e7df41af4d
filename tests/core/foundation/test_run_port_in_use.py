"""``portico run`` binds its HTTP port before it connects anything: a port in use is one line, exit non-zero."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from portico.cli._run import serve
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from tests.core.foundation.fakes import FakeBroker, plugin_with


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other process is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_serve_on_a_held_port_fails_before_connecting_any_system(held_port: int, tmp_path: Path) -> None:
    FakeBroker.opened = 0
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="fakes")
    config = {
        "systems": {"fakebroker": {"type": "brokerage"}},
        "database_url": f"sqlite:///{tmp_path / 'p.db'}",
    }
    integration = AsyncIntegration(config, plugins=pm)
    out: list[str] = []
    errors: list[str] = []
    code = await asyncio.wait_for(
        serve(integration, stop=asyncio.Event(), port=held_port, echo=out.append, error=errors.append), timeout=30
    )
    assert code == 2
    assert FakeBroker.opened == 0, "a system was connected before the port was known to be free"
    assert integration.systems["fakebroker"].state == "registered"
    assert out == []
    assert errors == [
        f"error: cannot serve HTTP on 127.0.0.1:{held_port}: address already in use "
        "(choose another --http-port, or 0 for any free port)"
    ]


def test_the_command_on_a_held_port_prints_one_line_and_exits_non_zero(held_port: int, tmp_path: Path) -> None:
    config = tmp_path / "portico.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "external_integration_config": {
                    "systems": {},
                    "monitoring": {"log_level": "INFO"},
                    "database_url": f"sqlite:///{tmp_path / 'p.db'}",
                }
            }
        )
    )
    env = {**os.environ, "PORTICO_HOME": str(tmp_path / "home"), "PORTICO_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-c", "from portico.cli import main; main()", "run", "--config", str(config),
         "--http-port", str(held_port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: cannot serve HTTP on 127.0.0.1:{held_port}: address already in use "
        "(choose another --http-port, or 0 for any free port)"
    ]
    assert "portico is running" not in result.stdout
