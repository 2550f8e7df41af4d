"""The Alpaca connector's capabilities against the mock, beyond the conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from portico.errors import AuthError, NotFound, OutcomeUnknown, RateLimited, VenueRejected
from portico.mocks import DEFAULT_START, RunningMock
from portico.models import BarInterval, OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce
from tests.connectors.alpaca.conftest import make_connector


def _limit(cid: str, price: str = "1", symbol: str = "AAPL") -> OrderRequest:
    return OrderRequest(
        symbol=symbol, side=OrderSide.BUY, quantity=Decimal(1), order_type=OrderType.LIMIT,
        limit_price=Decimal(price), time_in_force=TimeInForce.GTC, client_order_id=cid,
    )


async def test_venue_refusals_are_venue_rejected_not_auth_errors(served: Callable[..., RunningMock]) -> None:
    connector = make_connector(served())
    with pytest.raises(VenueRejected) as refused:
        await connector.place_order(OrderRequest(symbol="SPY", side=OrderSide.BUY, quantity=Decimal(100_000)))
    assert refused.value.status_code == 403 and refused.value.venue_code == 40310000
    with pytest.raises(VenueRejected) as unknown:
        await connector.place_order(OrderRequest(symbol="TOOLONGX", side=OrderSide.BUY, quantity=Decimal(1)))
    assert unknown.value.status_code == 422
    with pytest.raises(NotFound):
        await connector.cancel_order("00000000-0000-4000-8000-000000000000")
    await connector.close()


async def test_placing_the_same_client_order_id_twice_returns_the_first_order(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    first = await connector.place_order(_limit("same-1"))
    again = await connector.place_order(_limit("same-1"))
    assert again.order_id == first.order_id and len(running.app.venue.orders) == 1
    await connector.close()


async def test_unresolvable_placement_is_outcome_unknown_never_rejected(served: Callable[..., RunningMock]) -> None:
    running = served(
        faults=[
            {"route": "/v2/orders", "method": "POST", "kind": "drop_after"},
            {"route": "/v2/orders:by_client_order_id", "kind": "error", "status": 503},
        ]
    )
    connector = make_connector(running)
    with pytest.raises(OutcomeUnknown) as unknown:
        await connector.place_order(_limit("lost-1"))
    assert unknown.value.idempotency_key == "lost-1"
    assert len(running.app.venue.orders) == 1
    assert running.app.journal.count("POST", "/v2/orders") == 1  # never sent again blindly
    running.app.faults.clear()
    assert (await connector.get_order_by_client_id("lost-1")).status is OrderStatus.NEW
    await connector.close()


async def test_replace_with_a_lost_answer_resolves_through_replaced_by(served: Callable[..., RunningMock]) -> None:
    running = served(faults=[{"route": "/v2/orders/*", "method": "PATCH", "kind": "drop_after"}])
    connector = make_connector(running)
    placed = await connector.place_order(_limit("replace-1"))
    new = await connector.replace_order(placed.order_id, limit_price=Decimal("1.25"), quantity=Decimal(2))
    assert new.replaces == placed.order_id and new.limit_price == Decimal("1.25") and new.quantity == 2
    assert (await connector.get_order(placed.order_id)).status is OrderStatus.REPLACED
    await connector.close()


async def test_listing_orders_pages_past_500(served: Callable[..., RunningMock]) -> None:
    running = served(starting_cash=10_000_000)
    venue = running.app.venue
    for i in range(520):
        venue.place_order(symbol="MSFT" if i % 2 else "AAPL", side="buy", qty=1, order_type="limit", limit_price=1, time_in_force="gtc", client_order_id=f"o{i}")
        if i % 3 == 0:  # some orders share a timestamp, as they can at the venue
            venue.clock.advance(1)
    connector = make_connector(running)
    everything = await connector.list_orders(status="all")
    assert len(everything) == 520 and len({o.order_id for o in everything}) == 520
    assert everything[0].client_order_id == "o519"  # newest first
    msft = await connector.list_orders(symbols=["msft"], limit=30)
    assert len(msft) == 30 and {o.symbol for o in msft} == {"MSFT"}
    since = DEFAULT_START + timedelta(seconds=169)
    recent = await connector.list_orders(status="open", since=since)
    expected = [o.client_order_id for o in venue.orders.values() if o.submitted_at and o.submitted_at > since]
    assert [o.client_order_id for o in recent] == expected[::-1] and len(expected) == 12
    await connector.close()


async def test_executions_include_partial_fills(served: Callable[..., RunningMock]) -> None:
    running = served(partial_fill_size=4)
    connector = make_connector(running)
    order = await connector.place_order(OrderRequest(symbol="IBM", side=OrderSide.BUY, quantity=Decimal(10), client_order_id="px"))
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled_quantity == 4
    running.app.clock.advance(1)
    running.app.clock.advance(1)
    fills = await connector.get_executions(order_id=order.order_id)
    assert [f.quantity for f in fills] == [4, 4, 2]
    assert (await connector.get_order(order.order_id)).status is OrderStatus.FILLED
    assert await connector.get_executions(symbol="AAPL") == []
    positions = await connector.get_positions()
    assert [(p.symbol, p.quantity) for p in positions] == [("IBM", Decimal(10))]
    account = await connector.get_account()
    assert account.cash < Decimal(100_000) and account.status == "ACTIVE"
    await connector.close()


async def test_market_data(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    now = running.app.clock.now()
    latest = await connector.get_bars("aapl", BarInterval.MIN_1, limit=50)
    assert len(latest) == 50 and latest[-1].timestamp <= now
    assert [b.timestamp for b in latest] == sorted(b.timestamp for b in latest)
    daily = await connector.get_bars("AAPL", BarInterval.DAY, start=now - timedelta(days=60), limit=10)
    assert len(daily) == 10 and daily[0].timestamp >= now - timedelta(days=60)
    quotes = await connector.get_quotes("MSFT", start=now - timedelta(minutes=10), end=now)  # every 5 s, both ends
    assert len(quotes) == 121 and all(q.bid_price < q.ask_price for q in quotes)
    trades = await connector.get_trades("MSFT", start=now - timedelta(days=10), limit=12_000)
    assert len(trades) == 12_000 and len({t.timestamp for t in trades}) == 12_000
    snaps = await connector.get_snapshots(["AAPL", "MSFT"])
    assert set(snaps) == {"AAPL", "MSFT"} and snaps["AAPL"].daily_bar is not None
    found = await connector.search_instruments("ms")
    assert found[0].symbol == "MSFT" and "alpaca" in found[0].venue_ids
    await connector.close()


async def test_auth_and_rate_limit_errors(served: Callable[..., RunningMock]) -> None:
    running = served(keys={"PKTEST": "other"})
    connector = make_connector(running)
    with pytest.raises(AuthError):
        await connector.get_account()
    await connector.close()
    limited = make_connector(served(rate_limit=3))
    for _ in range(3):
        await limited.get_account()
    with pytest.raises(RateLimited):
        await limited.get_account()
    await limited.close()
