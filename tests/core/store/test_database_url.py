"""Where the embedded store puts its file, for each form of SQLite URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portico.store import Database


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_url_creates_no_file(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = Database(url)
    try:
        with db.begin() as conn:
            assert conn.exec_driver_sql("select 1").scalar() == 1
    finally:
        db.dispose()
    assert os.listdir(tmp_path) == []


def test_a_file_url_creates_the_private_file_it_names(tmp_path: Path) -> None:
    target = tmp_path / "data" / "p.db"
    target.parent.mkdir()
    db = Database(f"sqlite:///{target}")
    db.dispose()
    assert target.exists()
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_new_file_gets_16k_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    fresh = tmp_path / "fresh.db"
    db = Database(f"sqlite:///{fresh}")
    try:
        with db.begin() as conn:
            conn.exec_driver_sql("create table t (x)")
            assert conn.exec_driver_sql("pragma page_size").scalar() == 16384
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
    finally:
        db.dispose()
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.execute("create table t (x)")
    con.commit()
    con.close()
    db = Database(f"sqlite:///{old}")
    try:
        with db.begin() as conn:
            assert conn.exec_driver_sql("pragma page_size").scalar() == 4096
            assert conn.exec_driver_sql("select count(*) from t").scalar() == 0
    finally:
        db.dispose()
