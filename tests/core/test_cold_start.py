"""What starting up loads: listing plugins loads no mock server, loading a config loads no importer or
database layer (they load on first use). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint('MODULES:' + json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("MODULES:"))
    return set(json.loads(line.removeprefix("MODULES:")))


@pytest.mark.timeout(180)
def test_listing_plugins_loads_no_mock_server() -> None:
    loaded = _modules_after("from portico.cli import main\nmain(['plugins', '--json'])")
    assert "portico.mocks.oauth.plugin" in loaded  # the plugin was discovered...
    kit = sorted(m for m in loaded if m.startswith(("portico.mocks._kit", "portico.mocks.oauth._")))
    assert kit == []  # ...without its server or the mock kit
    assert "starlette.applications" not in loaded and "uvicorn" not in loaded


@pytest.mark.timeout(180)
def test_loading_the_config_package_loads_no_importer_or_database() -> None:
    loaded = _modules_after("import portico.config")
    assert not {"sqlalchemy", "portico.jobs._importer", "portico.jobs._service", "polars"} & loaded


def test_the_lazy_packages_still_export_everything() -> None:
    import portico.jobs
    import portico.mocks
    import portico.mocks.oauth

    for package in (portico.jobs, portico.mocks, portico.mocks.oauth):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
    from portico.mocks import MockServer
    from portico.mocks._kit import MockServer as kit_server

    assert MockServer is kit_server
    with pytest.raises(AttributeError):
        _ = portico.mocks.no_such_name
