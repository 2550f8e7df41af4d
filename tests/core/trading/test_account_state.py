"""Pre-trade checks on account state kept while the order stream runs: one read per age limit, the
service's own buys held back from the reused buying power, a refusal always confirmed by a fresh read,
and every order read afresh where no order stream is up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.clock import FakeClock
from portico.testing import wait_for_async
from portico.trading import OrderValidationError, TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue

D = Decimal


def _reads(broker: FakeBroker) -> tuple[int, int]:
    return broker.calls.count("get_account"), broker.calls.count("get_latest_quotes")


async def _streaming(service: TradingService) -> None:
    await service.start(recover=False)
    await wait_for_async(lambda: "fake" in service._streams_up, timeout=5)


@pytest.fixture
def cash_venue(clock: FakeClock) -> FakeVenue:
    # AAPL asks 100.05: 1,000 of buying power buys 9 shares, not 10
    return FakeVenue(clock=clock, cash=D(1000), commission=D(0))


async def test_buys_reuse_the_account_and_quote_while_the_stream_runs(make_service, cash_venue) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker})
    try:
        await _streaming(service)
        for i in range(3):
            await service.place_order(
                "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key=f"r{i}"
            )
        assert _reads(broker) == (1, 1)
    finally:
        await service.stop()


async def test_own_buys_are_held_back_and_a_refusal_is_confirmed_by_a_fresh_read(
    make_service, cash_venue
) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker})
    try:
        await _streaming(service)
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "6"}, idempotency_key="a"
        )
        # the snapshot still says 1,000; 600.30 of it is held back for the first buy, so 6 more do not fit:
        # the venue is asked again before refusing, and it agrees (about 400 left after the fill)
        with pytest.raises(OrderValidationError, match="exceeds buying power"):
            await service.place_order(
                "fake", {"symbol": "AAPL", "side": "buy", "quantity": "6"}, idempotency_key="b"
            )
        assert _reads(broker)[0] == 2
        assert list(cash_venue.by_cid) == [service.derive_client_order_id("fake", "a")]
    finally:
        await service.stop()


async def test_reused_state_never_refuses_by_itself(make_service, cash_venue) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker})
    try:
        await _streaming(service)
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="a"
        )
        cash_venue.cash = D(100_000)  # a deposit the reused snapshot does not know of
        record = await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "50"}, idempotency_key="b"
        )
        assert record.request.quantity == D(50)
        assert _reads(broker)[0] == 2
    finally:
        await service.stop()


async def test_state_older_than_the_age_limit_is_read_again(
    make_service, cash_venue, clock: FakeClock
) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker}, config={"account_state_max_age": 1.5})
    try:
        await _streaming(service)
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="a"
        )
        clock.advance(1.0)
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="b"
        )
        assert _reads(broker) == (1, 1)
        clock.advance(1.0)  # 2 s after the read
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="c"
        )
        assert _reads(broker) == (2, 2)
    finally:
        await service.stop()


async def test_without_an_order_stream_every_order_reads_the_venue(make_service, cash_venue) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker})  # not started: no order stream runs
    for i in range(3):
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key=f"n{i}"
        )
    assert _reads(broker) == (3, 3)


async def test_age_zero_reads_the_venue_for_every_order(make_service, cash_venue) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker}, config={"account_state_max_age": 0})
    try:
        await _streaming(service)
        for i in range(2):
            await service.place_order(
                "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key=f"z{i}"
            )
        assert _reads(broker) == (2, 2)
    finally:
        await service.stop()


async def test_a_stream_that_breaks_drops_the_reused_state(make_service, cash_venue) -> None:
    broker = FakeBroker.create(cash_venue, "fake")
    service = make_service({"fake": broker}, config={"stream_backoff": 60})
    try:
        await _streaming(service)
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="a"
        )
        for queue in list(cash_venue.subscribers):
            queue.put_nowait(ConnectionError("stream cut"))
        await wait_for_async(lambda: "fake" not in service._streams_up, timeout=5)
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="b"
        )
        assert _reads(broker) == (2, 2)
    finally:
        await service.stop()


def _positions_reads(broker: FakeBroker) -> int:
    return broker.calls.count("get_positions")


async def test_sells_reuse_positions_and_hold_back_open_sells(make_service, clock: FakeClock) -> None:
    venue = FakeVenue(clock=clock, fill="none")  # orders rest until filled by hand
    venue.positions["AAPL"] = D(10)
    broker = FakeBroker.create(venue, "fake")
    service = make_service({"fake": broker})
    try:
        await _streaming(service)
        sell = {"symbol": "AAPL", "side": "sell", "quantity": "6"}
        await service.place_order("fake", sell, idempotency_key="s1")
        # 10 held, 6 in an open sell: 6 more do not fit; the refusal is confirmed on a fresh read
        with pytest.raises(OrderValidationError, match="only 4 is available"):
            await service.place_order("fake", sell, idempotency_key="s2")
        assert _positions_reads(broker) == 2
        await service.place_order("fake", {**sell, "quantity": "4"}, idempotency_key="s3")
        assert _positions_reads(broker) == 2  # reused: no fill since the read
    finally:
        await service.stop()


async def test_a_fill_drops_the_reused_positions(make_service, clock: FakeClock) -> None:
    venue = FakeVenue(clock=clock, fill="none")
    venue.positions["AAPL"] = D(10)
    broker = FakeBroker.create(venue, "fake")
    service = make_service({"fake": broker})
    try:
        await _streaming(service)
        first = await service.place_order(
            "fake", {"symbol": "AAPL", "side": "sell", "quantity": "6"}, idempotency_key="f1"
        )
        venue.fill_order(str(first.venue_order_id))  # held 4 now, and the sell is no longer open
        await wait_for_async(lambda: service.get_order(first.id).filled_quantity == D(6), timeout=5)
        # the snapshot (10 held) would allow 5 with nothing open: the fill made it read again (4 held)
        with pytest.raises(OrderValidationError, match="only 4 is available"):
            await service.place_order(
                "fake", {"symbol": "AAPL", "side": "sell", "quantity": "5"}, idempotency_key="f2"
            )
        assert _positions_reads(broker) == 3  # read after the fill, and once more to confirm the refusal
    finally:
        await service.stop()
