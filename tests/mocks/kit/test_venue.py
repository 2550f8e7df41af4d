"""The simulated venue: order lifecycle, matching, accounting."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portico.mocks import DEFAULT_START, MockClock, SimulatedVenue, VenueError, VenueEvent


@pytest.fixture
def venue() -> SimulatedVenue:
    return SimulatedVenue(seed=7, clock=MockClock())


def _future_prices(venue: SimulatedVenue, symbol: str, minutes: int) -> list[Decimal]:
    now = venue.clock.now()
    return [Decimal(str(venue.data.price(symbol, now + timedelta(minutes=m)))) for m in range(1, minutes + 1)]


def test_market_order_fills_at_the_simulated_price_and_updates_the_account(venue: SimulatedVenue) -> None:
    price = venue.price("AAPL")
    order = venue.place_order(symbol="AAPL", side="buy", qty=Decimal(10))
    assert order.status == "filled"
    assert order.filled_avg_price == price
    position = venue.get_position("AAPL")
    assert position.qty == 10 and position.avg_entry_price == price
    assert venue.balances()["cash"] == Decimal(100_000) - 10 * price
    assert [f.qty for f in venue.list_fills()] == [Decimal(10)]


def test_limit_order_waits_until_the_price_crosses(venue: SimulatedVenue) -> None:
    events: list[VenueEvent] = []
    venue.subscribe(events.append)
    future = _future_prices(venue, "MSFT", 120)
    limit = min(future)
    assert limit < venue.price("MSFT")
    order = venue.place_order(symbol="MSFT", side="buy", qty=Decimal(5), order_type="limit", limit_price=limit)
    assert order.status == "new"
    crossed_at = future.index(limit) + 1
    venue.clock.advance(60 * (crossed_at - 1))
    assert venue.get_order(order.id).status == "new"
    venue.clock.advance(60)
    filled = venue.get_order(order.id)
    assert filled.status == "filled" and filled.filled_avg_price is not None and filled.filled_avg_price <= limit
    assert [e.event for e in events] == ["new", "fill"]


def test_large_orders_fill_in_chunks_as_time_passes(venue: SimulatedVenue) -> None:
    venue.partial_fill_size = Decimal(100)
    order = venue.place_order(symbol="F", side="buy", qty=Decimal(250))
    assert order.status == "partially_filled" and order.filled_qty == 100
    venue.clock.advance(1)
    assert venue.get_order(order.id).filled_qty == 200
    venue.clock.advance(1)
    done = venue.get_order(order.id)
    assert done.status == "filled" and done.filled_qty == 250
    assert [e.event for e in venue.events] == ["new", "partial_fill", "partial_fill", "fill"]


def test_ioc_and_fok_on_large_orders(venue: SimulatedVenue) -> None:
    venue.partial_fill_size = Decimal(100)
    ioc = venue.place_order(symbol="F", side="buy", qty=Decimal(250), time_in_force="ioc")
    assert (ioc.status, ioc.filled_qty) == ("canceled", Decimal(100))
    fok = venue.place_order(symbol="F", side="buy", qty=Decimal(250), time_in_force="fok")
    assert (fok.status, fok.filled_qty) == ("canceled", Decimal(0))


def test_stop_order_triggers_when_the_price_reaches_it(venue: SimulatedVenue) -> None:
    venue.place_order(symbol="AAPL", side="buy", qty=Decimal(10))
    future = _future_prices(venue, "AAPL", 300)
    stop = min(future) + Decimal("0.01")
    order = venue.place_order(symbol="AAPL", side="sell", qty=Decimal(10), order_type="stop", stop_price=stop)
    assert order.status == "new"
    # the engine samples the price when time moves, so move it minute by minute
    for _ in range(300):
        venue.clock.advance(60)
    done = venue.get_order(order.id)
    assert done.status == "filled" and done.filled_avg_price is not None and done.filled_avg_price <= stop


def test_day_orders_expire_at_the_close(venue: SimulatedVenue) -> None:
    order = venue.place_order(symbol="AAPL", side="buy", qty=Decimal(1), order_type="limit", limit_price=Decimal(1))
    venue.clock.advance(8 * 3600)
    assert venue.get_order(order.id).status == "expired"


def test_cancel_and_replace(venue: SimulatedVenue) -> None:
    order = venue.place_order(symbol="AAPL", side="buy", qty=Decimal(1), order_type="limit", limit_price=Decimal(1), time_in_force="gtc")
    new = venue.replace_order(order.id, qty=Decimal(2), limit_price=Decimal("1.5"))
    old = venue.get_order(order.id)
    assert (old.status, old.replaced_by) == ("replaced", new.id)
    assert (new.replaces, new.qty, new.limit_price) == (order.id, Decimal(2), Decimal("1.50"))
    venue.cancel_order(new.id)
    assert venue.get_order(new.id).status == "canceled"
    with pytest.raises(VenueError) as err:
        venue.cancel_order(new.id)
    assert err.value.reason == "not_cancelable"


def test_refusals(venue: SimulatedVenue) -> None:
    with pytest.raises(VenueError) as err:
        venue.place_order(symbol="SPY", side="buy", qty=Decimal(10_000))
    assert err.value.reason == "insufficient_buying_power"
    venue.place_order(symbol="SPY", side="buy", qty=Decimal(1), client_order_id="abc")
    with pytest.raises(VenueError) as err:
        venue.place_order(symbol="SPY", side="buy", qty=Decimal(1), client_order_id="abc")
    assert err.value.reason == "duplicate_client_order_id"
    with pytest.raises(VenueError) as err:
        venue.get_order("nope")
    assert err.value.reason == "not_found"
    assert venue.get_order_by_client_id("abc").client_order_id == "abc"


def test_closing_positions_and_short_accounting(venue: SimulatedVenue) -> None:
    venue.place_order(symbol="AAPL", side="buy", qty=Decimal(10))
    venue.close_position("AAPL", percentage=Decimal(50))
    assert venue.get_position("AAPL").qty == 5
    venue.place_order(symbol="AAPL", side="sell", qty=Decimal(8))
    short = venue.get_position("AAPL")
    assert short.qty == -3 and short.avg_entry_price == venue.price("AAPL")
    results = venue.close_all_positions()
    assert [symbol for symbol, _ in results] == ["AAPL"]
    assert venue.list_positions() == []


def test_same_seed_same_ids_and_prices() -> None:
    a, b = SimulatedVenue(seed=3), SimulatedVenue(seed=3)
    oa = a.place_order(symbol="IBM", side="buy", qty=Decimal(1))
    ob = b.place_order(symbol="IBM", side="buy", qty=Decimal(1))
    assert (oa.id, oa.filled_avg_price) == (ob.id, ob.filled_avg_price)


def test_trailing_stop_follows_the_high_water_mark(venue: SimulatedVenue) -> None:
    venue.place_order(symbol="AAPL", side="buy", qty=Decimal(5))
    order = venue.place_order(symbol="AAPL", side="sell", qty=Decimal(5), order_type="trailing_stop", trail_percent=Decimal("0.5"), time_in_force="gtc")
    start_hwm = order.hwm
    assert start_hwm is not None and order.stop_price == (start_hwm * Decimal("0.995")).quantize(Decimal("0.01"))
    highs: list[Decimal] = [start_hwm]
    for _ in range(390):
        venue.clock.advance(60)
        current = venue.get_order(order.id)
        if current.status == "filled":
            break
        assert current.hwm is not None
        highs.append(current.hwm)
    assert highs == sorted(highs)  # the mark only ratchets up
    done = venue.get_order(order.id)
    assert done.status == "filled" and done.filled_avg_price is not None
    assert done.filled_avg_price <= (highs[-1] * Decimal("0.995")).quantize(Decimal("0.01"))


def test_opening_orders_wait_for_the_open_and_hours_can_be_enforced() -> None:
    clock = MockClock()
    venue = SimulatedVenue(seed=1, clock=clock, respect_market_hours=True)
    opg = venue.place_order(symbol="IBM", side="buy", qty=Decimal(1), time_in_force="opg")
    assert opg.status == "new"  # the session is already open: it waits for tomorrow's open
    clock.advance(7 * 3600)  # 17:00 New York: closed
    market = venue.place_order(symbol="IBM", side="buy", qty=Decimal(1), time_in_force="gtc")
    assert market.status == "new"  # queued until the session opens
    clock.advance(16 * 3600 + 31 * 60)  # 09:31 next day
    venue.match()
    assert venue.get_order(opg.id).status == "filled"
    assert venue.get_order(market.id).status == "filled"


def test_marked_positions_price_the_book_at_one_instant_as_price_and_lastday_price_do() -> None:
    venue = SimulatedVenue(seed=7, clock=MockClock())
    for symbol in ("MSFT", "AAPL", "TSLA"):
        venue.place_order(symbol=symbol, side="buy", qty=Decimal(3))
    # across the session, after the close, over a weekend and the next session
    for step in (0, 120, 400, 2 * 24 * 60, 3 * 24 * 60 + 30):
        venue.clock.set(DEFAULT_START + timedelta(minutes=step))
        marked = venue.marked_positions()
        assert [p.symbol for p, _, _ in marked] == ["AAPL", "MSFT", "TSLA"]
        for position, price, lastday in marked:
            assert position.qty == Decimal(3)
            assert price == venue.price(position.symbol)
            assert lastday == venue.lastday_price(position.symbol)
            assert price.as_tuple().exponent == -2 and lastday.as_tuple().exponent == -2
