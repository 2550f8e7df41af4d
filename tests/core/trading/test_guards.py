"""Each trading safety check has a test that trips it exactly at its edge.

These catch one-line changes to critical code: a replayed key running the risk checks, a limit off by
one, the held position left out of the concentration, one send too many, a resend that was switched off.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.models import OrderRequest, OrderStatus
from portico.trading import RiskCheckFailed, RiskContext, TradingService
from portico.trading._risk import MaxOrderValue
from tests.core.trading.fakes import FakeBroker, FakeVenue

D = Decimal


# -- a replayed key ------------------------------------------------------------------------------


async def test_a_replayed_key_returns_the_stored_order_without_risk_checks(
    make_service, venue: FakeVenue, recorder
) -> None:
    order = {"symbol": "AAPL", "side": "buy", "quantity": "10", "order_type": "limit", "limit_price": "100"}
    before = make_service(
        {"fake": FakeBroker.create(venue)}, config={"risk": {"default": {"max_order_value": {"limit": 5000}}}}
    )
    placed = await before.place_order("fake", order, idempotency_key="replay-1")
    assert placed.status is OrderStatus.FILLED

    # the limit was lowered since (a restart with new settings): a new order of 1,000 is refused...
    after: TradingService = make_service(
        {"fake": FakeBroker.create(venue)}, config={"risk": {"default": {"max_order_value": {"limit": 500}}}}
    )
    with pytest.raises(RiskCheckFailed):
        await after.place_order("fake", order, idempotency_key="replay-2")
    # ...but the order already placed under the key is returned as it is, not checked again
    replayed = await after.place_order("fake", order, idempotency_key="replay-1")

    assert replayed.id == placed.id and replayed.status is OrderStatus.FILLED
    assert len(venue.orders) == 1
    assert [e["check"] for e in recorder.named("trading.risk.refused")] == ["max_order_value"]


# -- the order-value limit at its edge -----------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "price", "refused"),
    [
        ("10", "100.00", False),  # exactly the limit: allowed
        ("10", "99.99", False),  # one cent below
        ("10", "100.001", True),  # one hundredth of a unit above
        ("1", "1000.01", True),
        ("1001", "1", True),  # one unit above
    ],
)
def test_the_order_value_limit_holds_at_its_edge(quantity: str, price: str, refused: bool) -> None:
    order = OrderRequest(
        symbol="AAPL", side="buy", quantity=D(quantity), order_type="limit", limit_price=D(price)
    )
    context = RiskContext(system="fake", account_id="ACC-1", settings={"limit": 1000}, price=D(price))
    reason = MaxOrderValue().check(order, context)
    assert (reason is not None) is refused
    if refused:
        assert reason == f"order value {D(quantity) * D(price)} exceeds the limit 1000"


async def test_the_order_value_limit_through_the_service(make_service, venue: FakeVenue) -> None:
    service: TradingService = make_service(
        {"fake": FakeBroker.create(venue)}, config={"risk": {"default": {"max_order_value": {"limit": 1000}}}}
    )
    at_limit = {"symbol": "AAPL", "side": "buy", "quantity": "10", "order_type": "limit", "limit_price": "100"}
    assert (await service.place_order("fake", at_limit, idempotency_key="at")).status is OrderStatus.FILLED
    with pytest.raises(RiskCheckFailed, match="order value 1000.10 exceeds the limit 1000"):
        await service.place_order("fake", {**at_limit, "limit_price": "100.01"}, idempotency_key="above")
    assert len(venue.orders) == 1


# -- concentration counts what is already held ---------------------------------------------------


CONCENTRATION = {"risk": {"default": {"max_position_concentration": {"max_fraction": "0.5"}}}}


async def test_concentration_counts_the_held_positions_market_value(make_service, venue: FakeVenue) -> None:
    # equity 10,000: cash 5,500 and 45 AAPL marked at 100 (market value 4,500, as the broker reports)
    venue.cash = D(5500)
    venue.positions["AAPL"] = D(45)
    broker = FakeBroker.create(venue)
    assert [(p.symbol, p.market_value) for p in await broker.get_positions()] == [("AAPL", D(4500))]
    service: TradingService = make_service({"fake": broker}, config={"validate_account": False, **CONCENTRATION})
    # 20 more at a limit of 50 is worth 1,000: (4,500 + 1,000) / 10,000 = 0.55 > 0.5, refused. Counting
    # the held 45 at the order's price (2,250) or not at all would let it through.
    with pytest.raises(RiskCheckFailed, match=r"AAPL would be 0\.5500 of equity 10000"):
        await service.place_order(
            "fake",
            {"symbol": "AAPL", "side": "buy", "quantity": "20", "order_type": "limit", "limit_price": "50"},
            idempotency_key="too-much",
        )
    # 10 more (500): (4,500 + 500) / 10,000 = 0.5, exactly the maximum, allowed
    record = await service.place_order(
        "fake",
        {"symbol": "AAPL", "side": "buy", "quantity": "10", "order_type": "limit", "limit_price": "50"},
        idempotency_key="at-max",
    )
    assert record.status is OrderStatus.FILLED
    assert len(venue.orders) == 1


# -- sends: never more than max_submit_attempts, no resend when switched off ---------------------


BUY = {"symbol": "AAPL", "side": "buy", "quantity": "1"}


def _sends(venue: FakeVenue) -> list[str]:
    return [j["outcome"] for j in venue.journal if j["op"] == "submit"]


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_sends_stop_at_max_submit_attempts(make_service, venue: FakeVenue, attempts: int) -> None:
    service: TradingService = make_service(
        {"fake": FakeBroker.create(venue)}, config={"max_submit_attempts": attempts}
    )
    venue.script = ["refuse"] * 10  # the venue is unreachable for every send

    record = await service.place_order("fake", BUY, idempotency_key="k")

    assert _sends(venue) == ["refused"] * attempts
    assert record.attempts == attempts
    assert record.status is OrderStatus.UNKNOWN
    assert venue.orders == {}


async def test_a_lost_send_is_resent_when_resubmitting_is_on(make_service, venue: FakeVenue) -> None:
    service: TradingService = make_service({"fake": FakeBroker.create(venue)})
    venue.script = ["lost:ReadTimeout"]  # sent, no answer, and the venue never received it

    record = await service.place_order("fake", BUY, idempotency_key="k")

    assert _sends(venue) == ["lost", "committed"]
    assert record.status is OrderStatus.FILLED and record.attempts == 2


async def test_no_resend_when_resubmit_when_not_found_is_off(make_service, venue: FakeVenue) -> None:
    service: TradingService = make_service(
        {"fake": FakeBroker.create(venue)}, config={"resubmit_when_not_found": False}
    )
    venue.script = ["lost:ReadTimeout"]

    record = await service.place_order("fake", BUY, idempotency_key="k")
    # later rounds and a restart's recovery do not resend it either: it waits for reconciliation
    await service.resolve_pending("fake")
    await make_service(
        {"fake": FakeBroker.create(venue)}, config={"resubmit_when_not_found": False}
    ).recover("fake")

    assert _sends(venue) == ["lost"]
    assert record.status is OrderStatus.UNKNOWN and record.attempts == 1
    assert service.get_order(record.id).status is OrderStatus.UNKNOWN
    assert venue.orders == {}
