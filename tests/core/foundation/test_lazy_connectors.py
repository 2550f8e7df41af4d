"""Connectors listed by manifest (ConnectorRef): listed without importing their class, checked on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from portico.errors import PluginLoadError
from portico.plugins import PluginManager
from portico.sdk import ConnectorRef
from tests.core.foundation.fakes import FAKE_SPEC, Unimplemented, plugin_with

_FAKES = "tests.core.foundation.fakes"


def test_a_ref_is_listed_by_its_manifest_and_loaded_on_first_use() -> None:
    pm = PluginManager(autoload=False)
    info = pm.register(plugin_with(ConnectorRef(FAKE_SPEC, f"{_FAKES}:FakeBroker")), name="fakes")
    assert info is not None and info.connectors == ["fakebroker"]
    assert pm.specs == {"fakebroker": FAKE_SPEC}
    assert pm.spec("fakebroker") is FAKE_SPEC
    assert "fakebroker" in pm.connectors and list(pm.connectors) == ["fakebroker"]
    assert isinstance(pm._connectors["fakebroker"], ConnectorRef)  # nothing imported yet
    from tests.core.foundation.fakes import FakeBroker

    assert pm.connector("fakebroker") is FakeBroker
    assert pm.connectors["fakebroker"] is FakeBroker
    assert pm._connectors["fakebroker"] is FakeBroker  # imported and checked once


def test_a_ref_whose_class_does_not_import_is_a_plugin_error_with_the_target() -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(ConnectorRef(FAKE_SPEC, "portico_no_such_module.connector:Nope")), name="gone")
    assert pm.spec("fakebroker").name == "fakebroker"  # the manifest is still readable
    with pytest.raises(
        PluginLoadError, match=r"plugin 'gone'.*'portico_no_such_module.connector:Nope'.*ModuleNotFoundError"
    ):
        pm.connector("fakebroker")
    assert "ModuleNotFoundError" in pm.failures["gone"]
    assert pm.find_spec("fakebroker") is FAKE_SPEC


def test_a_ref_to_a_missing_attribute_fails_on_first_use() -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(ConnectorRef(FAKE_SPEC, f"{_FAKES}:NoSuchClass")), name="typo")
    with pytest.raises(PluginLoadError, match="AttributeError: .*NoSuchClass"):
        pm.find_connector("fakebroker")


def test_the_loaded_class_is_checked_like_a_listed_one() -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(ConnectorRef(Unimplemented.spec, f"{_FAKES}:Unimplemented")), name="lazy")
    with pytest.raises(PluginLoadError, match="does not implement"):
        pm.connector("unimplemented")
    assert "does not implement" in pm.failures["lazy"]
    with pytest.raises(PluginLoadError, match="is not a portico.sdk.Connector subclass"):
        other = PluginManager(autoload=False)
        other.register(plugin_with(ConnectorRef(FAKE_SPEC, f"{_FAKES}:plugin_with")), name="notaclass")
        other.connector("fakebroker")


def test_a_class_whose_spec_is_not_the_listed_manifest_is_refused() -> None:
    pm = PluginManager(autoload=False)
    listed = FAKE_SPEC.model_copy(update={"display_name": "Something else"})
    pm.register(plugin_with(ConnectorRef(listed, f"{_FAKES}:FakeBroker")), name="drift")
    with pytest.raises(PluginLoadError, match="spec other than the manifest"):
        pm.connector("fakebroker")


def test_a_ref_needs_a_manifest_and_a_module_colon_class_target() -> None:
    with pytest.raises(ValueError, match="not 'package.module:ClassName'"):
        ConnectorRef(FAKE_SPEC, "tests.core.foundation.fakes.FakeBroker")
    pm = PluginManager(autoload=False)
    with pytest.raises(PluginLoadError, match="has no ConnectorSpec"):
        pm.register(plugin_with(ConnectorRef({"name": "x"}, f"{_FAKES}:FakeBroker")), name="nospec")  # type: ignore[arg-type]


def test_a_ref_to_another_class_under_a_taken_name_is_refused() -> None:
    from tests.core.foundation.fakes import FakeBroker

    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="eager")
    with pytest.raises(PluginLoadError, match="already provided by plugin 'eager'"):
        pm.register(plugin_with(ConnectorRef(FAKE_SPEC, f"{_FAKES}:Unimplemented")), name="lazy")
    assert pm.connector("fakebroker") is FakeBroker


@pytest.mark.timeout(180)
def test_listing_plugins_imports_no_connector_module() -> None:
    probe = (
        "import sys, json\nfrom portico.cli import main\nmain(['plugins', '--json'])\n"
        "print('MODULES:' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out, _, modules_line = done.stdout.rpartition("MODULES:")
    loaded = set(json.loads(modules_line))
    listed = {c["name"] for c in json.loads(out)["connectors"]}
    assert {"alpaca", "etrade", "morningstar", "polygon", "schwab"} <= listed
    heavy = sorted(
        m
        for m in loaded
        if m.startswith("portico.connectors.") and m.rsplit(".", 1)[1] not in {"plugin", "spec"}
    )
    heavy = [m for m in heavy if m.count(".") > 2]  # the packages themselves are light
    assert heavy == []
    assert not {"asyncio", "portico.http", "portico.auth", "polars", "sqlalchemy", "authlib"} & loaded


def test_one_connector_listed_twice_by_reference_is_not_a_clash() -> None:
    from tests.core.foundation.fakes import FakeBroker

    pm = PluginManager(autoload=False)
    pm.register(plugin_with(ConnectorRef(FAKE_SPEC, f"{_FAKES}:FakeBroker")), name="one")
    pm.register(plugin_with(ConnectorRef(FAKE_SPEC, f"{_FAKES}:FakeBroker")), name="again")
    assert pm.connector("fakebroker") is FakeBroker
    pm.register(plugin_with(FakeBroker), name="as_class")  # the class its reference named
    assert pm.plugin_of("fakebroker") == "as_class"
