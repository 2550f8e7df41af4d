"""Fixtures shared by the whole suite. Every test runs with its own temporary PORTICO_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.clock import FakeClock


@pytest.fixture(autouse=True)
def portico_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty PORTICO_HOME for each test; nothing touches the user's ~/.portico."""
    home = tmp_path_factory.mktemp("portico-home")
    monkeypatch.setenv("PORTICO_HOME", str(home))
    monkeypatch.delenv("PORTICO_PLUGINS", raising=False)
    monkeypatch.delenv("PORTICO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield home


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to (auto-advancing on sleep)."""
    return FakeClock()


@pytest.fixture(autouse=True)
def secrets_forgotten() -> Iterator[None]:
    """What one test registered as secret is not masked in the next: the process-wide registries
    are put back as they were (a test credential such as ``secret`` would otherwise mask every later
    message naming ``api_secret_key``)."""
    from portico._secrets import default_redactor, known_secrets

    shared, own = known_secrets.snapshot, default_redactor().registry.snapshot
    yield
    known_secrets.restore(shared)
    default_redactor().registry.restore(own)

