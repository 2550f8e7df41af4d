"""The audit log: append-only hash chain, tamper detection (API and CLI), tail, secret scrubbing."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from portico.auth import AuditLog, known_secrets
from portico.clock import FakeClock
from portico.context import correlation_scope
from portico.store import Database

COLUMNS = ("ts", "system", "actor", "action", "outcome", "correlation_id", "detail", "prev_hash", "hash")


def _log(path: Path, clock: FakeClock | None = None) -> AuditLog:
    return AuditLog(Database(f"sqlite:///{path}"), clock or FakeClock())


def _fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        with correlation_scope(f"corr-{i}"):
            log.append(f"sys{i % 2}", "tester", "order.placed", "success", detail={"order": i, "qty": "10"})


def test_append_chain_and_tail(tmp_path: Path) -> None:
    clock = FakeClock()
    log = _log(tmp_path / "a.db", clock)
    _fill(log)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].correlation_id == "corr-2" and entries[2].detail == {"order": 2, "qty": "10"}
    assert entries[0].ts == clock.now().isoformat(timespec="microseconds")
    assert [e.seq for e in log.tail(2)] == [4, 5]
    assert log.verify() is None
    assert log.head() == entries[-1].hash


@pytest.mark.parametrize("column", COLUMNS)
def test_altering_one_byte_of_any_column_is_named(tmp_path: Path, column: str) -> None:
    path = tmp_path / "a.db"
    log = _log(path)
    _fill(log)
    with sqlite3.connect(path) as conn:
        (value,) = conn.execute(f"SELECT {column} FROM portico_audit_log WHERE seq = 3").fetchone()
        text = str(value)
        position = len(text) // 2
        altered = text[:position] + chr(ord(text[position]) ^ 0x01) + text[position + 1 :]
        conn.execute(f"UPDATE portico_audit_log SET {column} = ? WHERE seq = 3", (altered,))
    broken = log.verify()
    assert broken is not None and broken.seq == 3, broken
    assert "#3" in str(broken)


def test_deleted_and_reordered_entries_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _log(path)
    _fill(log)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM portico_audit_log WHERE seq = 2")
    broken = log.verify()
    assert broken is not None and broken.seq == 2 and "missing" in broken.reason


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    logs = [_log(path) for _ in range(4)]  # separate engines, as separate processes would have

    def work(log: AuditLog) -> None:
        for i in range(25):
            log.append("s", "t", "auth.refresh", "success", detail={"i": i})

    threads = [threading.Thread(target=work, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(logs[0].entries()) == 100
    assert logs[0].verify() is None


def test_a_log_whose_remembered_head_is_stale_appends_after_the_other_writer(tmp_path: Path) -> None:
    # a log remembers the head it appended last instead of reading it per append; another writer's
    # entries in between make its next insert collide on seq, and it appends after them
    path = tmp_path / "a.db"
    mine, other = _log(path), _log(path)
    mine.append("s", "t", "order.placed", "success", detail={"n": 1})
    other.append("s", "t", "order.placed", "success", detail={"n": 2})
    other.append("s", "t", "order.placed", "success", detail={"n": 3})
    entry = mine.append("s", "t", "order.placed", "success", detail={"n": 4})
    assert entry.seq == 4
    entries = mine.entries()
    assert [e.detail["n"] for e in entries] == [1, 2, 3, 4]
    assert entries[3].prev_hash == entries[2].hash
    assert mine.verify() is None


def test_secrets_never_stored(tmp_path: Path) -> None:
    known_secrets.register("CANARY-AUDIT-SECRET-123")
    log = _log(tmp_path / "a.db")
    log.append("s", "t", "auth.failure", "failure", detail={
        "password": "hunter2-password", "client_secret": "cs-abcdef", "nested": {"access_token": "tok-123456"},
        "message": "refused key CANARY-AUDIT-SECRET-123", "url": "https://x.test/q?apikey=QUERYKEY99&f=1",
    })
    raw = (tmp_path / "a.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("a.db-")
    )
    for secret in (b"hunter2-password", b"cs-abcdef", b"tok-123456", b"CANARY-AUDIT-SECRET-123", b"QUERYKEY99"):
        assert secret not in raw
    detail = log.tail(1)[0].detail
    assert detail["password"] == "***" and detail["nested"]["access_token"] == "***"
    assert "f=1" in detail["url"]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", *args], input=stdin, capture_output=True, text=True,
        env={**os.environ, "COLUMNS": "200"}, timeout=120,
    )


def test_cli_verify_and_tail(portico_home: Path) -> None:
    log = AuditLog(Database())
    _fill(log, 4)
    ok = _cli("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intact: 4 entries" in ok.stdout
    tail = _cli("audit", "tail", "-n", "2", "--json")
    assert tail.returncode == 0, tail.stderr
    rows = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [3, 4]
    table = _cli("audit", "tail", "--system", "sys1")
    assert table.returncode == 0 and "order.placed" in table.stdout

    with sqlite3.connect(portico_home / "portico.db") as conn:
        conn.execute("UPDATE portico_audit_log SET outcome = 'succesS' WHERE seq = 2")
    broken = _cli("audit", "verify")
    assert broken.returncode == 1
    assert "entry #2" in broken.stderr


def test_secret_names_are_kept_and_values_masked(tmp_path: Path) -> None:
    from portico.auth import CredentialVault

    log = _log(tmp_path / "a.db")
    vault = CredentialVault(tmp_path / "v.bin", "audit-pass", log2_n=10, audit=log, actor="alice")
    vault.set("alpaca/api_key", "audited-value-123456")
    vault.get("alpaca/api_key")
    log.append("alpaca", "alice", "credential.read", "success", detail={"secret": "leaked-value-98765"})
    entries = log.entries()
    assert [(e.action, e.detail.get("secret_name")) for e in entries[:2]] == [
        ("credential.write", "alpaca/api_key"),
        ("credential.read", "alpaca/api_key"),
    ]
    assert entries[2].detail == {"secret": "***"}  # a value under a secret-looking key is still masked
    assert "audited-value" not in repr(entries)


def _sha256_rechain(path: Path) -> None:
    """What an attacker with write access to the database (and not the key) does after editing it."""
    import hashlib

    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT seq, ts, system, actor, action, outcome, correlation_id, detail FROM portico_audit_log ORDER BY seq"
        ).fetchall()
        prev = "0" * 64
        for seq, ts, system, actor, action, outcome, corr, detail in rows:
            fields = {"seq": seq, "ts": ts, "system": system, "actor": actor, "action": action,
                      "outcome": outcome, "correlation_id": corr, "detail": detail}
            canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = hashlib.sha256((prev + canonical).encode()).hexdigest()
            conn.execute("UPDATE portico_audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
            prev = digest


def test_an_edit_with_the_chain_recomputed_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    log = _log(path)
    _fill(log)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE portico_audit_log SET outcome = 'denied' WHERE seq = 3")
    _sha256_rechain(path)
    broken = log.verify()
    assert broken is not None and broken.seq == 1, broken  # the first entry the attacker re-hashed
    assert "altered" in broken.reason


@pytest.mark.parametrize("where", ["DELETE FROM portico_audit_log WHERE seq >= 4", "DELETE FROM portico_audit_log"])
def test_deleting_the_last_entries_or_every_entry_is_detected(tmp_path: Path, where: str) -> None:
    path = tmp_path / "a.db"
    log = _log(path)
    _fill(log)
    with sqlite3.connect(path) as conn:
        conn.execute(where)
    broken = log.verify()
    assert broken is not None, "verify said intact after entries were deleted"
    assert "5 entries" in broken.reason and "truncated" in broken.reason


def test_the_chain_is_keyed_with_a_private_key_file_and_anchored_outside_the_database(
    tmp_path: Path, portico_home: Path
) -> None:
    import stat

    log = _log(tmp_path / "a.db")
    _fill(log, 3)
    log.flush_anchor()  # three appends within ANCHOR_INTERVAL: the last two are anchored together
    key = portico_home / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    anchors = json.loads((portico_home / "audit-anchor.json").read_text())
    (anchor,) = anchors.values()
    assert anchor == {"count": 3, "head": log.head()}
    # the anchor lagging behind (a crash between commit and anchor write) is not a break
    (portico_home / "audit-anchor.json").write_text(json.dumps({k: {"count": 2, "head": log.entries()[1].hash}
                                                                for k in anchors}))
    assert log.verify() is None
    # another key (a copied database verified elsewhere) does not verify the chain
    key.write_bytes(b"k" * 32)
    broken = _log(tmp_path / "a.db").verify()
    assert broken is not None and broken.seq == 1


def test_cli_verify_without_an_audit_log_says_so_and_creates_nothing(portico_home: Path) -> None:
    home = portico_home / "not-yet"
    result = subprocess.run(
        [sys.executable, "-m", "portico.cli", "audit", "verify"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PORTICO_HOME": str(home)},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"no audit log in {home}: nothing has been audited here yet"
    assert not home.exists()
    portico_home.joinpath("portico.db").touch()  # a database without the audit table is no audit log either
    result = _cli("audit", "verify")
    assert result.returncode == 1 and "no audit log in" in result.stderr
    assert portico_home.joinpath("portico.db").stat().st_size == 0


def test_a_burst_of_appends_is_anchored_once_shortly_after_and_verify_never_reads_a_stale_anchor(
    tmp_path: Path, portico_home: Path
) -> None:
    from portico.testing import wait_for

    log = _log(tmp_path / "a.db")
    anchor_file = portico_home / "audit-anchor.json"

    def anchored() -> dict[str, int | str]:
        (anchor,) = json.loads(anchor_file.read_text()).values()
        return anchor

    log.append(None, "alice", "order.placed", "success")
    assert anchored()["count"] == 1, "a lone append is anchored at once"
    for _ in range(9):
        log.append(None, "alice", "order.placed", "success")
    # the burst's newest entry is anchored by the timer, without anyone asking
    wait_for(lambda: anchored()["count"] == 10, timeout=5.0, message="the burst was never anchored")
    assert anchored()["head"] == log.head()
    # verify writes a pending anchor first, so deleting the burst's last entry is a break
    for _ in range(3):
        log.append(None, "alice", "order.placed", "success")
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("DELETE FROM portico_audit_log WHERE seq = 13")
    broken = log.verify()
    assert broken is not None and "13 entries" in broken.reason, broken


def test_an_anchor_that_could_not_be_written_stays_pending_for_the_next_flush(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the anchor's directory should be")
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    log = AuditLog(db, key_path=tmp_path / "k", anchor_path=blocker / "anchor.json")
    with pytest.raises(OSError):
        log.append(None, "alice", "order.placed", "success")  # a lone append anchors at once, and fails
    entries = log.entries()
    assert [e.seq for e in entries] == [1], "the entry is committed even though its anchor failed"
    log.anchor_path = tmp_path / "anchor.json"
    log.flush_anchor()
    (anchor,) = json.loads((tmp_path / "anchor.json").read_text()).values()
    assert anchor == {"count": 1, "head": entries[0].hash}
