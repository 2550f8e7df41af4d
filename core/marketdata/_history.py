"""Daily bars handed to the market data service (the scheduled imports' ``market_data_service``
destination), kept in the embedded store one row per (system, symbol, interval, trading day).

Unlike the answer cache, which is keyed by a whole request's parameters, the history is keyed by the
bar's day, so any later request whose window those days cover is answered from it, whatever its
``start``, ``end`` or ``limit``. Rows live for the cache's ``historical_ttl`` from their (re)ingestion.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from portico.clock import Clock

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["BarHistory", "StoreOutcome"]

_TABLE: Any = None


def _table() -> sa.Table:
    global _TABLE
    if _TABLE is None:
        import sqlalchemy as sa

        from portico.store import metadata  # lazy: cold start (SQLAlchemy)

        existing = metadata().tables.get("marketdata_history")
        _TABLE = existing if existing is not None else sa.Table(
            "marketdata_history",
            metadata(),
            sa.Column("system", sa.String(64), primary_key=True),
            sa.Column("symbol", sa.String(64), primary_key=True),
            sa.Column("interval", sa.String(16), primary_key=True),
            sa.Column("day", sa.String(10), primary_key=True),
            sa.Column("ingested_at", sa.Float, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False, index=True),
            sa.Column("payload", sa.Text, nullable=False),
        )  # fmt: skip
    return _TABLE


_Key = tuple[str, str, str, str]


class StoreOutcome:
    """What one :meth:`BarHistory.store` did: keys added, replaced (content changed) and refreshed."""

    def __init__(self) -> None:
        self.added: list[_Key] = []
        self.replaced: list[_Key] = []
        self.unchanged: list[_Key] = []


class BarHistory:
    """Bars by (system, symbol, interval, day), in the embedded store or, without one, in memory.

    Args:
        db: the embedded store (``None``: memory only).
        clock: the time source for expiry.
    """

    def __init__(self, db: Database | None, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._memory: dict[_Key, tuple[float, float, str]] = {}
        # one writer at a time: two concurrent imports of the same day must not both insert the row
        self._lock = threading.Lock()
        if db is not None:
            db.ensure_tables(_table())

    def store(self, rows: Mapping[_Key, Any], *, ttl: float) -> StoreOutcome:
        """Insert or replace ``rows`` (key -> JSON-safe bar); an identical row only has its expiry renewed."""
        outcome = StoreOutcome()
        now = self.clock.now().timestamp()
        texts = {key: json.dumps(value, sort_keys=True, default=str) for key, value in rows.items()}
        with self._lock:
            existing = self._existing(texts)
            for key, text in texts.items():
                before = existing.get(key)
                if before is None:
                    outcome.added.append(key)
                elif before == text:
                    outcome.unchanged.append(key)
                else:
                    outcome.replaced.append(key)
            if self.db is None:
                for key, text in texts.items():
                    self._memory[key] = (now, now + ttl, text)
                return outcome
            import sqlalchemy as sa

            table = _table()
            values = [
                {"system": k[0], "symbol": k[1], "interval": k[2], "day": k[3], "ingested_at": now,
                 "expires_at": now + ttl, "payload": texts[k]}
                for k in texts
            ]  # fmt: skip
            with self.db.begin() as conn:
                stale = [k for k in texts if k in existing]
                for key in stale:
                    conn.execute(sa.delete(table).where(*self._match(table, key)))
                if values:
                    conn.execute(sa.insert(table), values)
        return outcome

    @staticmethod
    def _match(table: sa.Table, key: _Key) -> list[Any]:
        return [table.c.system == key[0], table.c.symbol == key[1], table.c.interval == key[2],
                table.c.day == key[3]]  # fmt: skip

    def _existing(self, keys: Iterable[_Key]) -> dict[_Key, str]:
        wanted = set(keys)
        if self.db is None:
            return {k: self._memory[k][2] for k in wanted if k in self._memory}
        import sqlalchemy as sa

        table = _table()
        found: dict[_Key, str] = {}
        groups: dict[tuple[str, str, str], set[str]] = {}
        for system, symbol, interval, day in wanted:
            groups.setdefault((system, symbol, interval), set()).add(day)
        with self.db.begin() as conn:
            for (system, symbol, interval), days in groups.items():
                rows = conn.execute(
                    sa.select(table.c.day, table.c.payload).where(
                        table.c.system == system, table.c.symbol == symbol, table.c.interval == interval,
                        table.c.day.in_(sorted(days)),
                    )
                ).all()  # fmt: skip
                for day, payload in rows:
                    found[(system, symbol, interval, day)] = payload
        return found

    def bars(
        self, system: str, symbol: str, interval: str, days: Iterable[date]
    ) -> dict[date, tuple[float, Any]]:
        """The live (unexpired) rows of ``days`` that are held, by day: (ingestion time, JSON bar)."""
        wanted = {d.isoformat(): d for d in days}
        now = self.clock.now().timestamp()
        if not wanted:
            return {}
        if self.db is None:
            out: dict[date, tuple[float, Any]] = {}
            for text_day, day in wanted.items():
                held = self._memory.get((system, symbol, interval, text_day))
                if held is not None and held[1] > now:
                    out[day] = (held[0], json.loads(held[2]))
            return out
        import sqlalchemy as sa

        table = _table()
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(table.c.day, table.c.ingested_at, table.c.payload).where(
                    table.c.system == system, table.c.symbol == symbol, table.c.interval == interval,
                    table.c.day.in_(sorted(wanted)), table.c.expires_at > now,
                )
            ).all()  # fmt: skip
        return {wanted[day]: (at, json.loads(payload)) for day, at, payload in rows}

    def rescale(
        self, symbol: str, before: date, factor: Any, *, interval: str = "1day"
    ) -> list[tuple[str, str, str, str]]:
        """Divide the prices of every held ``symbol`` bar dated before ``before`` by ``factor`` and
        multiply its volume by it (a split's adjustment; ``1 / factor`` undoes it). Returns the keys changed.
        """
        from decimal import Decimal

        ratio = Decimal(factor)
        cut = before.isoformat()
        with self._lock:
            if self.db is None:
                held = {
                    k: v
                    for k, v in self._memory.items()
                    if k[1] == symbol and k[2] == interval and k[3] < cut
                }
                rows = {k: v[2] for k, v in held.items()}
            else:
                import sqlalchemy as sa

                table = _table()
                with self.db.begin() as conn:
                    found = conn.execute(
                        sa.select(table.c.system, table.c.day, table.c.payload).where(
                            table.c.symbol == symbol, table.c.interval == interval, table.c.day < cut
                        )
                    ).all()
                rows = {(system, symbol, interval, day): payload for system, day, payload in found}
            changed: dict[tuple[str, str, str, str], str] = {}
            for key, text in rows.items():
                bar = json.loads(text)
                for name in ("open", "high", "low", "close", "vwap", "adjusted_close"):
                    if bar.get(name) is not None:
                        bar[name] = format(Decimal(str(bar[name])) / ratio, "f")
                if bar.get("volume") is not None:
                    bar["volume"] = format(Decimal(str(bar["volume"])) * ratio, "f")
                changed[key] = json.dumps(bar, sort_keys=True, default=str)
            if self.db is None:
                for key, text in changed.items():
                    at, expires, _ = self._memory[key]
                    self._memory[key] = (at, expires, text)
            elif changed:
                import sqlalchemy as sa

                table = _table()
                with self.db.begin() as conn:
                    for key, text in changed.items():
                        conn.execute(sa.update(table).where(*self._match(table, key)).values(payload=text))
        return sorted(changed)

    def purge(self) -> int:
        """Delete expired rows; returns how many."""
        now = self.clock.now().timestamp()
        with self._lock:
            gone = [k for k, v in self._memory.items() if v[1] <= now]
            for key in gone:
                del self._memory[key]
        if self.db is None:
            return len(gone)
        import sqlalchemy as sa

        table = _table()
        with self.db.begin() as conn:
            result = conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        return int(result.rowcount or 0)
