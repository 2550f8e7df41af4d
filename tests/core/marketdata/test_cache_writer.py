"""MarketDataCache writes behind: a put never touches the store on the caller's thread, nothing is lost."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from portico.clock import FakeClock
from portico.marketdata._cache import MarketDataCache, _table
from portico.store import Database


def _stored(db: Database) -> dict[str, Any]:
    with db.begin() as conn:
        return {r.key: r.payload for r in conn.execute(sa.select(_table().c.key, _table().c.payload))}


def _put(cache: MarketDataCache, key: str, n: int, *, symbol: str = "AAPL", ttl: float = 60) -> None:
    cache.put(key, system="av", data_type="bars", symbol=symbol, served_by="av", payload={"n": n}, ttl=ttl)


def test_puts_are_written_by_the_writer_thread_in_batches(db: Database, monkeypatch) -> None:
    cache = MarketDataCache(db, FakeClock())
    threads: list[str] = []
    begin = db.begin

    def recording_begin(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return begin(*args, **kwargs)

    monkeypatch.setattr(db, "begin", recording_begin)
    for n in range(200):
        _put(cache, f"k{n}", n)
    assert threading.current_thread().name not in threads  # the caller never waited on the store
    assert cache.flush(timeout=30)
    writes = list(threads)
    assert len(_stored(db)) == 200
    assert set(writes) == {"portico-marketdata-cache"}
    assert len(writes) < 200  # rows that gathered while a batch was written went in together
    cache.close()


def test_an_answer_not_yet_written_is_served_by_every_cache_of_the_store(db: Database) -> None:
    clock = FakeClock()
    writer_side = MarketDataCache(db, clock, memory_entries=0)
    reader_side = MarketDataCache(db, clock, memory_entries=0)
    with writer_side._writer.io:  # type: ignore[union-attr]  # hold the writer: the row stays pending
        _put(writer_side, "k", 7)
        entry = reader_side.get("k")
        assert entry is not None and entry.payload == {"n": 7}
    assert writer_side.flush(timeout=30)
    assert _stored(db) == {"k": '{"n": 7}'}
    fresh = MarketDataCache(db, clock, memory_entries=0)
    got = fresh.get("k")
    assert got is not None and got.payload == {"n": 7}
    clock.advance(61)
    assert fresh.get("k") is None  # expired
    writer_side.close()


def test_forget_and_clear_also_drop_rows_still_waiting(db: Database) -> None:
    clock = FakeClock()
    cache = MarketDataCache(db, clock, memory_entries=0)
    writer = cache._writer
    assert writer is not None
    with writer.io:
        _put(cache, "a", 1, symbol="AAPL")
        _put(cache, "m", 2, symbol="MSFT")
    # the writer may have taken the batch before forget(): either way neither store nor pending keeps "a"
    cache.forget("bars", "AAPL", systems={"av"})
    assert cache.flush(timeout=30)
    assert set(_stored(db)) == {"m"}
    assert cache.get("a") is None and cache.get("m") is not None
    with writer.io:
        _put(cache, "z", 3)
    cache.clear()
    assert cache.flush(timeout=30)
    assert _stored(db) == {}
    assert cache.get("z") is None
    cache.close()


def test_a_miss_for_a_key_the_store_never_held_reads_nothing(db: Database, monkeypatch) -> None:
    cache = MarketDataCache(db, FakeClock())
    _put(cache, "held", 1)
    assert cache.flush(timeout=30)
    assert cache.get("absent") is None  # reads the store's keys once
    calls: list[int] = []
    begin = db.begin

    def counting_begin(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return begin(*args, **kwargs)

    monkeypatch.setattr(db, "begin", counting_begin)
    for n in range(50):
        assert cache.get(f"absent-{n}") is None
    assert calls == []
    other = MarketDataCache(db, FakeClock(), memory_entries=0)
    assert other.get("held") is not None  # a key the store holds is still read from it
    cache.close()


def test_rows_put_one_after_another_share_a_transaction_and_flush_ends_the_wait(
    db: Database, monkeypatch
) -> None:
    from portico.marketdata import _cache

    # a linger far longer than the test: only flush() can end it, and every row must gather in it
    monkeypatch.setattr(_cache, "_LINGER_SECONDS", 600.0)
    cache = MarketDataCache(db, FakeClock())
    writes: list[str] = []
    begin = db.begin

    def recording_begin(*args: Any, **kwargs: Any) -> Any:
        writes.append(threading.current_thread().name)
        return begin(*args, **kwargs)

    monkeypatch.setattr(db, "begin", recording_begin)
    for n in range(5):
        _put(cache, f"k{n}", n)
    assert writes == []  # the writer is lingering: nothing written yet
    assert cache.flush(timeout=30)  # returns once written, long before the linger would end
    assert writes == ["portico-marketdata-cache"]  # one transaction for the five rows
    assert len(_stored(db)) == 5
    cache.close()


def test_a_full_batch_is_written_without_waiting_for_the_linger(db: Database, monkeypatch) -> None:
    from portico.marketdata import _cache

    monkeypatch.setattr(_cache, "_LINGER_SECONDS", 600.0)
    monkeypatch.setattr(_cache, "_BATCH_ROWS", 4)
    cache = MarketDataCache(db, FakeClock())
    for n in range(4):
        _put(cache, f"k{n}", n)
    deadline = time.monotonic() + 30
    while len(_stored(db)) < 4 and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert len(_stored(db)) == 4  # written with no flush, the linger cut short by the full batch
    cache.close()
