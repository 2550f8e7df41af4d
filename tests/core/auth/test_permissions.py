"""Files portico keeps under PORTICO_HOME are private (0600, directories 0700) whatever the home's mode."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from portico.auth import AuditLog, CredentialVault
from portico.home import portico_home
from portico.store import Database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_home(portico_home: Path) -> Iterator[Path]:
    """A PORTICO_HOME that already exists with mode 0755, under the common umask 022."""
    previous = os.umask(0o022)
    portico_home.chmod(0o755)
    try:
        yield portico_home
    finally:
        os.umask(previous)


def test_database_wal_audit_vault_and_logs_are_private_in_an_open_home(open_home: Path) -> None:
    db = Database()
    log = AuditLog(db)
    log.append("alpaca", "alice", "order.placed", "success", detail={"reason": "forbidden"})
    CredentialVault(log2_n=10, passphrase="perm-pass", audit=log).set("alpaca/api_key", "perm-secret-1234")
    with db.begin() as conn:  # an open connection keeps the WAL and shared-memory files in place
        import sqlalchemy as sa

        conn.execute(sa.text("SELECT 1"))
        created = sorted(p.name for p in open_home.iterdir() if p.name.startswith("portico.db"))
        assert created[0] == "portico.db" and "portico.db-wal" in created
        modes = {p.name: _mode(p) for p in open_home.iterdir() if p.is_file()}
    db.dispose()
    assert modes == {name: 0o600 for name in modes}, modes

    from portico.cli._demo import _log_to_file

    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in ("httpx", "httpcore")})
    try:
        log_path = _log_to_file()
    finally:  # the demo configures process-wide logging: put it back for the tests that follow
        for handler in list(root.handlers):
            if handler not in saved[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
        structlog.reset_defaults()
    assert _mode(log_path) == 0o600 and _mode(log_path.parent) == 0o700


def test_an_existing_database_is_made_private(open_home: Path) -> None:
    path = open_home / "portico.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    Database().dispose()
    assert _mode(path) == 0o600


def test_a_group_or_world_readable_home_is_warned_about_once(
    open_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="portico.home")
    portico_home()
    portico_home()
    warnings = [r.getMessage() for r in caplog.records if r.name == "portico.home"]
    assert warnings == [
        f"PORTICO_HOME {open_home} is readable by other users (mode 0755): run `chmod 700 {open_home}`"
    ]


def test_a_private_home_is_not_warned_about_and_a_new_one_is_created_0700(
    portico_home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="portico.home")
    fresh = portico_home / "fresh-home"
    monkeypatch.setenv("PORTICO_HOME", str(fresh))
    previous = os.umask(0o022)
    try:
        assert portico_home_path() == fresh
    finally:
        os.umask(previous)
    assert _mode(fresh) == 0o700
    assert [r for r in caplog.records if r.name == "portico.home"] == []


def portico_home_path() -> Path:
    return portico_home()
