"""The audit log: an append-only, hash-chained table in the embedded store.

Each entry's hash is ``sha256(previous_hash + canonical_json(entry))`` where the entry is every
column except the hash itself; the first entry chains from 64 zeros. Changing, deleting or
reordering any stored entry breaks the chain at that entry, which :meth:`AuditLog.verify` names.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.auth._redaction import MASK, SENSITIVE_PARAMS, redact
from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.store import Database, metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["GENESIS_HASH", "AuditBreak", "AuditEntry", "AuditLog", "audit_table"]

GENESIS_HASH = "0" * 64
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


def _entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _hashed_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("seq", "ts", "system", "actor", "action", "outcome", "correlation_id", "detail")}


class AuditLog:
    """Append-only record of authentication events and sensitive operations.

    Args:
        db: the embedded store (its table is created on first use).
        clock: time source for timestamps.
    """

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or system_clock
        self.table = audit_table()
        self._lock = threading.Lock()
        db.ensure_tables(self.table)

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

        correlation_id = correlation_id if correlation_id is not None else current_correlation_id()
        detail_json = json.dumps(_scrub_detail(dict(detail or {})), sort_keys=True, separators=(",", ":"), default=str)
        ts = self.clock.now().isoformat(timespec="microseconds")
        last_attempt: Exception | None = None
        # Another process may append between our read of the head and our insert; the primary key on
        # ``seq`` makes one of us fail, and that one re-reads the head and tries again.
        for _ in range(20):
            with self._lock:
                try:
                    with self.db.begin() as conn:
                        head = conn.execute(
                            sa.select(self.table.c.seq, self.table.c.hash).order_by(self.table.c.seq.desc()).limit(1)
                        ).first()
                        seq = (head.seq + 1) if head else 1
                        prev = head.hash if head else GENESIS_HASH
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
                        digest = _entry_hash(prev, _hashed_fields(row))
                        conn.execute(sa.insert(self.table).values(**row, prev_hash=prev, hash=digest))
                    return AuditEntry(**{**row, "detail": json.loads(detail_json)}, prev_hash=prev, hash=digest)
                except sa.exc.IntegrityError as exc:
                    last_attempt = exc
                    continue
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
        """Walk the chain from the first entry; return the first broken entry, or None when intact."""
        import sqlalchemy as sa

        prev = GENESIS_HASH
        expected_seq = 1
        with self.db.begin() as conn:
            result = conn.execute(sa.select(self.table).order_by(self.table.c.seq.asc()))
            for r in result:
                row = r._mapping
                if row["seq"] != expected_seq:
                    return AuditBreak(expected_seq, f"entry is missing (next stored entry is #{row['seq']})")
                if row["prev_hash"] != prev:
                    return AuditBreak(row["seq"], "its link to the previous entry was altered")
                if _entry_hash(prev, _hashed_fields(row)) != row["hash"]:
                    return AuditBreak(row["seq"], "its contents were altered (hash mismatch)")
                prev = row["hash"]
                expected_seq += 1
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
