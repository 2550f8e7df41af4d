"""Order tracking: one state machine, duplicates ignored, out-of-order events, history, callbacks."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from portico.models import Execution, Order, OrderEvent, OrderStatus
from portico.trading import Observation, TradingService, advance
from tests.core.trading.fakes import FakeVenue

S = OrderStatus


def obs(status: OrderStatus, filled: str | None = None, **kw) -> Observation:
    return Observation(
        status=status,
        event=status.value,
        source="stream",
        filled_quantity=None if filled is None else Decimal(filled),
        **kw,
    )


def test_fill_before_acknowledgement_is_kept() -> None:
    t = advance(
        S.UNKNOWN, Decimal(0), None, Decimal(10), obs(S.PARTIALLY_FILLED, "4", average_fill_price=Decimal(5))
    )
    assert (t.status, t.filled_quantity) == (S.PARTIALLY_FILLED, Decimal(4))
    late_ack = advance(t.status, t.filled_quantity, t.average_fill_price, Decimal(10), obs(S.NEW, "0"))
    assert late_ack.status is S.PARTIALLY_FILLED and late_ack.filled_quantity == Decimal(4)
    assert not late_ack.status_applied and not late_ack.changed


def test_filled_quantity_never_decreases_and_terminal_never_moves() -> None:
    t = advance(S.PARTIALLY_FILLED, Decimal(6), Decimal(5), Decimal(10), obs(S.PARTIALLY_FILLED, "4"))
    assert t.filled_quantity == Decimal(6) and t.average_fill_price == Decimal(5)
    done = advance(S.FILLED, Decimal(10), Decimal(5), Decimal(10), obs(S.CANCELED, "10"))
    assert done.status is S.FILLED and not done.status_applied
    # a fill report that completes the quantity makes the order filled whatever status it carries
    full = advance(S.NEW, Decimal(0), None, Decimal(10), obs(S.PARTIALLY_FILLED, "10"))
    assert full.status is S.FILLED


def test_local_statuses_never_override_venue_news_and_stale_partials_do_not_undo_cancel() -> None:
    t = advance(S.NEW, Decimal(0), None, Decimal(10), obs(S.UNKNOWN))
    assert t.status is S.NEW and not t.status_applied
    stale = advance(S.PENDING_CANCEL, Decimal(4), None, Decimal(10), obs(S.PARTIALLY_FILLED, "4"))
    assert stale.status is S.PENDING_CANCEL
    more = advance(S.PENDING_CANCEL, Decimal(4), None, Decimal(10), obs(S.PARTIALLY_FILLED, "6"))
    assert more.status is S.PARTIALLY_FILLED and more.filled_quantity == Decimal(6)


def _event(
    venue: FakeVenue,
    cid: str,
    vid: str,
    status: OrderStatus,
    filled: str,
    event_id: str,
    execution: Execution | None = None,
) -> OrderEvent:
    order = Order(
        order_id=vid,
        client_order_id=cid,
        symbol="AAPL",
        side="buy",
        order_type="limit",
        time_in_force="day",
        status=status,
        quantity=Decimal(10),
        filled_quantity=Decimal(filled),
        average_fill_price=Decimal("99") if Decimal(filled) else None,
    )
    return OrderEvent(
        event=status.value, order=order, timestamp=venue.clock.now(), event_id=event_id, execution=execution
    )


async def test_events_out_of_order_and_duplicates(service: TradingService, venue: FakeVenue) -> None:
    venue.fill = "none"
    venue.script = ["drop"]
    venue.lookup_failures = 100
    record = await service.place_order(
        "fake",
        {"symbol": "AAPL", "side": "buy", "quantity": "10", "order_type": "limit", "limit_price": "99"},
        idempotency_key="k",
    )
    assert record.status is S.UNKNOWN
    vid, cid = venue.by_cid[record.client_order_id], record.client_order_id
    fill = Execution(
        execution_id="X1",
        order_id=vid,
        client_order_id=cid,
        account_id="ACC-1",
        symbol="AAPL",
        side="buy",
        quantity=Decimal(10),
        price=Decimal(99),
        commission=Decimal("1.5"),
        fees=Decimal("0.1"),
        executed_at=venue.clock.now(),
    )
    updates = []
    service.on_order_event(updates.append)
    # the fill arrives first, then a duplicate of it, then the (late) acknowledgement
    await service.apply_event("fake", _event(venue, cid, vid, S.FILLED, "10", "e-fill", fill))
    await service.apply_event("fake", _event(venue, cid, vid, S.FILLED, "10", "e-fill", fill))
    await service.apply_event("fake", _event(venue, cid, vid, S.NEW, "0", "e-new"))
    after = service.get_order(record.id)
    assert after.status is S.FILLED and after.filled_quantity == Decimal(10)
    assert after.venue_order_id == vid
    history = service.order_history(record.id)
    assert [h.event_id for h in history if h.event_id] == ["e-fill", "e-new"]
    assert history[-1].status_applied is False and "late" in (history[-1].note or "")
    assert [u.event for u in updates] == ["filled", "new"]
    assert len(service.repo.executions(system="fake")) == 1


async def test_events_for_an_order_not_yet_known_are_held_until_its_venue_id_is(
    service: TradingService, venue: FakeVenue
) -> None:
    venue.fill = "none"
    early = _event(venue, "", "V000001", S.PARTIALLY_FILLED, "3", "early")
    early = early.model_copy(update={"order": early.order.model_copy(update={"client_order_id": None})})
    assert await service.apply_event("fake", early) is None
    record = await service.place_order(
        "fake", {"symbol": "AAPL", "side": "buy", "quantity": "10"}, idempotency_key="k"
    )
    assert record.venue_order_id == "V000001"
    after = service.get_order(record.id)
    assert after.status is S.PARTIALLY_FILLED and after.filled_quantity == Decimal(3)


async def test_stream_drives_tracking_and_iterators_see_every_system(make_service, clock) -> None:
    from tests.core.trading.fakes import FakeBroker

    venues = {name: FakeVenue(clock=clock, fill="none", seed=i) for i, name in enumerate(("a", "b"))}
    service = make_service({name: FakeBroker.create(v, name) for name, v in venues.items()})
    seen: list[tuple[str, OrderStatus]] = []

    async def consume() -> None:
        async for update in service.order_events():
            seen.append((update.system, update.status))
            if sum(1 for _, s in seen if s is S.FILLED) == 2:
                return

    consumer = asyncio.create_task(consume())
    await service.start()
    try:
        records = [
            await service.place_order(
                name, {"symbol": "AAPL", "side": "buy", "quantity": "2"}, idempotency_key="k"
            )
            for name in venues
        ]
        for name, record in zip(venues, records, strict=True):
            venues[name].fill_order(record.venue_order_id, Decimal(1))
        venues["a"].disconnect_streams()
        for name, record in zip(venues, records, strict=True):
            venues[name].fill_order(record.venue_order_id, Decimal(1))
        await asyncio.wait_for(consumer, 5)
    finally:
        await service.stop()
    assert {(s, st) for s, st in seen if st is S.FILLED} == {("a", S.FILLED), ("b", S.FILLED)}
    for record in records:
        assert service.get_order(record.id).filled_quantity == Decimal(2)


async def test_a_system_attached_after_start_is_followed(make_service, clock) -> None:
    from tests.core.trading.fakes import FakeBroker

    first, late = FakeVenue(clock=clock, fill="none"), FakeVenue(clock=clock, fill="none", seed=1)
    connectors = {"a": FakeBroker.create(first, "a")}
    service = make_service(connectors)
    await service.start()
    try:
        connectors["b"] = FakeBroker.create(late, "b")
        assert (await service.attach("b")).complete
        record = await service.place_order(
            "b", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="k"
        )
        filled = asyncio.Event()
        service.on_order_event(lambda u: filled.set() if u.status is S.FILLED else None, systems=["b"])
        late.fill_order(record.venue_order_id)
        await asyncio.wait_for(filled.wait(), 5)
    finally:
        await service.stop()
    assert service.get_order(record.id).status is S.FILLED


def _venue_timeline(draw, quantity: int, timestamps: bool) -> list[Observation]:
    """A venue's life of one order as snapshots (status, filled), timestamped or not. Without
    timestamps a refused cancel cannot be told from stale news, so the venue never refuses one."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 5, 15, tzinfo=UTC)
    status, filled, out = S.NEW, 0, []
    if draw(st.booleans()):
        out.append((S.ACCEPTED, 0))
    out.append((S.NEW, 0))
    while status not in {S.FILLED, S.CANCELED, S.EXPIRED}:
        moves = ["fill", "expire"]
        moves += ["cancel_ok", "fill"] if status is S.PENDING_CANCEL else ["cancel"]
        if status is S.PENDING_CANCEL and timestamps:
            moves.append("cancel_refused")
        move = draw(st.sampled_from(moves))
        if move == "fill":
            filled += draw(st.integers(1, quantity - filled))
            if filled == quantity:
                status = S.FILLED
            elif status is not S.PENDING_CANCEL:
                status = S.PARTIALLY_FILLED
        elif move == "expire":
            status = S.EXPIRED
        elif move == "cancel":
            status = S.PENDING_CANCEL
        elif move == "cancel_ok":
            status = S.CANCELED
        else:
            status = S.PARTIALLY_FILLED if filled else S.NEW
        out.append((status, filled))
        if draw(st.integers(0, 4)) == 0:
            break  # the order is still live when we stop looking
    return [
        Observation(
            status=s,
            event=s.value,
            source="stream",
            filled_quantity=Decimal(f),
            event_at=t0 + timedelta(seconds=i) if timestamps else None,
        )
        for i, (s, f) in enumerate(out)
    ]


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_arrival_order_with_duplicates_ends_at_the_venues_last_word(data) -> None:
    quantity = data.draw(st.integers(1, 10))
    timeline = _venue_timeline(data.draw, quantity, data.draw(st.booleans()))
    arrivals = data.draw(
        st.permutations(timeline + data.draw(st.lists(st.sampled_from(timeline), max_size=5)))
    )
    status, filled, avg, status_at = S.UNKNOWN, Decimal(0), None, None
    seen_filled = []
    for obs in arrivals:
        t = advance(status, filled, avg, Decimal(quantity), obs, status_at)
        status, filled, avg, status_at = t.status, t.filled_quantity, t.average_fill_price, t.status_at
        seen_filled.append(filled)
    last = timeline[-1]
    assert (status, filled) == (last.status, last.filled_quantity)
    assert seen_filled == sorted(seen_filled)
