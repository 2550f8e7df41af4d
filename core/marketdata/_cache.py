"""The market data cache: answers kept in the embedded store for a configurable time, so repeated requests
inside the window spend no provider quota. A small in-memory layer sits in front of the store.

Entries are per (requested system, data type, symbol, parameters) and remember which provider served
them, so an answer a fallback provider gave is reused without asking the primary again.

Writes are behind: :meth:`MarketDataCache.put` keeps the answer in memory and hands the row to one
writer thread per store, which lets rows gather for a moment after the first (50 ms, or 256 rows) and
writes them in one transaction. The event loop that
asks for market data never waits on the store for a write; every cache of the same store in this
process sees the rows still waiting (so nothing reads as a miss for want of a flush), and
:meth:`~MarketDataCache.flush` / :meth:`~MarketDataCache.close` wait for them to be written.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.clock import Clock

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["CacheEntry", "MarketDataCache", "cache_key"]

_TABLE: Any = None
# how often (clock seconds) a put also deletes expired rows, so a long-running service's store stays bounded
_PURGE_EVERY = 300.0
# how long (real seconds) a store's idle writer thread waits for more rows before it ends
_IDLE_SECONDS = 5.0
# how often (real seconds) a cache reads again which keys its store holds (see _Writer.might_hold)
_KEYS_REFRESH = 60.0
# how long (real seconds) the writer lets rows gather after the first of a batch arrives, and how many
# rows end the wait early: misses one after another then share a transaction instead of each paying
# its own (and its thread switch) while the event loop serves the next call; flush() ends it at once
_LINGER_SECONDS = 0.05
_BATCH_ROWS = 256


def _table() -> sa.Table:
    global _TABLE
    if _TABLE is None:
        import sqlalchemy as sa

        from portico.store import metadata  # lazy: cold start (SQLAlchemy)

        existing = metadata().tables.get("marketdata_cache")
        _TABLE = existing if existing is not None else sa.Table(
            "marketdata_cache",
            metadata(),
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("system", sa.String(64), nullable=False, index=True),
            sa.Column("data_type", sa.String(32), nullable=False),
            sa.Column("symbol", sa.String(64), nullable=False),
            sa.Column("served_by", sa.String(64), nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False, index=True),
            sa.Column("payload", sa.Text, nullable=False),
        )  # fmt: skip
    return _TABLE


def cache_key(system: str, data_type: str, symbol: str, params: Mapping[str, Any]) -> str:
    """A stable key for one cached answer."""
    text = json.dumps([system, data_type, symbol, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer: the provider that served it, when, and the JSON payload."""

    served_by: str
    created_at: float
    expires_at: float
    payload: Any


_NONE = CacheEntry("", 0.0, 0.0, None)


class _Writer:
    """The one writer thread of a store's cache rows: batches of puts in one transaction each.

    ``pending`` holds the rows not yet written (the latest per key); ``lock`` guards it; ``io`` is
    held for every write to the table, so a delete (forget, clear, purge) and a batch never interleave.
    """

    def __init__(self, db: Database) -> None:
        # weak: the caches hold the store; a writer must not keep a dropped store (and its engine) alive
        self.db = weakref.ref(db)
        self.pending: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.io = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.idle = threading.Condition(self.lock)
        self.busy = False
        self.purge_before: float | None = None
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.error: BaseException | None = None
        # the keys the store holds (None: not read yet, or a delete made them unknown), read again every
        # _KEYS_REFRESH seconds so rows another process wrote are found too
        self.known: set[str] | None = None
        self.known_at = 0.0
        self.inflight: dict[str, dict[str, Any]] = {}  # the batch being written
        self.flushing = 0  # callers waiting in flush(): the writer writes without lingering

    def might_hold(self, key: str, now: float) -> bool:
        """Whether the store may hold ``key``: False saves a miss its read of the store."""
        import time

        with self.lock:
            known, stale = self.known, time.monotonic() - self.known_at > _KEYS_REFRESH
        if known is None or stale:
            db = self.db()
            if db is None:
                return False
            table = _table()
            import sqlalchemy as sa

            with db.begin() as conn:
                keys = set(conn.execute(sa.select(table.c.key).where(table.c.expires_at > now)).scalars())
            with self.lock:
                # rows handed over and rows being written (maybe not committed when the keys were read)
                keys.update(self.pending)
                keys.update(self.inflight)
                self.known, self.known_at = keys, time.monotonic()
            known = keys
        return key in known

    def submit(self, row: dict[str, Any] | None, *, purge_before: float | None = None) -> None:
        with self.lock:
            if row is not None:
                self.pending[row["key"]] = row
                if self.known is not None:
                    self.known.add(row["key"])
            if purge_before is not None:
                self.purge_before = purge_before
            if self.thread is None:
                self.stopping = False
                self.thread = threading.Thread(target=self._run, name="portico-marketdata-cache", daemon=True)
                self.thread.start()
            # wake the writer for a batch's first row, a full batch or a purge; rows in between gather
            # while it lingers (see _LINGER_SECONDS)
            if len(self.pending) <= 1 or len(self.pending) >= _BATCH_ROWS or purge_before is not None:
                self.wake.notify()

    def waiting(self, key: str) -> dict[str, Any] | None:
        """The row of ``key`` handed over and not yet committed, if any."""
        with self.lock:
            return self.pending.get(key) or self.inflight.get(key)

    def drop(self, match: Any) -> None:
        """Forget pending rows ``match(row)`` selects (the caller holds ``io`` and deletes from the store)."""
        with self.lock:
            self.known = None
            for key in [k for k, row in self.pending.items() if match(row)]:
                del self.pending[key]

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every row handed over so far is written; False when ``timeout`` passed first."""
        import time

        deadline = time.monotonic() + timeout
        with self.lock:
            self.flushing += 1
            self.wake.notify()
            try:
                while self.pending or self.busy or self.purge_before is not None:
                    if self.thread is None:
                        return False
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self.idle.wait(left)
            finally:
                self.flushing -= 1
        return True

    def stop(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self.lock:
            self.stopping = True
            self.wake.notify()
            thread = self.thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        import time

        import sqlalchemy as sa

        table = _table()
        while True:
            with self.lock:
                if not self.pending and self.purge_before is None and not self.stopping:
                    self.wake.wait(_IDLE_SECONDS)
                if not self.pending and self.purge_before is None:
                    # stopped, or idle for a while: end (the next put starts a new thread)
                    self.thread = None
                    return
                linger_until = time.monotonic() + _LINGER_SECONDS
                while (
                    self.pending
                    and len(self.pending) < _BATCH_ROWS
                    and not (self.stopping or self.flushing or self.purge_before is not None)
                ):
                    left = linger_until - time.monotonic()
                    if left <= 0:
                        break
                    self.wake.wait(left)
                self.busy = True
            try:
                with self.io:
                    with self.lock:
                        batch, self.pending = self.pending, {}
                        purge_before, self.purge_before = self.purge_before, None
                        self.inflight = batch
                    rows = [
                        {**row, "payload": json.dumps(row["payload"], default=str)} for row in batch.values()
                    ]
                    db = self.db()
                    if db is None:
                        continue
                    with db.begin() as conn:
                        if rows:
                            conn.execute(sa.delete(table).where(table.c.key.in_([r["key"] for r in rows])))
                            conn.execute(sa.insert(table), rows)
                        if purge_before is not None:
                            conn.execute(sa.delete(table).where(table.c.expires_at <= purge_before))
            except Exception as exc:
                # a cache write failing loses only the cached copy: the answer was served
                self.error = exc
            finally:
                with self.lock:
                    self.busy = False
                    self.inflight = {}
                    self.idle.notify_all()


_WRITERS: weakref.WeakKeyDictionary[Any, _Writer] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def _writer_for(db: Database) -> _Writer:
    with _WRITERS_LOCK:
        writer = _WRITERS.get(db)
        if writer is None:
            writer = _WRITERS[db] = _Writer(db)
        return writer


class MarketDataCache:
    """Cached answers with expiry on the injected clock.

    Args:
        db: the embedded store (``None``: memory only).
        clock: the time source for expiry.
        memory_entries: how many entries the in-memory layer keeps.
    """

    def __init__(self, db: Database | None, clock: Clock, *, memory_entries: int = 2048) -> None:
        self.db = db
        self.clock = clock
        self.memory_entries = memory_entries
        self._memory: OrderedDict[str, CacheEntry] = OrderedDict()
        # (system, data_type, symbol) of each key in memory, so forget() can find them
        self._owners: dict[str, tuple[str, str, str]] = {}
        self._lock = threading.Lock()
        self._last_purge = self._now()
        self._writer: _Writer | None = None
        if db is not None:
            db.ensure_tables(_table())
            self._writer = _writer_for(db)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def get(self, key: str) -> CacheEntry | None:
        """The live entry for ``key``, if any."""
        now = self._now()
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                if entry.expires_at > now:
                    self._memory.move_to_end(key)
                    return entry
                del self._memory[key]
                self._owners.pop(key, None)
        if self.db is None or self._writer is None:
            return None
        waiting = self._writer.waiting(key)
        if waiting is not None:
            # handed to the writer but not written yet (by this cache or another of the same store)
            if waiting["expires_at"] <= now:
                return None
            entry = CacheEntry(
                waiting["served_by"], waiting["created_at"], waiting["expires_at"], waiting["payload"]
            )
            self._remember(key, entry, (waiting["system"], waiting["data_type"], waiting["symbol"]))
            return entry
        if not self._writer.might_hold(key, now):
            return None
        table = _table()
        with self.db.begin() as conn:
            row = conn.execute(
                table.select().where(table.c.key == key, table.c.expires_at > now)
            ).mappings().first()  # fmt: skip
        if row is None:
            return None
        entry = CacheEntry(row["served_by"], row["created_at"], row["expires_at"], json.loads(row["payload"]))
        self._remember(key, entry, (row["system"], row["data_type"], row["symbol"]))
        return entry

    def put(
        self, key: str, *, system: str, data_type: str, symbol: str, served_by: str, payload: Any, ttl: float
    ) -> None:
        """Keep an answer for ``ttl`` seconds (nothing is kept for a ttl of zero).

        It is in memory at once; the store row is written by the store's writer thread (see the module
        docstring), so the caller never waits on the store.
        """
        if ttl <= 0:
            return
        now = self._now()
        entry = CacheEntry(served_by, now, now + ttl, payload)
        self._remember(key, entry, (system, data_type, symbol[:64]))
        if self._writer is None:
            return
        values = {
            "key": key, "system": system, "data_type": data_type, "symbol": symbol[:64], "served_by": served_by,
            "created_at": now, "expires_at": now + ttl, "payload": payload,
        }  # fmt: skip
        purge_before = None
        if now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            self._drop_expired_in_memory(now)
            purge_before = now
        self._writer.submit(values, purge_before=purge_before)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every answer put so far is in the store; False when ``timeout`` seconds passed first."""
        return True if self._writer is None else self._writer.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is pending and stop the store's writer thread (a later put starts it again)."""
        if self._writer is not None:
            self._writer.stop(timeout)

    def _remember(self, key: str, entry: CacheEntry, owner: tuple[str, str, str]) -> None:
        if self.memory_entries <= 0:
            return
        with self._lock:
            self._memory[key] = entry
            self._owners[key] = owner
            self._memory.move_to_end(key)
            while len(self._memory) > self.memory_entries:
                old, _ = self._memory.popitem(last=False)
                self._owners.pop(old, None)

    def purge(self) -> int:
        """Delete expired entries from the store; returns how many."""
        now = self._now()
        self._drop_expired_in_memory(now)
        if self.db is None or self._writer is None:
            return 0
        import sqlalchemy as sa

        table = _table()
        with self._writer.io:
            self._writer.drop(lambda row: row["expires_at"] <= now)
            with self.db.begin() as conn:
                result = conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        return int(result.rowcount or 0)

    def _drop_expired_in_memory(self, now: float) -> None:
        with self._lock:
            for key in [k for k, e in self._memory.items() if e.expires_at <= now]:
                del self._memory[key]
                self._owners.pop(key, None)

    def forget(self, data_type: str, symbol: str, *, systems: set[str]) -> None:
        """Drop the ``data_type`` answers for ``symbol`` that one of ``systems`` asked for or served.

        Used when newer data for the symbol arrives by another way (an import), so an answer cached before
        it is not served in its place.
        """
        with self._lock:
            for key in [k for k, o in self._owners.items() if o[1] == data_type and o[2] == symbol
                        and (o[0] in systems or self._memory.get(k, _NONE).served_by in systems)]:  # fmt: skip
                self._memory.pop(key, None)
                self._owners.pop(key, None)
        if self.db is None or self._writer is None:
            return
        import sqlalchemy as sa

        table = _table()
        short = symbol[:64]
        with self._writer.io:
            self._writer.drop(lambda row: row["data_type"] == data_type and row["symbol"] == short
                              and (row["system"] in systems or row["served_by"] in systems))  # fmt: skip
            with self.db.begin() as conn:
                conn.execute(
                    sa.delete(table).where(
                        table.c.data_type == data_type,
                        table.c.symbol == short,
                        sa.or_(table.c.system.in_(sorted(systems)), table.c.served_by.in_(sorted(systems))),
                    )
                )

    def clear(self, system: str | None = None) -> None:
        """Forget every entry (of one requested system, when given)."""
        with self._lock:
            self._memory.clear()
            self._owners.clear()
        if self.db is None or self._writer is None:
            return
        import sqlalchemy as sa

        table = _table()
        statement = sa.delete(table)
        if system is not None:
            statement = statement.where(table.c.system == system)
        with self._writer.io:
            self._writer.drop(lambda row: system is None or row["system"] == system)
            with self.db.begin() as conn:
                conn.execute(statement)
