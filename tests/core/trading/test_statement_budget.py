"""The order path's database work stays small: an order placed and filled through the service costs a
bounded number of SQL statements and transactions (the numbers below are today's; a change that adds
a round trip per order fails here)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portico.models import OrderStatus
from portico.store import Database
from portico.testing import wait_for_async
from tests.core.trading.fakes import FakeBroker, FakeVenue


def _count(db: Database) -> Counter[str]:
    counts: Counter[str] = Counter()

    def statement(*args: Any, **kwargs: Any) -> None:
        counts["statements"] += 1

    def begin(*args: Any) -> None:
        counts["transactions"] += 1

    sa.event.listen(db.engine, "before_cursor_execute", statement)
    sa.event.listen(db.engine, "begin", begin)
    return counts


async def test_an_order_placed_and_filled_costs_a_bounded_number_of_statements(
    make_service, db, clock
) -> None:
    venue = FakeVenue(clock=clock)
    service = make_service({"fake": FakeBroker.create(venue, "fake")}, config={"book": "internal"})
    try:
        await service.start(recover=False)
        await wait_for_async(lambda: "fake" in service._streams_up, timeout=5)
        warm = await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="w"
        )
        await wait_for_async(lambda: service.get_order(warm.id).status is OrderStatus.FILLED, timeout=5)
        updates: list[Any] = []
        service.on_order_event(updates.append)
        counts = _count(db)
        placed = await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "2"}, idempotency_key="b"
        )
        # waited for without reading the store (the count would include the reads)
        await wait_for_async(
            lambda: any(u.record.id == placed.id and u.status is OrderStatus.FILLED for u in updates),
            timeout=5,
        )
        spent = dict(counts)
        assert len(service.repo.executions(system="fake")) == 2
    finally:
        await service.stop()
    # the key looked up (1); the intent stored with its first send counted (order, history: 2); the
    # stream's acknowledgement (order locked, event id checked, venue id and history written: 4); its
    # fill, in one transaction (order locked, execution checked once for its id or a twin under another
    # id, and stored, book position locked and written, cash looked up, event id checked, order
    # updated, history: 9); the submit answer, which the stream had told already (order locked,
    # nothing to write: 1)
    assert spent == {"statements": 17, "transactions": 5}, spent
    assert venue.positions["AAPL"] == Decimal(3)
