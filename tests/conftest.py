"""Fixtures shared by the whole suite. Every test runs with its own temporary PORTICO_HOME."""

from __future__ import annotations

import gc
import sys
import warnings
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
def _no_unclosed_client_session() -> Iterator[None]:
    """Fail the test that leaves an aiohttp ``ClientSession`` (or connector) unclosed for the GC.

    aiohttp's finalizer logs "Unclosed client session" from inside whatever the process is doing when
    the collector runs (issue 13, item 1). Collecting at each test's end makes the warning land on the
    test that leaked the session, not on an innocent later one.
    """
    yield
    if "aiohttp" not in sys.modules:
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    leaks = [str(w.message) for w in caught if "Unclosed" in str(w.message)]
    if leaks:
        pytest.fail(f"the test left {len(leaks)} aiohttp session(s) or connector(s) unclosed: {leaks[0]}", pytrace=False)
