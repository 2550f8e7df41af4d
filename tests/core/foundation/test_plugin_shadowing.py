"""No plugin replaces another's connector silently: built-ins win and say so, two third parties are an error.

The intruders are real distributions: a ``*.dist-info`` folder and a module written to a temporary folder
that is put on the path (of this process's metadata lookup, or of a subprocess through PYTHONPATH), so
nothing is installed into the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import EntryPoint, PathDistribution, entry_points
from pathlib import Path

import pytest

from portico.errors import ConfigurationError
from portico.plugins import ENTRY_POINT_GROUP, PluginManager

PLUGIN_SOURCE = """
from portico.hookspecs import hookimpl
from portico.sdk import CapabilitySet, Connector, ConnectorKind, ConnectorSpec, Environment


class Impostor(Connector):
    spec = ConnectorSpec(
        name={connector!r},
        display_name="Impostor",
        kinds=(ConnectorKind.MARKET_DATA,),
        environments=(Environment(name="live", urls={{"base": "https://impostor.example"}}),),
        capabilities=CapabilitySet(operations={{}}),
    )


@hookimpl
def portico_connectors():
    return [Impostor]
"""


def write_distribution(folder: Path, dist: str, version: str, entry_point: str, module: str, connector: str) -> Path:
    """A distribution ``dist`` whose ``portico.plugins`` entry point ``entry_point`` provides ``connector``."""
    (folder / f"{module}.py").write_text(PLUGIN_SOURCE.format(connector=connector))
    info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_point} = {module}\n")
    return info


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))  # so the entry points' modules import; undone after the test
    return folder


def dist_entry_points(info: Path) -> list[EntryPoint]:
    return [ep for ep in PathDistribution(info).entry_points if ep.group == ENTRY_POINT_GROUP]


def installed() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))


def test_a_plugin_named_like_a_builtin_does_not_replace_it(plugin_dir: Path) -> None:
    evil = write_distribution(plugin_dir, "portico-evil", "6.6.6", "alpaca", "evil_alpaca_plugin", "alpaca")
    # the intruder comes first, as it would from a path entry ahead of site-packages
    pm = PluginManager(autoload=False)
    pm.load_entry_points([*dist_entry_points(evil), *installed()])
    assert pm.connector("alpaca").__module__ == "portico.connectors.alpaca.connector"
    assert pm.plugins["alpaca"].distribution == "portico"
    assert pm.failures == {
        "alpaca (portico-evil)": "plugin 'alpaca' of portico-evil 6.6.6 would replace plugin 'alpaca' of the "
        "built-in distribution portico: refused (uninstall portico-evil, or rename its entry point)"
    }


def test_a_plugin_providing_a_builtin_connector_under_another_name_is_refused(plugin_dir: Path) -> None:
    evil = write_distribution(plugin_dir, "portico-sneaky", "1.0", "aaa_first", "sneaky_plugin", "alpaca")
    pm = PluginManager(autoload=False)
    pm.load_entry_points([*dist_entry_points(evil), *installed()])
    assert pm.connector("alpaca").__module__ == "portico.connectors.alpaca.connector"
    assert "aaa_first" not in pm.plugins
    assert pm.failures == {
        "aaa_first": "connector 'alpaca' of plugin 'aaa_first' (portico-sneaky 1.0) would replace connector "
        "'alpaca' of plugin 'alpaca' (the built-in distribution portico): refused (uninstall portico-sneaky)"
    }


def test_two_third_party_providers_of_one_connector_are_an_error_naming_both(plugin_dir: Path) -> None:
    one = write_distribution(plugin_dir, "portico-acme-one", "1.0", "acme_one", "acme_one_plugin", "acme")
    two = write_distribution(plugin_dir, "portico-acme-two", "2.0", "acme_two", "acme_two_plugin", "acme")
    pm = PluginManager(autoload=False)
    pm.load_entry_points([*dist_entry_points(one), *dist_entry_points(two)])
    assert "acme" not in pm.connectors, "neither provider may win by the order of the path"
    assert set(pm.failures) == {"acme_one", "acme_two"}
    expected = (
        "connector 'acme' is provided by more than one distribution: portico-acme-one 1.0 (plugin 'acme_one'), "
        "portico-acme-two 2.0 (plugin 'acme_two'); uninstall all but one"
    )
    assert pm.failures["acme_one"] == expected and pm.failures["acme_two"] == expected
    with pytest.raises(ConfigurationError) as raised:
        pm.connector("acme")
    assert str(raised.value) == expected


def test_the_command_lists_the_builtin_and_the_refusal_with_a_real_distribution_on_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    write_distribution(folder, "portico-evil", "6.6.6", "alpaca", "evil_alpaca_plugin", "alpaca")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "portico.cli", "plugins", "--json"], capture_output=True, text=True, check=True, env=env
    ).stdout
    payload = json.loads(out)
    alpaca = next(p for p in payload["plugins"] if p["name"] == "alpaca")
    assert alpaca["distribution"] == "portico"
    assert "would replace plugin 'alpaca' of the built-in distribution portico" in payload["failures"]["alpaca (portico-evil)"]


def test_two_distributions_with_one_plugin_name_are_both_refused(plugin_dir: Path) -> None:
    one = write_distribution(plugin_dir, "portico-acme-one", "1.0", "acme", "acme_one_named_plugin", "acme_one")
    two = write_distribution(plugin_dir, "portico-acme-two", "2.0", "acme", "acme_two_named_plugin", "acme_two")
    pm = PluginManager(autoload=False)
    pm.load_entry_points([*dist_entry_points(one), *dist_entry_points(two)])
    assert pm.plugins == {}
    expected = (
        "plugin name 'acme' is provided by more than one distribution: portico-acme-one 1.0, portico-acme-two 2.0; "
        "uninstall all but one"
    )
    assert pm.failures == {"acme (portico-acme-one)": expected, "acme (portico-acme-two)": expected}
    with pytest.raises(ConfigurationError, match="provided by more than one distribution"):
        pm.connector("acme_two")


def test_the_scaffold_refuses_the_name_of_an_installed_connector(tmp_path: Path) -> None:
    from portico.scaffold import generate_connector

    with pytest.raises(ConfigurationError) as raised:
        generate_connector("alpaca", output=tmp_path)
    assert str(raised.value) == (
        "connector name 'alpaca' is already installed (plugin 'alpaca' of portico): a second provider would be "
        "refused at load time; choose another NAME"
    )
    assert list(tmp_path.iterdir()) == []
    result = subprocess.run(
        [sys.executable, "-m", "portico.cli", "new", "connector", "alpaca", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {raised.value}"]
    assert list(tmp_path.iterdir()) == []
