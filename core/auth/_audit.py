"""The audit log: an append-only, keyed hash chain in the embedded store, anchored outside it.

Each entry's hash is ``HMAC-SHA256(key, previous_hash + canonical_json(entry))`` where the entry is
every column except the hashes; the first entry chains from 64 zeros. The key is 32 random bytes in
``$PORTICO_HOME/audit.key`` (mode 0600), created on the first append. It is a key file rather than a
vault secret because the vault itself writes to this log (every credential read is audited), and
because the log must work when no vault passphrase is set. After every append the entry count and
head hash are written to ``$PORTICO_HOME/audit-anchor.json`` (one record per database), outside the
database. :meth:`AuditLog.verify` walks the chain and checks it against the anchor. Under a burst of
appends the anchor is rewritten at most every ``ANCHOR_INTERVAL`` seconds (a lone append is anchored at
once; the newest entry of a burst within that interval, at the latest when the process exits or verifies):
rewriting the file on every entry cost about half of an order's CPU on the facade's order path.

What this protects against, plainly:

- **Write access to the database only** (a stolen or shared database file, SQL access to the server):
  editing, inserting, deleting or reordering any entry, with or without recomputing the hashes, is
  detected at the first entry touched, because new hashes cannot be made without the key. Deleting the
  last entries, or every entry, is detected because the anchor records how many there were and the
  head hash. Such an attacker can still *destroy* the log (drop the table, delete the file): that is
  detected, not prevented.
- **Write access to ``PORTICO_HOME`` too** (the key file and the anchor, i.e. the account portico runs
  as): nothing here stops a rewrite of history with a fresh chain and a matching anchor. Keep a copy of
  ``portico audit verify``'s head hash elsewhere (a ticket, a log shipper) to detect that.
- Processes that share one database (PostgreSQL) must share the key file, or each other's entries will
  not verify; copy ``audit.key`` to each ``PORTICO_HOME``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.auth._redaction import MASK, SENSITIVE_PARAMS, redact
from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.home import exclusive_lock, portico_home
from portico.store import Database, metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["ANCHOR_FILE", "GENESIS_HASH", "KEY_FILE", "AuditBreak", "AuditEntry", "AuditLog", "audit_table"]

GENESIS_HASH = "0" * 64
KEY_FILE = "audit.key"
"""The chain's HMAC key, under ``PORTICO_HOME``."""
ANCHOR_FILE = "audit-anchor.json"
"""Entry count and head hash per database, under ``PORTICO_HOME``."""
_KEY_SIZE = 32
ANCHOR_INTERVAL = 0.1
"""Seconds: under a burst of appends the anchor is rewritten at most this often (its newest entry wins)."""
_SENSITIVE_KEYS = SENSITIVE_PARAMS | {"value", "credentials", "private_key", "passphrase", "authorization"}

_table: Any = None


def audit_table() -> sa.Table:
    """The ``portico_audit_log`` table, declared on the shared metadata."""
    global _table
    if _table is None:
        import sqlalchemy as sa

        _table = sa.Table(
            "portico_audit_log",
            metadata(),
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("ts", sa.String(40), nullable=False),
            sa.Column("system", sa.String(200)),
            sa.Column("actor", sa.String(200), nullable=False),
            sa.Column("action", sa.String(100), nullable=False, index=True),
            sa.Column("outcome", sa.String(50), nullable=False),
            sa.Column("correlation_id", sa.String(100)),
            sa.Column("detail", sa.Text, nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
        )
    return _table


@dataclass(frozen=True)
class AuditEntry:
    """One stored audit event."""

    seq: int
    ts: str
    system: str | None
    actor: str
    action: str
    outcome: str
    correlation_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditBreak:
    """Where the chain breaks: the first entry that does not verify, and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry #{self.seq}: {self.reason}"


def _scrub_detail(value: Any, key: str = "") -> Any:
    """Detail made safe to persist: values of secret-looking keys masked, known secrets scrubbed."""
    if key.lower() in _SENSITIVE_KEYS and value not in (None, ""):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): _scrub_detail(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_detail(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def _entry_hash(key: bytes, prev_hash: str, fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, (prev_hash + canonical).encode("utf-8"), hashlib.sha256).hexdigest()


def _database_id(db: Database) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db.url).render_as_string(hide_password=True)


def _hashed_fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    # Mapping[Any, ...]: a stored row's RowMapping is keyed by name or column, so not a Mapping[str, ...]
    return {k: row[k] for k in ("seq", "ts", "system", "actor", "action", "outcome", "correlation_id", "detail")}


class AuditLog:
    """Append-only record of authentication events and sensitive operations.

    Args:
        db: the embedded store (its table is created on first use).
        clock: time source for timestamps.
        key_path: the chain's HMAC key file; default ``$PORTICO_HOME/audit.key``.
        anchor_path: the anchor file; default ``$PORTICO_HOME/audit-anchor.json``.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock | None = None,
        *,
        key_path: str | os.PathLike[str] | None = None,
        anchor_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock or system_clock
        self.table = audit_table()
        self.key_path = Path(key_path) if key_path is not None else portico_home() / KEY_FILE
        self.anchor_path = Path(anchor_path) if anchor_path is not None else portico_home() / ANCHOR_FILE
        self._anchor_id = _database_id(db)
        self._key: bytes | None = None
        self._lock = threading.Lock()
        self._anchor_lock = threading.Lock()  # guards the pending anchor and the writer's start
        self._anchor_write_lock = threading.Lock()  # one anchor write at a time (appends do not wait)
        self._anchor_pending: tuple[int, str] | None = None
        self._anchor_written_at = float("-inf")
        self._anchor_due = threading.Event()
        self._anchor_writer: threading.Thread | None = None
        import sqlalchemy as sa

        # built once: an order placed through the facade appends an entry, and building and compiling
        # the two statements anew on every append cost about a third of the append
        self._select_head = (
            sa.select(self.table.c.seq, self.table.c.hash).order_by(self.table.c.seq.desc()).limit(1)
        )
        self._insert_entry = sa.insert(self.table)
        self._head: tuple[int, str] | None = None  # (seq, hash) of the entry this log appended last
        db.ensure_tables(self.table)
        _OPEN_LOGS.add(self)

    # -- key and anchor ----------------------------------------------------------------------------

    def _read_key(self) -> bytes | None:
        if self._key is None:
            try:
                key = self.key_path.read_bytes()
            except FileNotFoundError:
                return None
            if len(key) != _KEY_SIZE:
                raise ValueError(
                    f"audit key {self.key_path} is not {_KEY_SIZE} bytes: it was damaged or replaced"
                )
            self._key = key
        return self._key

    def _key_for_append(self) -> bytes:
        key = self._read_key()
        if key is not None:
            return key
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # written whole under a private name, then linked into place: a reader never sees a key file that
        # is still being written (another process creating it at the same moment read 0 bytes before)
        staging = self.key_path.with_name(f".{self.key_path.name}.{secrets.token_hex(8)}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(_KEY_SIZE))
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(staging, self.key_path)
        finally:
            staging.unlink(missing_ok=True)
        key = self._read_key()
        assert key is not None
        return key

    def _anchors(self) -> dict[str, Any]:
        try:
            data = json.loads(self.anchor_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            raise ValueError(f"audit anchor {self.anchor_path} is not valid JSON: it was damaged") from None
        return data if isinstance(data, dict) else {}

    def _advance_anchor(self, count: int, head: str) -> None:
        """Record ``count`` and ``head`` unless the anchor already records a later entry (another process)."""
        self.anchor_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive_lock(self.anchor_path.with_name(self.anchor_path.name + ".lock")):
            data = self._anchors()
            current = data.get(self._anchor_id)
            if isinstance(current, dict) and int(current.get("count", 0)) >= count:
                return
            data[self._anchor_id] = {"count": count, "head": head}
            fd, tmp = tempfile.mkstemp(prefix=f".{self.anchor_path.name}.", dir=self.anchor_path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, sort_keys=True, indent=1)
                os.replace(tmp, self.anchor_path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

    def _anchor_soon(self, count: int, head: str) -> None:
        """Anchor ``count``/``head`` now, or (within ``ANCHOR_INTERVAL`` of the last write) shortly.

        The delayed write is one long-lived writer thread's job: starting a timer thread per interval
        cost a burst of appends (an order placed through the facade appends one) about a millisecond
        of waiting for the new thread each time on a busy machine.
        """
        with self._anchor_lock:
            if self._anchor_pending is None or count > self._anchor_pending[0]:
                self._anchor_pending = (count, head)
            wait = self._anchor_written_at + ANCHOR_INTERVAL - time.monotonic()
            if wait > 0:
                if self._anchor_writer is None:
                    self._anchor_writer = threading.Thread(
                        target=_write_anchors,
                        args=(weakref.ref(self), self._anchor_due),
                        name="portico-audit-anchor",
                        daemon=True,
                    )
                    self._anchor_writer.start()
                self._anchor_due.set()
                return
        self.flush_anchor()

    def flush_anchor(self) -> None:
        """Write the anchor of the newest appended entry, if it is not written yet."""
        with self._anchor_write_lock:
            with self._anchor_lock:
                pending, self._anchor_pending = self._anchor_pending, None
            if pending is None:
                return
            # outside the pending lock, so an append does not wait for the file; the anchor never
            # moves backwards (_advance_anchor keeps a later count), so write order cannot lose one
            try:
                self._advance_anchor(*pending)
            except BaseException:
                with self._anchor_lock:  # still to be written, unless a later entry is pending now
                    if self._anchor_pending is None or self._anchor_pending[0] < pending[0]:
                        self._anchor_pending = pending
                raise
            self._anchor_written_at = time.monotonic()

    def __repr__(self) -> str:
        return f"AuditLog({self.db!r})"

    def append(
        self,
        system: str | None,
        actor: str,
        action: str,
        outcome: str,
        correlation_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Record one event and return it.

        Args:
            system: the configured system id, if the event concerns one.
            actor: who acted (a user, ``"runtime"``, a job id).
            action: dotted event name (``auth.refresh``, ``credential.read``, ``order.placed``).
            outcome: ``success``, ``failure``, ``denied``...
            correlation_id: the business operation; default: the current one.
            detail: JSON-safe context; secret-looking keys and known secret values are masked.
        """
        import sqlalchemy as sa

        key = self._key_for_append()
        correlation_id = correlation_id if correlation_id is not None else current_correlation_id()
        detail_json = json.dumps(
            _scrub_detail(dict(detail or {})), sort_keys=True, separators=(",", ":"), default=str
        )
        ts = self.clock.now().isoformat(timespec="microseconds")
        last_attempt: Exception | None = None
        # Another process may append between our read of the head and our insert; the primary key on
        # ``seq`` makes one of us fail, and that one re-reads the head and tries again.
        for _ in range(20):
            with self._lock:
                try:
                    with self.db.begin() as conn:
                        # the head this log appended last stands in for reading it: when another
                        # process appended since, the insert below collides on ``seq`` (sequence
                        # numbers are dense) and the retry reads the head
                        head = self._head
                        if head is None:
                            row_ = self.db.execute(conn, self._select_head, {}).first()
                            head = (row_.seq, row_.hash) if row_ else (0, GENESIS_HASH)
                        seq, prev = head[0] + 1, head[1]
                        row = {
                            "seq": seq,
                            "ts": ts,
                            "system": system,
                            "actor": actor,
                            "action": action,
                            "outcome": outcome,
                            "correlation_id": correlation_id,
                            "detail": detail_json,
                        }
                        digest = _entry_hash(key, prev, _hashed_fields(row))
                        self.db.execute(conn, self._insert_entry, {**row, "prev_hash": prev, "hash": digest})
                    self._head = (seq, digest)
                    # After the commit: a crash in between leaves the anchor one entry behind, which
                    # verify accepts (it checks that the anchored entry is still there, unchanged).
                    self._anchor_soon(seq, digest)
                    return AuditEntry(
                        **{**row, "detail": json.loads(detail_json)}, prev_hash=prev, hash=digest
                    )
                except sa.exc.IntegrityError as exc:
                    self._head = None
                    last_attempt = exc
                    continue
                except BaseException:
                    self._head = None
                    raise
        raise RuntimeError(f"could not append to the audit log after 20 attempts: {last_attempt}")

    def _rows(self, *, descending: bool = False, limit: int | None = None) -> list[Mapping[str, Any]]:
        import sqlalchemy as sa

        order = self.table.c.seq.desc() if descending else self.table.c.seq.asc()
        query = sa.select(self.table).order_by(order)
        if limit is not None:
            query = query.limit(limit)
        with self.db.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    @staticmethod
    def _entry(row: Mapping[str, Any]) -> AuditEntry:
        try:
            detail = json.loads(row["detail"])
        except ValueError:
            detail = {"unreadable": True}
        return AuditEntry(**{**row, "detail": detail})

    def verify(self) -> AuditBreak | None:
        """Walk the chain from the first entry and check it against the anchor.

        Returns:
            the first broken entry (altered, missing, re-chained without the key, or cut off after the
            anchored head), or None when intact.
        """
        import sqlalchemy as sa

        self.flush_anchor()
        key = self._read_key()
        anchor = self._anchors().get(self._anchor_id)
        prev = GENESIS_HASH
        expected_seq = 1
        hashes: dict[int, str] = {}
        anchored = int(anchor["count"]) if isinstance(anchor, dict) else 0
        with self.db.begin() as conn:
            result = conn.execute(sa.select(self.table).order_by(self.table.c.seq.asc()))
            for r in result:
                row = r._mapping
                if key is None:
                    return AuditBreak(
                        row["seq"], f"the audit key {self.key_path} is missing: the chain cannot be checked"
                    )
                if row["seq"] != expected_seq:
                    return AuditBreak(expected_seq, f"entry is missing (next stored entry is #{row['seq']})")
                if row["prev_hash"] != prev:
                    return AuditBreak(row["seq"], "its link to the previous entry was altered")
                if not hmac.compare_digest(_entry_hash(key, prev, _hashed_fields(row)), row["hash"]):
                    return AuditBreak(row["seq"], "its contents were altered (hash mismatch)")
                prev = row["hash"]
                if row["seq"] == anchored:
                    hashes[anchored] = prev
                expected_seq += 1
        count = expected_seq - 1
        if not isinstance(anchor, dict):
            if count:
                return AuditBreak(
                    count,
                    f"the anchor {self.anchor_path} has no record of this log: deletions cannot be ruled out",
                )
            return None
        if count < anchored:
            return AuditBreak(
                count + 1,
                f"the log was truncated: the anchor {self.anchor_path} records {anchored} entries, "
                f"the database holds {count}",
            )
        if anchored and hashes.get(anchored) != anchor.get("head"):
            return AuditBreak(anchored, f"it is not the head recorded in the anchor {self.anchor_path}")
        return None

    def tail(self, n: int = 20) -> list[AuditEntry]:
        """The last ``n`` entries, oldest first."""
        return [self._entry(r) for r in reversed(self._rows(descending=True, limit=n))]

    def entries(self) -> list[AuditEntry]:
        """Every entry, oldest first."""
        return [self._entry(r) for r in self._rows()]

    def head(self) -> str:
        """The hash of the newest entry (the genesis hash when empty): keep it elsewhere to detect truncation."""
        rows = self._rows(descending=True, limit=1)
        return rows[0]["hash"] if rows else GENESIS_HASH


_OPEN_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


def _write_anchors(ref: weakref.ref[AuditLog], due: threading.Event) -> None:
    """The anchor writer of one log: when an append is waiting to be anchored, write it once the
    interval since the last write has passed; ends when the log is gone (it holds no reference)."""
    while True:
        if not due.wait(1.0):
            if ref() is None:
                return
            continue
        due.clear()  # an append after this sets it again; the flush below takes its entry anyway
        log = ref()
        if log is None:
            return
        delay = log._anchor_written_at + ANCHOR_INTERVAL - time.monotonic()
        del log
        if delay > 0:
            time.sleep(delay)  # the interval that bounds the anchor's rewrites
        log = ref()
        if log is None:
            return
        try:
            log.flush_anchor()
        except Exception:  # the entry stays pending: the next append, a verify or the exit writes it
            logging.getLogger("portico.auth").exception(
                "could not write the audit anchor %s", log.anchor_path
            )
        del log


@atexit.register
def _flush_open_logs() -> None:
    for log in list(_OPEN_LOGS):
        with contextlib.suppress(Exception):
            log.flush_anchor()
