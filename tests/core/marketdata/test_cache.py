"""MarketDataCache: expired answers leave the store on their own in a long-running service."""

from __future__ import annotations

import sqlalchemy as sa

from portico.clock import FakeClock
from portico.marketdata._cache import MarketDataCache, _table
from portico.store import Database


def _rows(db: Database) -> int:
    with db.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(_table())).scalar_one())


def test_expired_entries_are_purged_from_the_store_as_new_ones_arrive(db: Database) -> None:
    clock = FakeClock()
    cache = MarketDataCache(db, clock, memory_entries=4)
    # one distinct key per request (e.g. bars for a moving window): without a purge they pile up forever
    for n in range(50):
        cache.put(f"k{n}", system="av", data_type="bars", symbol="AAPL", served_by="av", payload={"n": n}, ttl=60)
        clock.advance(120)
    cache.put("live", system="av", data_type="bars", symbol="AAPL", served_by="av", payload={"n": -1}, ttl=60)
    assert _rows(db) < 10
    assert cache.get("live") is not None  # a live entry stays
