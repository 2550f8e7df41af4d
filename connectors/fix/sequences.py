"""FIX sequence numbers kept in portico's store (SQLite by default, PostgreSQL when scaled out).

QuickFIX's Python binding can subclass ``Application``, ``Log`` and ``LogFactory`` only (they are the
SWIG directors); a ``MessageStore`` written in Python is never called by the engine. So the session
runs on QuickFIX's memory store, and the two numbers that must survive a restart are written here:

- the next sender number is written in ``toAdmin``/``toApp``, *before* the message leaves (a crash
  after the write and before the send shows the counterparty a gap, which it asks us to fill; a crash
  the other way round would reuse a number, which ends the session);
- the next target number is noted after an incoming message was handed over and written with the next
  sender write (every outgoing message, heartbeats included, so it lags by a heartbeat interval at most)
  and at logout: a stored target behind the truth only makes the counterparty resend those messages
  (PossDupFlag=Y), which are applied idempotently (execution reports carry cumulative quantities and
  are de-duplicated by ExecID); a target ahead of the truth would lose messages, so it is never written early.

Messages themselves are not kept: the connector never resends an order after a reconnect (it gap-fills
and resolves the order by OrderStatusRequest), so a resend request is always answered by a gap fill.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portico.store import Database, metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["SequenceNumbers", "SequenceStore", "sequence_table"]

_table: Any = None


def sequence_table() -> sa.Table:
    """The ``fix_session_sequences`` table (one row per FIX session id)."""
    global _table
    if _table is None:
        import sqlalchemy as sa

        _table = sa.Table(
            "fix_session_sequences",
            metadata(),
            sa.Column("session_id", sa.String(255), primary_key=True),
            sa.Column("next_sender", sa.Integer, nullable=False),
            sa.Column("next_target", sa.Integer, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
    return _table


@dataclass(frozen=True)
class SequenceNumbers:
    """The next MsgSeqNum this side sends and the next one it expects."""

    next_sender: int = 1
    next_target: int = 1


class SequenceStore:
    """Reads and writes one session's sequence numbers.

    Writes come from QuickFIX's thread; each is one small transaction. Writes that would not change
    the stored value are skipped.

    Args:
        db: portico's store.
        session_id: the QuickFIX session id (``FIX.4.4:SENDER->TARGET``).
    """

    def __init__(self, db: Database, session_id: str) -> None:
        self.db = db
        self.session_id = session_id
        self._lock = threading.Lock()
        self._target: int | None = None
        self._conn: sa.Connection | None = None
        self._update: Any = None
        db.ensure_tables(sequence_table())
        self._current = self._read()

    def _read(self) -> SequenceNumbers:
        import sqlalchemy as sa

        table = sequence_table()
        with self.db.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.session_id == self.session_id)).first()
        if row is None:
            return SequenceNumbers()
        return SequenceNumbers(next_sender=row.next_sender, next_target=row.next_target)

    def load(self) -> SequenceNumbers:
        """The stored numbers (1 and 1 for a session never seen)."""
        with self._lock:
            self._current = self._read()
            self._target = None
            return self._current

    @property
    def current(self) -> SequenceNumbers:
        """The last numbers written or read."""
        return self._current

    def save(self, *, next_sender: int | None = None, next_target: int | None = None) -> None:
        """Write either number (or both)."""
        import sqlalchemy as sa

        with self._lock:
            old = self._current
            if next_target is None and self._target is not None:
                next_target = self._target
            self._target = None
            new = SequenceNumbers(
                next_sender=old.next_sender if next_sender is None else next_sender,
                next_target=old.next_target if next_target is None else next_target,
            )
            if new == old:
                return
            table = sequence_table()
            values = {
                "next_sender": new.next_sender,
                "next_target": new.next_target,
                "updated_at": datetime.now(UTC),
            }
            if self._update is None:
                self._update = sa.update(table).where(table.c.session_id == sa.bindparam("sid"))
            # one connection held for the session's writes (a write per outgoing message: a pool
            # checkout each time cost more than the write)
            if self._conn is None:
                self._conn = self.db.engine.connect()
            conn = self._conn
            try:
                done = conn.execute(self._update, {"sid": self.session_id, **values}).rowcount
                if not done:
                    conn.execute(sa.insert(table).values(session_id=self.session_id, **values))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            self._current = new

    def close(self) -> None:
        """Give the held connection back (writes after this open another)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def note_target(self, next_target: int) -> None:
        """Remember the next target number; it is written with the next :meth:`save` or :meth:`flush`."""
        with self._lock:
            self._target = next_target

    @property
    def next_target(self) -> int:
        """The next target number noted (written or not)."""
        return self._target if self._target is not None else self._current.next_target

    def flush(self) -> None:
        """Write a noted target number now."""
        self.save()

    def reset(self) -> None:
        """Start the session again at 1 and 1 (a new trading day, an agreed sequence reset)."""
        self.save(next_sender=1, next_target=1)
