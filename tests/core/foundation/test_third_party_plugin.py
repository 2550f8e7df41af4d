"""The example third-party plugin, pip-installed beside the test environment, loads like a built-in."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.overlay import overlay_install

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = ROOT / "examples" / "third_party_plugin"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example plugin installed into a folder of its own on sys.path, never into the venv."""
    with overlay_install(PLUGIN, tmp_path_factory.mktemp("overlay")):
        yield "example_venue"
    # afterwards it is gone from this process and was never in the project's environment
    from portico.plugins import PluginManager

    assert "example_venue" not in PluginManager().plugins
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    assert "portico-example-venue" not in {p["name"] for p in json.loads(listed)}


def test_runtime_loads_it_exactly_like_a_builtin(installed_plugin: str) -> None:
    from portico.plugins import PluginManager

    pm = PluginManager()
    assert installed_plugin in pm.plugins, pm.failures
    info = pm.plugins[installed_plugin]
    assert info.distribution == "portico-example-venue"
    assert info.connectors == ["example_venue"]
    assert pm.spec("example_venue").mock is not None


def test_plugins_json_lists_it(installed_plugin: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "portico.cli", "plugins", "--json"], capture_output=True, text=True, check=True
    ).stdout
    connectors = {c["name"]: c for c in json.loads(out)["connectors"]}
    example = connectors["example_venue"]
    assert example["plugin"] == "example_venue"
    assert example["auth"][0]["scheme"] == "api_key"
    assert [w["text"] for w in example["throttling"]["windows"]] == ["10/second", "300/minute"]
    assert set(example["capabilities"]) == {"get_bars", "get_latest_quotes", "search_instruments"}


def test_allow_list_can_exclude_it(installed_plugin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from portico.plugins import PluginManager

    monkeypatch.setenv("PORTICO_PLUGINS", "alpaca")
    assert installed_plugin not in PluginManager().plugins


async def test_runtime_serves_its_mock_and_calls_it(installed_plugin: str) -> None:
    from portico.runtime import AsyncIntegration

    config = {
        "systems": {
            "venue": {
                "type": "market_data",
                "connector": "example_venue",
                "mock": True,
                "authentication": {"type": "api_key", "credentials": {"api_key": "k-123"}},
            }
        }
    }
    async with AsyncIntegration(config) as integration:
        status = await integration.get_external_system_status("venue")
        assert status.state == "connected", status.last_error
        assert status.urls["base"].startswith("http://127.0.0.1:")
        quotes = await integration.systems["venue"].connector.get_latest_quotes(["AAPL", "MSFT"])
        assert set(quotes) == {"AAPL", "MSFT"}


def test_its_own_conformance_tests_pass(installed_plugin: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
        capture_output=True,
        text=True,
        cwd=PLUGIN,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
