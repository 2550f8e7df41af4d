"""Order replace through the trading service, against the Alpaca mock (which replaces by a new order
linked to the old one): stored before it is sent, one replace per key, lost answers resolved by looking
at the venue, replaces of finished orders refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.connectors.alpaca import AlpacaConnector
from portico.errors import PayloadRejected
from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.alpaca import create_app
from portico.models import OrderStatus
from portico.sdk import ConnectorContext
from portico.store import Database
from portico.trading import (
    IdempotencyConflict,
    OrderNotReplaceable,
    OrderRecord,
    OrderRejected,
    OrderUpdate,
    TradingService,
)
from tests.core.trading.conftest import Recorder

CREDENTIALS = {"api_key_id": "PKTEST", "api_secret_key": "secret"}
RESTING = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": "1",
    "order_type": "limit",
    "limit_price": "1.00",
    "time_in_force": "gtc",
}


class Stack:
    def __init__(self, running: RunningMock, service: TradingService, recorder: Recorder) -> None:
        self.running = running
        self.service = service
        self.recorder = recorder

    @property
    def venue(self) -> Any:
        return self.running.app.venue

    def patches(self) -> int:
        return sum(1 for e in self.running.app.journal.entries("PATCH") if e.path.startswith("/v2/orders/"))

    async def resting(self, key: str) -> OrderRecord:
        return await self.service.place_order("alpaca", RESTING, idempotency_key=key)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    running = start_mock(create_app(seed=5, start=DEFAULT_START, rate_limit=None))
    clock = FakeClock()
    connector = AlpacaConnector(
        ConnectorContext.for_testing(AlpacaConnector, urls=running.urls, credentials=CREDENTIALS, clock=clock)
    )
    db = Database()
    recorder = Recorder()
    service = TradingService(
        db=db, clock=clock, connectors={"alpaca": connector}, monitor=recorder, audit=recorder
    )
    try:
        yield Stack(running, service, recorder)
    finally:
        await connector.close()
        db.dispose()
        await running.stop()


async def test_replace_is_stored_then_sent_and_links_the_new_order(stack: Stack) -> None:
    service = stack.service
    updates: list[OrderUpdate] = []
    service.on_order_event(updates.append)
    original = await stack.resting("r-1")
    replacement = await service.replace_order(
        "alpaca", original.id, {"limit_price": "1.10", "quantity": 2}, idempotency_key="chg-1"
    )
    # the replacement is the venue's new order; the original is replaced
    new = stack.venue.orders[replacement.venue_order_id]
    assert new.replaces == original.venue_order_id and new.client_order_id == replacement.client_order_id
    assert new.qty == Decimal(2) and new.limit_price == Decimal("1.10")
    assert replacement.status is OrderStatus.NEW and replacement.origin == "replace"
    assert replacement.request.limit_price == Decimal("1.10") and replacement.request.quantity == Decimal(2)
    assert replacement.client_order_id != original.client_order_id
    assert service.get_order(original.id).status is OrderStatus.REPLACED
    assert stack.venue.orders[original.venue_order_id].status == "replaced"
    # stored before it was sent: the intent was published first
    mine = [u for u in updates if u.record.id == replacement.id]
    assert mine[0].event == "intent" and mine[0].record.status is OrderStatus.PENDING_SUBMIT
    assert mine[0].extra == {"replaces": original.id}
    # the same key is the same replace, never a second one
    again = await service.replace_order(
        "alpaca", original.id, {"quantity": "2", "limit_price": "1.1"}, idempotency_key="chg-1"
    )
    assert again.id == replacement.id and stack.patches() == 1 and len(stack.venue.orders) == 2
    with pytest.raises(IdempotencyConflict, match="limit_price"):
        await service.replace_order("alpaca", original.id, {"limit_price": "1.20"}, idempotency_key="chg-1")
    # the replaced original cannot be replaced again; the replacement can
    with pytest.raises(OrderNotReplaceable, match="replaced order cannot be replaced"):
        await service.replace_order("alpaca", original.id, {"limit_price": "1.20"}, idempotency_key="chg-2")
    second = await service.replace_order(
        "alpaca", replacement.client_order_id, {"limit_price": "1.20"}, idempotency_key="chg-3"
    )
    assert stack.venue.orders[second.venue_order_id].replaces == replacement.venue_order_id
    assert second.request.quantity == Decimal(2) and second.request.limit_price == Decimal("1.20")
    assert service.get_order(replacement.id).status is OrderStatus.REPLACED
    audited = [e for e in stack.recorder.entries if e["action"] == "trading.replace_order"]
    assert [(e["outcome"], e["detail"]["replaces"]) for e in audited] == [
        ("new", original.id),
        ("new", replacement.id),
    ]


async def test_lost_answer_after_the_venue_replaced_is_one_replace_and_no_rejection(stack: Stack) -> None:
    service = stack.service
    original = await stack.resting("r-lost")
    faults = stack.running.app.faults
    # the venue commits the replace and the answer is lost; every order lookup fails for now too
    faults.set(
        [
            {"route": "/v2/orders/*", "method": "PATCH", "kind": "drop_after", "times": 1},
            {"route": "/v2/orders*", "method": "GET", "kind": "error", "status": 503},
        ]
    )
    replacement = await service.replace_order(
        "alpaca", original.id, {"limit_price": "1.05"}, idempotency_key="chg-lost"
    )
    assert replacement.status is OrderStatus.UNKNOWN and replacement.reject_reason is None
    assert stack.patches() == 1 and len(stack.venue.orders) == 2
    assert service.get_order(original.id).status is OrderStatus.NEW
    # while its outcome is unknown: the same key answers the same intent, another replace is refused
    again = await service.replace_order(
        "alpaca", original.id, {"limit_price": "1.05"}, idempotency_key="chg-lost"
    )
    assert again.id == replacement.id
    with pytest.raises(OrderNotReplaceable, match="not known yet"):
        await service.replace_order(
            "alpaca", original.id, {"limit_price": "1.06"}, idempotency_key="chg-other"
        )
    # a resolver round while the venue still cannot be asked changes nothing and sends nothing
    assert await service.resolve_pending("alpaca") == 0
    assert service.get_order(replacement.id).status is OrderStatus.UNKNOWN and stack.patches() == 1
    # the venue answers again: the look finds the new order, linked to the old
    faults.clear()
    assert await service.resolve_pending("alpaca") == 1
    resolved = service.get_order(replacement.id)
    new = stack.venue.orders[resolved.venue_order_id]
    assert resolved.status is OrderStatus.NEW and new.replaces == original.venue_order_id
    assert new.limit_price == Decimal("1.05")
    assert service.get_order(original.id).status is OrderStatus.REPLACED
    assert stack.patches() == 1 and len(stack.venue.orders) == 2
    assert [e for e in stack.recorder.entries if e["outcome"] == "rejected"] == []


async def test_lost_answer_resolved_through_the_old_orders_replaced_by(stack: Stack) -> None:
    """A venue that does not keep the replace's client order id: the old order names its replacement."""
    service = stack.service
    original = await stack.resting("r-by")
    stack.running.app.faults.set(
        [
            {"route": "/v2/orders/*", "method": "PATCH", "kind": "drop_after", "times": 1},
            {"route": "/v2/orders/*", "method": "GET", "kind": "error", "status": 503},
            {
                "route": "/v2/orders:by_client_order_id",
                "kind": "error",
                "status": 404,
                "times": 1,
                "body": {"code": 40410000, "message": "order not found"},
            },
        ]
    )
    replacement = await service.replace_order(
        "alpaca", original.id, {"quantity": "3"}, idempotency_key="chg-by"
    )
    assert replacement.status is OrderStatus.UNKNOWN
    stack.running.app.faults.set(
        [
            {
                "route": "/v2/orders:by_client_order_id",
                "kind": "error",
                "status": 404,
                "body": {"code": 40410000, "message": "order not found"},
            }
        ]
    )
    assert await service.resolve_pending("alpaca") == 1
    resolved = service.get_order(replacement.id)
    assert resolved.status is OrderStatus.NEW
    assert stack.venue.orders[resolved.venue_order_id].replaces == original.venue_order_id
    assert service.get_order(original.id).status is OrderStatus.REPLACED and stack.patches() == 1


async def test_replace_of_a_finished_order_is_refused_before_anything_is_sent(stack: Stack) -> None:
    service = stack.service
    filled = await service.place_order(
        "alpaca", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="r-filled"
    )
    assert filled.status is OrderStatus.FILLED
    with pytest.raises(OrderNotReplaceable, match="is filled: a filled order cannot be replaced") as refused:
        await service.replace_order("alpaca", filled.id, {"quantity": "2"}, idempotency_key="chg-f")
    assert refused.value.field == "order_id" and refused.value.status is OrderStatus.FILLED
    cancelled = await stack.resting("r-cancel")
    await service.cancel_order("alpaca", cancelled.id)
    assert service.get_order(cancelled.id).status is OrderStatus.CANCELED
    with pytest.raises(OrderNotReplaceable, match="canceled"):
        await service.replace_order("alpaca", cancelled.id, {"quantity": "2"}, idempotency_key="chg-c")
    assert stack.patches() == 0 and service.repo.by_key("alpaca", "chg-f") is None


async def test_venue_refusal_rejects_the_replace_and_the_original_stands_refreshed(stack: Stack) -> None:
    service = stack.service
    original = await stack.resting("r-behind")
    stack.venue.cancel_order(original.venue_order_id)  # cancelled at the venue behind the service's back
    with pytest.raises(OrderRejected) as rejected:
        await service.replace_order("alpaca", original.id, {"limit_price": "1.02"}, idempotency_key="chg-r")
    assert rejected.value.record.status is OrderStatus.REJECTED and rejected.value.record.origin == "replace"
    assert service.get_order(original.id).status is OrderStatus.CANCELED
    assert stack.patches() == 1 and len(stack.venue.orders) == 1
    # the same key replays the refusal, nothing is sent again
    with pytest.raises(OrderRejected):
        await service.replace_order("alpaca", original.id, {"limit_price": "1.02"}, idempotency_key="chg-r")
    assert stack.patches() == 1


async def test_bad_changes_are_a_clear_error(stack: Stack) -> None:
    service = stack.service
    original = await stack.resting("r-bad")
    for changes, where in (
        ({}, "changes"),
        ({"quantity": "-1"}, "changes.quantity"),
        ({"symbol": "MSFT"}, "changes.symbol"),
        ({"limit_price": "abc"}, "changes.limit_price"),
    ):
        with pytest.raises(PayloadRejected) as bad:
            await service.replace_order("alpaca", original.id, changes, idempotency_key="chg-bad")
        assert bad.value.field == where, (changes, bad.value)
    assert stack.patches() == 0 and service.repo.by_key("alpaca", "chg-bad") is None
