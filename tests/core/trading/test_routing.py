"""Durable routing: intents stored before sending, idempotency keys, the outcome policy, validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.errors import NotFound, PayloadRejected, VenueRejected
from portico.models import OrderStatus
from portico.trading import (
    IdempotencyConflict,
    OrderRejected,
    OrderValidationError,
    TradingService,
)
from tests.core.trading.fakes import FakeBroker, FakeVenue

BUY = {"symbol": "AAPL", "side": "buy", "quantity": "10"}


async def test_order_is_stored_then_sent_and_tracked(service: TradingService, venue: FakeVenue) -> None:
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.FILLED
    assert record.filled_quantity == Decimal(10)
    assert record.client_order_id == service.derive_client_order_id("fake", "k1")
    assert venue.orders_by_cid()[record.client_order_id].status is OrderStatus.FILLED
    history = service.order_history(record.id)
    assert [h.to_status for h in history] == [OrderStatus.PENDING_SUBMIT, OrderStatus.FILLED]
    assert history[0].source == "intent"


async def test_same_key_twice_returns_the_existing_order(service: TradingService, venue: FakeVenue) -> None:
    first = await service.place_order("fake", BUY, idempotency_key="k1")
    again = await service.place_order("fake", {**BUY, "quantity": "10.00"}, idempotency_key="k1")
    assert again.id == first.id
    assert len(venue.orders) == 1


async def test_same_key_with_different_parameters_is_an_error(
    service: TradingService, venue: FakeVenue
) -> None:
    await service.place_order("fake", BUY, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict) as info:
        await service.place_order("fake", {**BUY, "quantity": "11"}, idempotency_key="k1")
    assert isinstance(info.value, PayloadRejected)
    assert info.value.differences == {"quantity": ("10", "11")}
    assert len(venue.orders) == 1


async def test_concurrent_same_key_sends_once(service: TradingService, venue: FakeVenue) -> None:
    import asyncio

    results = await asyncio.gather(
        *(service.place_order("fake", BUY, idempotency_key="same") for _ in range(20))
    )
    assert len({r.id for r in results}) == 1
    assert len(venue.orders) == 1
    assert len(service._key_locks) == 0  # per-key locks do not accumulate


async def test_response_dropped_after_commit_resolves_by_lookup(
    service: TradingService, venue: FakeVenue
) -> None:
    venue.script = ["drop"]
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.FILLED
    assert len(venue.orders) == 1
    statuses = [(h.source, h.to_status) for h in service.order_history(record.id)]
    assert ("submit", OrderStatus.UNKNOWN) in statuses
    assert statuses[-1] == ("lookup", OrderStatus.FILLED)


async def test_refused_connection_is_resent_with_the_same_client_id(
    service: TradingService, venue: FakeVenue
) -> None:
    venue.script = ["refuse", "refuse"]
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.FILLED
    assert record.attempts == 3
    assert len(venue.orders) == 1
    assert [j["outcome"] for j in venue.journal] == ["refused", "refused", "committed"]


async def test_5xx_after_commit_is_not_resent(service: TradingService, venue: FakeVenue) -> None:
    venue.script = ["server_error_after"]
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.FILLED
    assert record.attempts == 1
    assert len(venue.orders) == 1


async def test_only_a_venue_answer_marks_rejected(service: TradingService, venue: FakeVenue) -> None:
    venue.reject_symbols.add("XYZ")
    with pytest.raises(OrderRejected) as info:
        await service.place_order("fake", {**BUY, "symbol": "XYZ"}, idempotency_key="k1")
    assert isinstance(info.value, VenueRejected)
    assert info.value.record.status is OrderStatus.REJECTED
    assert "not tradable" in (info.value.record.reject_reason or "")
    # the same key replays the rejection without a second send
    with pytest.raises(OrderRejected):
        await service.place_order("fake", {**BUY, "symbol": "XYZ"}, idempotency_key="k1")
    assert [j["outcome"] for j in venue.journal] == ["rejected"]


async def test_unresolvable_outcome_stays_unknown_never_rejected(
    service: TradingService, venue: FakeVenue, recorder
) -> None:
    venue.script = ["drop"]
    venue.lookup_failures = 100
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.UNKNOWN
    assert "lookup" in (record.last_error or "")
    assert recorder.named("trading.order.outcome_unknown")
    venue.lookup_failures = 0
    assert await service.resolve_pending("fake") == 1
    resolved = service.get_order(record.id)
    assert resolved.status is OrderStatus.FILLED
    assert len(venue.orders) == 1


async def test_duplicate_refusal_on_resend_is_resolved_by_lookup(
    service: TradingService, venue: FakeVenue
) -> None:
    # first send committed but lost; the lookup fails; the resend hits the venue's duplicate check
    venue.script = ["drop", "ok"]
    venue.lookup_failures = 3
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.UNKNOWN
    # the next resolution finds the order rather than resending
    resolved = await service.resolve(record.id)
    assert resolved.status is OrderStatus.FILLED
    assert len(venue.orders) == 1


async def test_resend_refused_as_duplicate_is_adopted_not_rejected(
    service: TradingService, broker: FakeBroker, venue: FakeVenue
) -> None:
    # the venue committed the order but the answer was lost, and the first lookup cannot see it yet
    # (eventual consistency): the resend is refused as a duplicate client order id, which must not
    # count as a rejection
    venue.script = ["drop"]
    original = broker.get_order_by_client_id
    calls = {"n": 0}

    async def blind_once(cid: str):
        calls["n"] += 1
        if calls["n"] == 1:
            raise NotFound("not visible yet")
        return await original(cid)

    broker.get_order_by_client_id = blind_once  # type: ignore[method-assign]
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    assert record.status is OrderStatus.FILLED
    assert [j["outcome"] for j in venue.journal] == ["committed", "duplicate"]
    assert all(h.to_status is not OrderStatus.REJECTED for h in service.order_history(record.id))


async def test_capabilities_are_checked_before_storing(service: TradingService, venue: FakeVenue) -> None:
    with pytest.raises(OrderValidationError) as info:
        await service.place_order(
            "fake", {**BUY, "order_type": "stop", "stop_price": "90"}, idempotency_key="a"
        )
    assert info.value.field == "order_type"
    with pytest.raises(OrderValidationError) as info:
        await service.place_order("fake", {**BUY, "time_in_force": "ioc"}, idempotency_key="b")
    assert info.value.field == "time_in_force"
    with pytest.raises(OrderValidationError) as info:
        await service.place_order("fake", {**BUY, "quantity": "1.5"}, idempotency_key="c")
    assert info.value.field == "quantity"
    with pytest.raises(PayloadRejected) as bad:
        await service.place_order("fake", {"symbol": "AAPL", "side": "buy"}, idempotency_key="d")
    assert "order_details" in str(bad.value)
    assert service.list_orders() == []
    assert venue.orders == {}


async def test_account_checks_buying_power_and_held_position(
    service: TradingService, venue: FakeVenue
) -> None:
    venue.cash = Decimal("500")
    with pytest.raises(OrderValidationError, match="buying power"):
        await service.place_order("fake", BUY, idempotency_key="a")
    with pytest.raises(OrderValidationError, match="only 0 is available"):
        await service.place_order(
            "fake", {"symbol": "MSFT", "side": "sell", "quantity": "1"}, idempotency_key="b"
        )
    venue.positions["MSFT"] = Decimal(5)
    venue.fill = "none"
    await service.place_order(
        "fake", {"symbol": "MSFT", "side": "sell", "quantity": "3"}, idempotency_key="c"
    )
    # 3 of the 5 are already in an open sell order
    with pytest.raises(OrderValidationError, match="only 2 is available"):
        await service.place_order(
            "fake", {"symbol": "MSFT", "side": "sell", "quantity": "3"}, idempotency_key="d"
        )


async def test_audit_records_every_placement(service: TradingService, recorder) -> None:
    record = await service.place_order("fake", BUY, idempotency_key="k1")
    (entry,) = recorder.entries
    assert entry["action"] == "trading.place_order"
    assert entry["outcome"] == "filled"
    assert entry["system"] == "fake"
    assert entry["detail"]["order_id"] == record.id
    assert entry["correlation_id"]


async def test_cancel_moves_to_pending_cancel_then_canceled(
    service: TradingService, venue: FakeVenue
) -> None:
    venue.fill = "none"
    record = await service.place_order(
        "fake", {**BUY, "order_type": "limit", "limit_price": "99"}, idempotency_key="k"
    )
    assert record.status is OrderStatus.NEW
    canceled = await service.cancel_order("fake", record.client_order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert [h.to_status for h in service.order_history(record.id)][-2:] == [
        OrderStatus.PENDING_CANCEL,
        OrderStatus.CANCELED,
    ]
    # cancelling a terminal order is a no-op
    assert (await service.cancel_order("fake", record.id)).status is OrderStatus.CANCELED


@pytest.mark.parametrize(
    "fault",
    [
        "after:ReadTimeout",
        "after:ResponseLost",
        "after:ServerError",
        "after:RateLimited",
        "after:Malformed",
        "after:OutcomeUnknown",
        "after:RuntimeError",
        "after:OSError",
        "hang",
    ],
)
async def test_outcome_policy_matrix(make_service, venue: FakeVenue, fault: str) -> None:
    """Whatever goes wrong after the venue committed the order, it is never marked rejected and the
    lookup by client order id finds the one order."""
    service = make_service({"fake": FakeBroker.create(venue)}, config={"submit_timeout": 0.2})
    venue.script = [fault]
    record = await service.place_order("fake", BUY, idempotency_key="k")
    assert record.status is OrderStatus.FILLED
    assert len(venue.orders) == 1 and record.attempts == 1
    statuses = [h.to_status for h in service.order_history(record.id)]
    assert OrderStatus.UNKNOWN in statuses and OrderStatus.REJECTED not in statuses
