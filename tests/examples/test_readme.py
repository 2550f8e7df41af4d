"""The README's embedding section tells the truth: its snippet runs against the mocks and prints no log
line of its own, the methods it lists take the arguments it shows, and a runtime none of whose systems
connected says so instead of entering the ``with`` block."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from portico import AsyncIntegration, Integration
from portico.errors import ConnectionFailed
from portico.hookspecs import hookimpl
from portico.plugins import PluginManager
from tests.core.foundation.fakes import FakeBroker

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORTICO_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=240
    )


def test_the_embedding_snippet_runs_against_the_mocks_and_logs_nothing(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Embedding portico"), flags=re.S)
    assert len(blocks) == 1, "the section has one snippet"
    result = _run(blocks[0], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stderr == "", "a library configures no logging unless asked"
    lines = result.stdout.splitlines()
    assert lines[0] == "filled", result.stdout  # the snippet waits for its market order's fill
    assert "symbol='AAPL'" in lines[1] and "quantity=Decimal('10')" in lines[1], result.stdout


def test_an_application_that_turns_logging_on_gets_portico_lines_redacted(tmp_path: Path) -> None:
    code = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
from portico import Integration
config = {"systems": {"alpaca": {"type": "brokerage", "mock": True, "authentication": {
    "type": "api_key_pair", "credentials": {"api_key_id": "PKCANARY0001", "api_secret_key": "Sup3r-Secret-Canary"}}}}}
with Integration(config) as integration:
    integration.get_external_account("alpaca")
"""
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "system.connected" in result.stderr, "portico's lines reach the application's handlers"
    assert "Sup3r-Secret-Canary" not in result.stderr and "PKCANARY0001" not in result.stderr


def test_the_listed_methods_take_the_arguments_the_readme_shows() -> None:
    listed = re.findall(r"`(\w+)\(([^`]*)\)`", _section("Embedding portico"))
    names = {name for name, _ in listed}
    assert {"unsubscribe_market_data", "run_health_check", "place_external_order", "get_market_data"} <= names
    for name, shown in listed:
        method = getattr(Integration, name)
        required = [
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.name != "self" and p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
        ]
        shown_names = [part.strip().split("=")[0].strip() for part in shown.split(",") if part.strip()]
        assert shown_names[: len(required)] == required, f"README shows {name}({shown}); it needs {required}"
        assert hasattr(AsyncIntegration, name)


class Unreachable(FakeBroker):
    """A broker whose venue refuses every connection."""

    spec = FakeBroker.spec.model_copy(update={"name": "unreachable"})

    async def open(self) -> None:
        raise ConnectionFailed("connection refused by 127.0.0.1:9")


class _Plugin:
    @hookimpl
    def portico_connectors(self) -> list[type[FakeBroker]]:
        return [FakeBroker, Unreachable]


def _plugins() -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.register(_Plugin(), name="fakes")
    return pm


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "portico-runtime"}


def test_with_integration_raises_naming_each_system_when_none_connected() -> None:
    config = {
        "systems": {
            "desk_a": {"type": "brokerage", "connector": "unreachable"},
            "desk_b": {"type": "brokerage", "connector": "unreachable"},
        }
    }
    before = _threads()
    with pytest.raises(ConnectionFailed) as raised, Integration(config, plugins=_plugins()):
        pytest.fail("the with block must not run when no system connected")
    assert raised.value.message == (
        "no system could be connected: desk_a: connection refused by 127.0.0.1:9; "
        "desk_b: connection refused by 127.0.0.1:9"
    )
    assert raised.value.detail == {
        "desk_a": "connection refused by 127.0.0.1:9",
        "desk_b": "connection refused by 127.0.0.1:9",
    }
    assert _threads() == before, "the runtime's thread is stopped after the failed start"


async def test_async_with_raises_too_and_a_partial_start_reports_the_failed_system() -> None:
    with pytest.raises(ConnectionFailed, match="no system could be connected: desk_a: connection refused"):
        async with AsyncIntegration({"systems": {"desk_a": {"type": "brokerage", "connector": "unreachable"}}},
                                    plugins=_plugins()):
            pytest.fail("the with block must not run when no system connected")
    config = {
        "systems": {
            "desk_a": {"type": "brokerage", "connector": "unreachable"},
            "fakebroker": {"type": "brokerage"},
        }
    }
    async with AsyncIntegration(config, plugins=_plugins()) as integration:
        assert integration.unavailable_systems == {"desk_a": "connection refused by 127.0.0.1:9"}
        assert (await integration.get_external_system_status("fakebroker")).state == "connected"
        assert (await integration.get_external_system_status("desk_a")).state == "error"
