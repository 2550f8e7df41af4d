"""Order replace through the trading service, against the Alpaca mock (which replaces by a new order
linked to the old one): stored before it is sent, one replace per key, lost answers resolved by looking
at the venue, replaces of finished orders refused."""

from __future__ import annotations

import contextlib
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
from tests.core.trading.test_postgres import pg_url  # noqa: F401 (the fixture)

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


@contextlib.asynccontextmanager
async def alpaca_stack(url: str | None = None) -> AsyncIterator[Stack]:
    running = start_mock(create_app(seed=5, start=DEFAULT_START, rate_limit=None))
    clock = FakeClock()
    connector = AlpacaConnector(
        ConnectorContext.for_testing(AlpacaConnector, urls=running.urls, credentials=CREDENTIALS, clock=clock)
    )
    db = Database(url) if url else Database()
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


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with alpaca_stack() as running:
        yield running


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


async def test_a_lost_replace_is_resolved_by_recovery_after_a_restart(stack: Stack) -> None:
    service = stack.service
    original = await stack.resting("r-restart")
    stack.running.app.faults.set(
        [
            {"route": "/v2/orders/*", "method": "PATCH", "kind": "drop_after", "times": 1},
            {"route": "/v2/orders*", "method": "GET", "kind": "error", "status": 503},
        ]
    )
    replacement = await service.replace_order(
        "alpaca", original.id, {"limit_price": "1.07"}, idempotency_key="chg-restart"
    )
    assert replacement.status is OrderStatus.UNKNOWN
    stack.running.app.faults.clear()
    # a new process on the same store: recovery resolves the replace by looking, before new orders
    restarted = TradingService(db=service.db, clock=service.clock, connectors=service.connectors)
    report = await restarted.recover("alpaca")
    assert report.resolved == [replacement.id] and report.complete
    resolved = restarted.get_order(replacement.id)
    assert resolved.status is OrderStatus.NEW
    assert stack.venue.orders[resolved.venue_order_id].replaces == original.venue_order_id
    assert restarted.get_order(original.id).status is OrderStatus.REPLACED
    assert stack.patches() == 1 and len(stack.venue.orders) == 2


async def test_a_venue_that_changes_in_place_keeps_one_order_at_the_venue() -> None:
    """E*TRADE keeps the order id across a change: the replacement takes it over from the original."""
    from portico.mocks.etrade import create_app as etrade_app
    from tests.connectors.etrade.conftest import make_connector as etrade_connector

    running = start_mock(etrade_app(seed=5, start=DEFAULT_START))
    clock = FakeClock(DEFAULT_START)
    connector = etrade_connector(running, clock=clock)
    db = Database()
    service = TradingService(db=db, clock=clock, connectors={"etrade": connector})
    try:
        original = await service.place_order(
            "etrade", {**RESTING, "symbol": "IBM", "quantity": "2"}, idempotency_key="e-1"
        )
        assert original.status is OrderStatus.NEW and original.venue_order_id is not None
        replacement = await service.replace_order(
            "etrade", original.id, {"limit_price": "1.10", "quantity": "5"}, idempotency_key="e-chg-1"
        )
        assert replacement.venue_order_id == original.venue_order_id
        assert replacement.status is OrderStatus.NEW
        assert (replacement.request.limit_price, replacement.request.quantity) == (
            Decimal("1.10"),
            Decimal(5),
        )
        before = service.get_order(original.id)
        assert before.status is OrderStatus.REPLACED and before.venue_order_id is None
        # the venue's id names one order here: lookups and polls reach the replacement
        assert service.get_order(original.venue_order_id, system_id="etrade").id == replacement.id
        await service.poll("etrade")
        assert service.get_order(replacement.id).status is OrderStatus.NEW
        assert len(await connector.list_orders(status="all")) == 1
        # cancelling the replacement cancels the venue's order
        await service.cancel_order("etrade", replacement.id)
        assert (await connector.get_order(replacement.venue_order_id)).status is OrderStatus.CANCELED
    finally:
        await connector.close()
        db.dispose()
        await running.stop()


FACADE_CONFIG = {
    "systems": {
        "alpaca_a": {
            "type": "brokerage",
            "connector": "alpaca",
            "mock": True,
            "mock_seed": 3,
            "authentication": {
                "type": "api_key_pair",
                "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
            },
        }
    }
}


async def test_the_facade_replaces_through_the_trading_service() -> None:
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    async with AsyncIntegration(FACADE_CONFIG, plugins=PluginManager()) as integration:
        cid = await integration.place_external_order("alpaca_a", RESTING, idempotency_key="f-1")
        new_cid = await integration.replace_external_order(
            "alpaca_a", cid, {"limit_price": "1.03"}, idempotency_key="f-chg-1"
        )
        again = await integration.replace_external_order("alpaca_a", cid, {"limit_price": "1.030"}, "f-chg-1")
        assert again == new_cid != cid
        status = await integration.get_external_order_status("alpaca_a", new_cid)
        assert status.limit_price == Decimal("1.03") and status.status is OrderStatus.NEW
        assert (await integration.get_external_order_status("alpaca_a", cid)).status is OrderStatus.REPLACED
        venue = integration.systems["alpaca_a"].mock.app.venue
        original = integration.trading.get_order(cid, system_id="alpaca_a")
        assert venue.orders[status.order_id].replaces == original.venue_order_id and len(venue.orders) == 2
        with pytest.raises(PayloadRejected, match="changes must be a mapping"):
            await integration.replace_external_order("alpaca_a", new_cid, "limit_price=2")  # type: ignore[arg-type]


def test_the_sync_facade_replaces_too() -> None:
    from portico import Integration
    from portico.plugins import PluginManager

    with Integration(FACADE_CONFIG, plugins=PluginManager()) as integration:
        cid = integration.place_external_order("alpaca_a", RESTING, idempotency_key="s-1")
        new_cid = integration.replace_external_order(
            "alpaca_a", cid, {"quantity": "3"}, idempotency_key="s-chg"
        )
        assert integration.replace_external_order("alpaca_a", cid, {"quantity": 3}, "s-chg") == new_cid
        assert integration.get_external_order_status("alpaca_a", new_cid).quantity == Decimal(3)
        assert integration.get_external_order_status("alpaca_a", cid).status is OrderStatus.REPLACED
        with pytest.raises(OrderNotReplaceable, match="replaced"):
            integration.replace_external_order("alpaca_a", cid, {"quantity": "4"}, idempotency_key="s-chg-2")


@pytest.mark.xfail(
    strict=False,
    reason=(
        "known bug, about 1 run in 3: the runtime's Schwab order stream reads the replacement"
        " (GET .../orders/<new id>) while the replace's answer is lost, the fault's one allowed read goes"
        " to that read instead of the connector's, and recovery then leaves the replace undecided"
        " (repeated passes for 20 s do not resolve it); cause not found yet"
    ),
)
async def test_a_lost_schwab_replace_is_resolved_through_the_old_orders_link() -> None:
    """Schwab answers a replace with the new order's id in a header and has no client order ids: a lost
    answer is resolved from the old order, which names its replacement."""
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    system = {
        "type": "brokerage",
        "connector": "schwab",
        "mock": True,
        "mock_seed": 5,
        "authentication": {
            "type": "schwab_oauth2",
            "credentials": {"client_id": "demo-app-key", "client_secret": "demo-app-secret"},
            "options": {"auto_login": True},
        },
    }
    async with AsyncIntegration({"systems": {"schwab": system}}, plugins=PluginManager()) as integration:
        trading = integration.trading
        app = integration.systems["schwab"].mock.app
        cid = await integration.place_external_order("schwab", RESTING, idempotency_key="sw-1")
        original = trading.get_order(cid, system_id="schwab")
        assert original.status is OrderStatus.ACCEPTED and original.venue_order_id is not None
        orders = "/trader/v1/accounts/*/orders/*"
        app.faults.set(
            [
                {"route": orders, "method": "PUT", "kind": "drop_after", "times": 1},
                # the connector reads the old order before the change; every read after it fails
                {"route": orders, "method": "GET", "kind": "error", "status": 503, "skip": 1},
            ]
        )
        new_cid = await integration.replace_external_order("schwab", cid, {"limit_price": "1.04"}, "sw-chg")
        replacement = trading.get_order(new_cid, system_id="schwab")
        assert replacement.status is OrderStatus.UNKNOWN and replacement.reject_reason is None
        app.faults.clear()
        assert await trading.resolve_pending("schwab") == 1
        resolved = trading.get_order(replacement.id)
        assert resolved.status in (OrderStatus.ACCEPTED, OrderStatus.NEW)
        assert resolved.venue_order_id not in (None, original.venue_order_id)
        assert resolved.request.limit_price == Decimal("1.04")
        assert trading.get_order(original.id).status is OrderStatus.REPLACED
        # the venue committed one replace (the transport repeats a dropped PUT, and the venue refuses the
        # repeat because the order is replaced already: that refusal was not taken for the answer)
        puts = app.journal.entries("PUT")
        assert [e for e in puts if e.status is None or e.status < 400] == puts[:1]
        assert [e.status for e in puts[1:]] in ([], [400])


async def test_a_replace_is_refused_when_it_cannot_be_routed_safely(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portico.errors import ConfigurationError, NotSupported, OutcomeUnknown
    from tests.core.trading.fakes import FakeBroker, FakeVenue

    service = stack.service
    original = await stack.resting("r-guard")
    # a key already used by a placement is not a replace's key
    with pytest.raises(IdempotencyConflict, match="order_id"):
        await service.replace_order("alpaca", original.id, {"quantity": "2"}, idempotency_key="r-guard")
    # an order whose own outcome is unknown has nothing at the venue to replace yet
    faults = stack.running.app.faults
    faults.set(
        [
            {"route": "/v2/orders", "method": "POST", "kind": "drop_after", "times": 1},
            {"route": "/v2/orders*", "method": "GET", "kind": "error", "status": 503},
        ]
    )
    lost = await stack.resting("r-guard-lost")
    assert lost.status is OrderStatus.UNKNOWN
    with pytest.raises(OutcomeUnknown, match="has no venue id yet"):
        await service.replace_order("alpaca", lost.id, {"quantity": "2"}, idempotency_key="chg-guard-lost")
    faults.clear()
    # live money without the opt-in
    connector = service.connectors["alpaca"]
    live = connector.context.environment.model_copy(update={"live_money": True})
    monkeypatch.setattr(connector.context, "environment", live)
    with pytest.raises(ConfigurationError, match="trades real money"):
        await service.replace_order(
            "alpaca", original.id, {"quantity": "2"}, idempotency_key="chg-guard-live"
        )
    monkeypatch.undo()
    assert stack.patches() == 0
    for key in ("chg-guard-lost", "chg-guard-live"):
        assert service.repo.by_key("alpaca", key) is None
    # a connector without replace
    fake = TradingService(db=Database(), connectors={"fake": FakeBroker.create(FakeVenue(), "fake")})
    with pytest.raises(NotSupported, match="replace_order"):
        await fake.replace_order("fake", "any", {"quantity": "2"}, idempotency_key="chg-fake")
    fake.db.dispose()


@pytest.mark.postgres
async def test_replace_and_its_recovery_on_postgres(pg_url: str) -> None:  # noqa: F811
    # one store, a fresh venue per scenario (the orders of the first are not at the second's venue)
    async with alpaca_stack(pg_url) as stack:
        await test_replace_is_stored_then_sent_and_links_the_new_order(stack)
    async with alpaca_stack(pg_url) as stack:
        await test_a_lost_replace_is_resolved_by_recovery_after_a_restart(stack)


async def test_concurrent_replaces_of_one_order_are_one_replace(stack: Stack) -> None:
    import asyncio

    service = stack.service
    original = await stack.resting("r-race")
    results = await asyncio.gather(
        *(
            service.replace_order(
                "alpaca", original.id, {"limit_price": f"1.0{i}"}, idempotency_key=f"race-{i}"
            )
            for i in range(1, 4)
        ),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, OrderRecord)]
    refused = [r for r in results if isinstance(r, OrderNotReplaceable)]
    assert len(done) == 1 and len(refused) == 2, results
    assert stack.patches() == 1 and len(stack.venue.orders) == 2
    assert service.get_order(original.id).status is OrderStatus.REPLACED


async def test_an_order_replaced_elsewhere_is_no_false_adoption(stack: Stack) -> None:
    """Replaced at the venue by someone else (the broker's own app): the venue refuses this replace and
    the order the original names as its replacement is not this one's."""
    service = stack.service
    original = await stack.resting("r-elsewhere")
    outside = stack.venue.replace_order(original.venue_order_id, limit_price=Decimal("1.50"))
    with pytest.raises(OrderRejected, match="was replaced by venue order") as rejected:
        await service.replace_order(
            "alpaca", original.id, {"limit_price": "1.02"}, idempotency_key="chg-else"
        )
    assert outside.id in str(rejected.value.record.reject_reason)
    assert rejected.value.record.venue_order_id is None
    assert service.get_order(original.id).status is OrderStatus.REPLACED
    assert stack.patches() == 1 and len(stack.venue.orders) == 2


async def test_a_replace_that_never_reached_the_venue_is_concluded_after_the_submit_timeout(
    stack: Stack,
) -> None:
    service = stack.service
    original = await stack.resting("r-never")
    # the connection closes before the venue handles the replace: nothing happened there
    stack.running.app.faults.set(
        [{"route": "/v2/orders/*", "method": "PATCH", "kind": "drop_before", "times": 1}]
    )
    replacement = await service.replace_order(
        "alpaca", original.id, {"quantity": "4"}, idempotency_key="chg-never"
    )
    assert replacement.status is OrderStatus.UNKNOWN
    # within the submit timeout the look is not conclusive: the venue may still act
    assert await service.resolve_pending("alpaca") == 0
    assert service.get_order(replacement.id).status is OrderStatus.UNKNOWN
    service.clock.advance(service.config.submit_timeout)  # type: ignore[attr-defined]
    assert await service.resolve_pending("alpaca") == 1
    concluded = service.get_order(replacement.id)
    assert concluded.status is OrderStatus.REJECTED and "did not land" in str(concluded.reject_reason)
    assert service.get_order(original.id).status is OrderStatus.NEW
    assert len(stack.venue.orders) == 1  # never sent again
    # the order can be changed again now
    again = await service.replace_order(
        "alpaca", original.id, {"quantity": "4"}, idempotency_key="chg-never-2"
    )
    assert again.status is OrderStatus.NEW and stack.venue.orders[again.venue_order_id].qty == Decimal(4)
