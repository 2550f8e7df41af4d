"""Restart recovery: every unresolved intent of a system is resolved before new orders are accepted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.models import OrderRequest, OrderStatus
from portico.trading import RecoveryIncomplete, TradingService
from portico.trading._fingerprint import fingerprint
from tests.core.trading.fakes import FakeBroker, FakeVenue


def _stored_intent(service: TradingService, key: str, *, sent: bool) -> str:
    """An intent left behind by a process that crashed before (or while) sending it."""
    request = OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(5))
    record = service.repo.insert_intent(
        id=f"id-{key}",
        system="fake",
        idempotency_key=key,
        client_order_id=service.derive_client_order_id("fake", key),
        request=request,
        request_hash=fingerprint(request)[0],
        now=service.clock.now(),
    )
    if sent:
        service.repo.mark_sent(record.id, service.clock.now())
    return record.id


async def test_recovery_resolves_sent_and_unsent_intents_before_new_orders(
    make_service, venue: FakeVenue
) -> None:
    first = make_service({"fake": FakeBroker.create(venue)})
    committed = _stored_intent(first, "committed", sent=True)
    venue.submit(
        OrderRequest(
            symbol="AAPL",
            side="buy",
            quantity=Decimal(5),
            client_order_id=first.derive_client_order_id("fake", "committed"),
        )
    )
    lost = _stored_intent(first, "lost-before-venue", sent=True)
    never_sent = _stored_intent(first, "never-sent", sent=False)

    # the process restarts on the same store
    second = make_service({"fake": FakeBroker.create(venue)})
    record = await second.place_order(
        "fake", {"symbol": "MSFT", "side": "buy", "quantity": "1"}, idempotency_key="new"
    )
    assert record.status is OrderStatus.FILLED
    for order_id in (committed, lost, never_sent):
        assert second.get_order(order_id).status is OrderStatus.FILLED
    # one order per intent at the venue, and the recovered ones came before the new one
    cids = [j["cid"] for j in venue.journal if j["outcome"] == "committed"]
    assert len(cids) == len(set(cids)) == 4
    assert cids[-1] == record.client_order_id
    sources = {h.source for h in second.order_history(never_sent)}
    assert "resubmit" in sources


async def test_new_orders_wait_while_recovery_is_incomplete(make_service, venue: FakeVenue) -> None:
    first = make_service({"fake": FakeBroker.create(venue)})
    _stored_intent(first, "pending", sent=True)
    venue.lookup_failures = 10_000
    second = make_service({"fake": FakeBroker.create(venue)})
    with pytest.raises(RecoveryIncomplete) as info:
        await second.place_order(
            "fake", {"symbol": "MSFT", "side": "buy", "quantity": "1"}, idempotency_key="new"
        )
    assert info.value.unresolved == ["id-pending"]
    assert info.value.retryable
    assert venue.orders == {}
    venue.lookup_failures = 0
    record = await second.place_order(
        "fake", {"symbol": "MSFT", "side": "buy", "quantity": "1"}, idempotency_key="new"
    )
    assert record.status is OrderStatus.FILLED
    assert second.get_order("id-pending").status is OrderStatus.FILLED


async def test_recovery_without_resubmit_leaves_ambiguous_intents_unknown(
    make_service, venue: FakeVenue
) -> None:
    first = make_service({"fake": FakeBroker.create(venue)})
    _stored_intent(first, "sent", sent=True)
    _stored_intent(first, "unsent", sent=False)
    second = make_service({"fake": FakeBroker.create(venue)}, config={"resubmit_when_not_found": False})
    report = await second.recover("fake")
    # never sent: safe to send; sent and not found: ambiguous, left for reconciliation
    assert second.get_order("id-unsent").status is OrderStatus.FILLED
    assert report.unresolved == ["id-sent"]
    assert second.get_order("id-sent").status is OrderStatus.PENDING_SUBMIT
    assert len(venue.orders) == 1


async def test_recovery_refreshes_open_orders(make_service, venue: FakeVenue) -> None:
    venue.fill = "none"
    first = make_service({"fake": FakeBroker.create(venue)})
    record = await first.place_order(
        "fake", {"symbol": "AAPL", "side": "buy", "quantity": "4"}, idempotency_key="k"
    )
    assert record.status is OrderStatus.NEW
    venue.fill_order(record.venue_order_id, Decimal(4))  # filled while the process was down
    second = make_service({"fake": FakeBroker.create(venue)})
    report = await second.recover("fake")
    assert report.complete and report.refreshed == 1
    assert second.get_order(record.id).status is OrderStatus.FILLED
