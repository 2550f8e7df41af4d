"""The market data cache: answers kept in the embedded store for a configurable time, so repeated requests
inside the window spend no provider quota. A small in-memory layer sits in front of the store.

Entries are per (requested system, data type, symbol, parameters) and remember which provider served
them, so an answer a fallback provider gave is reused without asking the primary again.
"""

from __future__ import annotations

import hashlib
import json
import threading
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


def _table() -> sa.Table:
    global _TABLE
    if _TABLE is None:
        import sqlalchemy as sa

        from portico.store import metadata

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
        if db is not None:
            db.ensure_tables(_table())

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
        if self.db is None:
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
        """Store an answer for ``ttl`` seconds (nothing is stored for a ttl of zero)."""
        if ttl <= 0:
            return
        now = self._now()
        entry = CacheEntry(served_by, now, now + ttl, payload)
        self._remember(key, entry, (system, data_type, symbol[:64]))
        if self.db is None:
            return
        import sqlalchemy as sa

        table = _table()
        values = {
            "key": key, "system": system, "data_type": data_type, "symbol": symbol[:64], "served_by": served_by,
            "created_at": now, "expires_at": now + ttl, "payload": json.dumps(payload, default=str),
        }  # fmt: skip
        with self.db.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.key == key))
            conn.execute(sa.insert(table).values(**values))
        if now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            self.purge()

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
        with self._lock:
            for key in [k for k, e in self._memory.items() if e.expires_at <= now]:
                del self._memory[key]
                self._owners.pop(key, None)
        if self.db is None:
            return 0
        import sqlalchemy as sa

        table = _table()
        with self.db.begin() as conn:
            result = conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        return int(result.rowcount or 0)

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
        if self.db is None:
            return
        import sqlalchemy as sa

        table = _table()
        with self.db.begin() as conn:
            conn.execute(
                sa.delete(table).where(
                    table.c.data_type == data_type,
                    table.c.symbol == symbol[:64],
                    sa.or_(table.c.system.in_(sorted(systems)), table.c.served_by.in_(sorted(systems))),
                )
            )

    def clear(self, system: str | None = None) -> None:
        """Forget every entry (of one requested system, when given)."""
        with self._lock:
            self._memory.clear()
            self._owners.clear()
        if self.db is None:
            return
        import sqlalchemy as sa

        table = _table()
        statement = sa.delete(table)
        if system is not None:
            statement = statement.where(table.c.system == system)
        with self.db.begin() as conn:
            conn.execute(statement)
