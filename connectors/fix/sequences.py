"""FIX sequence numbers kept in portico's store (SQLite by default, PostgreSQL when scaled out).

QuickFIX's Python binding can subclass ``Application``, ``Log`` and ``LogFactory`` only (they are the
SWIG directors); a ``MessageStore`` written in Python is never called by the engine. So the session
runs on QuickFIX's memory store, and the two numbers that must survive a restart are written here:

- the next sender number is written in ``toAdmin``/``toApp``, *before* the message leaves (a crash
  after the write and before the send shows the counterparty a gap, which it asks us to fill; a crash
  the other way round would reuse a number, which ends the session);
- the next target number is written after an incoming message was handled (a crash in between makes
  the counterparty resend it with PossDupFlag=Y, and execution reports are de-duplicated by ExecID).

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
            with self.db.begin() as conn:
                done = conn.execute(
                    sa.update(table).where(table.c.session_id == self.session_id).values(**values)
                ).rowcount
                if not done:
                    conn.execute(sa.insert(table).values(session_id=self.session_id, **values))
            self._current = new

    def reset(self) -> None:
        """Start the session again at 1 and 1 (a new trading day, an agreed sequence reset)."""
        self.save(next_sender=1, next_target=1)
