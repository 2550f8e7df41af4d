"""Two trading stores against one Alpaca venue: one business key places one order.

The same idempotency key derives the same client order id in every store, so a second store placing
it finds the venue's order. It may adopt that order only when it is the order it meant to place; any
other parameters are an IdempotencyConflict naming the fields, never a silent link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from portico.clock import FakeClock
from portico.mocks import RunningMock
from portico.models import OrderStatus
from portico.store import Database
from portico.trading import IdempotencyConflict, TradingService
from tests.connectors.alpaca.conftest import make_connector

ORDER = {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "limit", "limit_price": "1.00"}


@pytest.fixture
async def two_stores(
    tmp_path: Path, served: Callable[..., RunningMock]
) -> AsyncIterator[tuple[RunningMock, TradingService, TradingService]]:
    """One Alpaca mock and two trading services, each with its own store (two processes, two hosts)."""
    running = served()
    services = []
    for name in ("first", "second"):
        db = Database(f"sqlite:///{tmp_path / name}.db")
        connector = make_connector(running)
        # no buying-power or holdings check: the sell case must reach the venue
        services.append(
            TradingService(
                db=db, clock=FakeClock(), connectors={"alpaca": connector}, config={"validate_account": False}
            )
        )
    yield running, services[0], services[1]
    for service in services:
        for connector in service.connectors.values():
            await connector.close()
        service.db.dispose()


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"quantity": "5"}, {"quantity"}),
        ({"side": "sell"}, {"side"}),
        ({"symbol": "MSFT"}, {"symbol"}),
        ({"limit_price": "2.00"}, {"limit_price"}),
        ({"time_in_force": "gtc"}, {"time_in_force"}),
        ({"order_type": "market", "limit_price": None}, {"order_type", "limit_price"}),
    ],
)
async def test_a_second_store_never_adopts_a_different_order(
    two_stores: tuple[RunningMock, TradingService, TradingService],
    change: dict[str, str | None],
    fields: set[str],
) -> None:
    running, first, second = two_stores
    placed = await first.place_order("alpaca", ORDER, idempotency_key="biz-1")
    assert placed.venue_order_id is not None and placed.status is OrderStatus.NEW

    other = {k: v for k, v in {**ORDER, **change}.items() if v is not None}
    with pytest.raises(IdempotencyConflict) as caught:
        await second.place_order("alpaca", other, idempotency_key="biz-1")

    assert set(caught.value.differences) == fields
    for name in fields:
        assert name in caught.value.message
    # the second store's intent is not linked to the venue's order, and says why
    record = second.get_order("biz-1", system_id="alpaca")
    assert record.venue_order_id is None
    assert record.status is OrderStatus.REJECTED
    assert "biz-1" in (record.reject_reason or "") and placed.venue_order_id in (record.reject_reason or "")
    # the venue still holds exactly the one order the first store placed, unchanged
    venue_orders = list(running.app.venue.orders.values())
    assert [(o.client_order_id, o.qty, o.symbol) for o in venue_orders] == [
        (placed.client_order_id, Decimal(1), "AAPL")
    ]
    assert first.get_order("biz-1", system_id="alpaca").venue_order_id == placed.venue_order_id


async def test_a_second_store_adopts_the_same_order(
    two_stores: tuple[RunningMock, TradingService, TradingService],
) -> None:
    running, first, second = two_stores
    placed = await first.place_order("alpaca", ORDER, idempotency_key="biz-2")

    adopted = await second.place_order(
        "alpaca", {**ORDER, "quantity": "1.0", "symbol": "aapl"}, idempotency_key="biz-2"
    )

    assert adopted.venue_order_id == placed.venue_order_id
    assert adopted.status is OrderStatus.NEW
    assert len(running.app.venue.orders) == 1
