"""Fixtures shared by the whole suite. Every test runs with its own temporary PORTICO_HOME."""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico._secrets import default_redactor, known_secrets
from portico.clock import FakeClock


@pytest.fixture(autouse=True)
def portico_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty PORTICO_HOME for each test; nothing touches the user's ~/.portico."""
    home = tmp_path_factory.mktemp("portico-home")
    monkeypatch.setenv("PORTICO_HOME", str(home))
    monkeypatch.delenv("PORTICO_PLUGINS", raising=False)
    monkeypatch.delenv("PORTICO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield home


@pytest.fixture(autouse=True)
def _fresh_secret_registries() -> Iterator[None]:
    """Secrets registered by one test (often short ones such as "secret") are not masked in the next.

    Errors redact their message through the process-wide registries when they are built, so a value a
    previous test registered would otherwise change the text a later test asserts.
    """
    shared, own = known_secrets.snapshot, default_redactor().secrets.snapshot
    yield
    known_secrets.restore(shared)
    default_redactor().secrets.restore(own)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to (auto-advancing on sleep)."""
    return FakeClock()


@pytest.fixture(autouse=True)
def _no_unclosed_client_session(request: pytest.FixtureRequest) -> Iterator[None]:
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
    # collected above either way, so a known leak does not surface in the next test
    if leaks and not request.node.get_closest_marker("known_unclosed_client_session"):
        pytest.fail(f"the test left {len(leaks)} aiohttp session(s) or connector(s) unclosed: {leaks[0]}", pytrace=False)
