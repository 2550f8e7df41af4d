"""Adoption of orders placed outside portico (drop-copy reports): once, flagged, with their fills."""

from __future__ import annotations

from decimal import Decimal

from portico.models import Execution, Order, OrderEvent, OrderStatus
from portico.trading import TradingService
from tests.core.trading.conftest import Recorder
from tests.core.trading.fakes import FakeVenue


def _report(
    venue: FakeVenue, *, source: str, event_id: str, limit_price: str | None = "50", filled: str = "4"
) -> OrderEvent:
    order = Order(
        order_id="V-EXT-1",
        client_order_id="desk-9",
        symbol="IBM",
        side="sell",
        order_type="limit",
        time_in_force="day",
        status=OrderStatus.FILLED,
        quantity=Decimal(4),
        filled_quantity=Decimal(filled),
        average_fill_price=Decimal(50),
        limit_price=None if limit_price is None else Decimal(limit_price),
    )
    fill = Execution(
        execution_id="X-EXT-1",
        order_id="V-EXT-1",
        client_order_id="desk-9",
        symbol="IBM",
        side="sell",
        quantity=Decimal(4),
        price=Decimal(50),
        executed_at=venue.clock.now(),
    )
    return OrderEvent(
        event="fill",
        order=order,
        execution=fill,
        timestamp=venue.clock.now(),
        event_id=event_id,
        source=source,
    )


async def test_a_drop_copy_report_of_an_unknown_order_adopts_it_once(
    service: TradingService, venue: FakeVenue, recorder: Recorder
) -> None:
    first = await service.apply_event("fake", _report(venue, source="drop_copy", event_id="e1"))
    assert first is not None
    assert (first.origin, first.status, first.filled_quantity) == ("external", OrderStatus.FILLED, Decimal(4))
    assert (first.client_order_id, first.venue_order_id, first.idempotency_key) == (
        "desk-9",
        "V-EXT-1",
        "external:V-EXT-1",
    )
    assert first.request.limit_price == Decimal(50) and first.attempts == 0, "never sent by portico"
    again = await service.apply_event("fake", _report(venue, source="drop_copy", event_id="e1"))
    assert again is not None and again.id == first.id
    assert [r.id for r in service.list_orders(system_id="fake")] == [first.id]
    assert len(service.repo.executions(system="fake")) == 1
    assert [d["order_id"] for d in recorder.named("trading.order.adopted")] == [first.id]


async def test_a_stream_report_of_an_unknown_order_is_held_not_adopted(
    service: TradingService, venue: FakeVenue
) -> None:
    assert await service.apply_event("fake", _report(venue, source="stream", event_id="s1")) is None
    assert service.list_orders(system_id="fake") == []


async def test_a_report_that_cannot_be_an_order_is_refused_with_the_reason(
    service: TradingService, venue: FakeVenue, recorder: Recorder
) -> None:
    event = _report(venue, source="drop_copy", event_id="bad", limit_price=None)
    assert await service.apply_event("fake", event) is None
    assert service.list_orders(system_id="fake") == []
    [refused] = recorder.named("trading.order.not_adopted")
    assert refused["venue_order_id"] == "V-EXT-1" and "limit" in refused["error"]
