from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from portico.errors import ConfigurationError, PluginLoadError
from portico.plugins import PluginManager
from tests.core.foundation.fakes import FakeBroker, Unimplemented, plugin_with

BUILTINS = {"alpaca", "alpha_vantage", "interactive_brokers"}


def test_builtins_load_through_entry_points() -> None:
    pm = PluginManager()
    assert set(pm.plugins) >= BUILTINS, pm.failures
    assert set(pm.connectors) >= BUILTINS
    for name in BUILTINS:
        assert pm.plugin_of(name) == name
        assert pm.spec(name).mock is not None, f"{name} ships no mock"


def test_autoload_can_be_disabled_and_allow_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTICO_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert PluginManager().plugins == {}
    monkeypatch.delenv("PORTICO_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("PORTICO_PLUGINS", "alpaca")
    pm = PluginManager()
    assert set(pm.plugins) == {"alpaca"}


def test_plugin_registered_by_code() -> None:
    pm = PluginManager(autoload=False)
    info = pm.register(plugin_with(FakeBroker), name="fakes")
    assert info is not None and info.connectors == ["fakebroker"]
    assert pm.connector("fakebroker") is FakeBroker


def test_failing_import_is_reported_and_runtime_goes_on() -> None:
    pm = PluginManager(autoload=False)
    pm._load_entry_point(EntryPoint(name="broken", value="portico_no_such_module.plugin", group="portico.plugins"))
    assert "broken" in pm.failures
    assert "ModuleNotFoundError" in pm.failures["broken"]
    assert "broken" not in pm.plugins


def test_declared_but_unimplemented_capabilities_are_rejected() -> None:
    pm = PluginManager(autoload=False)
    with pytest.raises(PluginLoadError, match="plugin 'lazy' could not be loaded: .*does not implement"):
        pm.register(plugin_with(Unimplemented), name="lazy")
    assert pm.register(plugin_with(Unimplemented), name="lazy", strict=False) is None
    assert "does not implement" in pm.failures["lazy"]
    assert "unimplemented" not in pm.connectors


def test_invalid_spec_dict_is_reported_with_plugin_name() -> None:
    class BadSpec(FakeBroker):
        spec = {"name": "Bad Name", "display_name": "x", "kinds": ["brokerage"], "environments": []}  # type: ignore[assignment]

    pm = PluginManager(autoload=False)
    with pytest.raises(PluginLoadError, match="spec is invalid"):
        pm.register(plugin_with(BadSpec), name="bad")
    assert "spec is invalid" in pm.failures["bad"]


def test_duplicate_connector_names_are_refused() -> None:
    class Twin(FakeBroker):
        pass

    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="first")
    with pytest.raises(PluginLoadError, match="already provided by plugin 'first'"):
        pm.register(plugin_with(Twin), name="second")
    assert "already provided by plugin 'first'" in pm.failures["second"]
    assert "fakebroker" in pm.connectors and pm.plugin_of("fakebroker") == "first"


def test_a_plugin_name_taken_is_refused_in_one_sentence() -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="tiny")

    class Other(FakeBroker):
        spec = FakeBroker.spec.model_copy(update={"name": "other"})

    with pytest.raises(PluginLoadError) as refused:
        pm.register(plugin_with(Other), name="tiny")
    assert str(refused.value) == (
        "plugin 'tiny' could not be loaded: a plugin named 'tiny' is already registered (from "
        f"{pm.plugins['tiny'].module}); register this one under another name"
    )
    assert "\n" not in str(refused.value) and "0x" not in str(refused.value)  # no dump of pluggy's internals


def test_unknown_connector_lists_installed() -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="fakes")
    with pytest.raises(ConfigurationError, match="installed connectors: fakebroker"):
        pm.connector("nope")


def test_plugins_json_lists_builtins_with_declarations() -> None:
    import json

    out = subprocess.run(
        [sys.executable, "-m", "portico.cli", "plugins", "--json"], capture_output=True, text=True, check=True
    ).stdout
    payload = json.loads(out)
    by_name = {c["name"]: c for c in payload["connectors"]}
    assert set(by_name) >= BUILTINS
    alpaca = by_name["alpaca"]
    assert alpaca["auth"] and alpaca["throttling"]["windows"] and alpaca["capabilities"]
