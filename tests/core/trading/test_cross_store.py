"""Two stores, one venue: an intent is linked to a venue order found by its client order id only when
that order has the intent's parameters, on every path that links (lookup after a lost answer, the
order stream, recovery after a restart)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from portico.clock import FakeClock
from portico.models import OrderEvent, OrderStatus
from portico.store import Database
from portico.trading import IdempotencyConflict, TradingService
from tests.core.trading.conftest import Recorder
from tests.core.trading.fakes import FakeBroker, FakeVenue

ONE = {"symbol": "AAPL", "side": "buy", "quantity": "1"}
FIVE = {"symbol": "AAPL", "side": "buy", "quantity": "5"}


@pytest.fixture
def other_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'other.db'}")
    yield database
    database.dispose()


@pytest.fixture
def first(make_service, venue: FakeVenue) -> TradingService:
    service: TradingService = make_service({"fake": FakeBroker.create(venue)})
    return service


def _on(db: Database, venue: FakeVenue, clock: FakeClock, recorder: Recorder) -> TradingService:
    return TradingService(
        db=db, clock=clock, connectors={"fake": FakeBroker.create(venue)}, monitor=recorder, audit=recorder
    )


@pytest.fixture
def second(venue: FakeVenue, other_db: Database, clock: FakeClock, recorder: Recorder) -> TradingService:
    return _on(other_db, venue, clock, recorder)


async def test_a_lost_answer_never_adopts_the_other_stores_order(
    first: TradingService, second: TradingService, venue: FakeVenue, recorder
) -> None:
    placed = await first.place_order("fake", ONE, idempotency_key="biz")
    # the second store's send is lost on the way; its lookup by client order id finds the first's order
    venue.script = ["lost:ReadTimeout"]

    with pytest.raises(IdempotencyConflict) as caught:
        await second.place_order("fake", FIVE, idempotency_key="biz")

    assert caught.value.differences == {"quantity": ("5", "1")}
    assert "quantity (intent 5, venue 1)" in caught.value.message
    record = second.get_order("biz", system_id="fake")
    assert (record.status, record.venue_order_id) == (OrderStatus.REJECTED, None)
    assert len(venue.orders) == 1 and placed.venue_order_id in venue.orders
    conflicts = recorder.named("trading.order.idempotency_conflict")
    assert [(c["venue_order_id"], c["fields"]) for c in conflicts] == [(placed.venue_order_id, ["quantity"])]


async def test_the_order_stream_never_links_the_other_stores_order(
    first: TradingService, second: TradingService, venue: FakeVenue
) -> None:
    # the second store's send is lost and its lookups fail: the intent stays unknown
    venue.script = ["lost:ReadTimeout"]
    venue.lookup_failures = 100
    pending = await second.place_order("fake", FIVE, idempotency_key="biz")
    assert pending.status is OrderStatus.UNKNOWN
    venue.lookup_failures = 0
    placed = await first.place_order("fake", ONE, idempotency_key="biz")
    event = OrderEvent(
        event="fill", order=venue.order(placed.venue_order_id or ""), timestamp=venue.clock.now(), event_id="e1"
    )

    with pytest.raises(IdempotencyConflict):
        await second.apply_event("fake", event)
    # once refused, later events of the other store's order are ignored quietly
    again = event.model_copy(update={"event_id": "e2"})
    assert await second.apply_event("fake", again) is None

    record = second.get_order(pending.id)
    assert (record.status, record.venue_order_id, record.filled_quantity) == (OrderStatus.REJECTED, None, Decimal(0))
    assert second.repo.executions(system="fake") == []


async def test_recovery_never_adopts_the_other_stores_order(
    first: TradingService,
    second: TradingService,
    venue: FakeVenue,
    other_db: Database,
    clock: FakeClock,
    recorder: Recorder,
) -> None:
    venue.script = ["lost:ReadTimeout"]
    venue.lookup_failures = 100
    pending = await second.place_order("fake", FIVE, idempotency_key="biz")
    venue.lookup_failures = 0
    await first.place_order("fake", ONE, idempotency_key="biz")

    restarted = _on(other_db, venue, clock, recorder)
    report = await restarted.recover("fake")

    assert report.complete and report.resolved == []
    record = restarted.get_order(pending.id)
    assert (record.status, record.venue_order_id) == (OrderStatus.REJECTED, None)
    assert "quantity (intent 5, venue 1)" in (record.reject_reason or "")
    assert len(venue.orders) == 1
