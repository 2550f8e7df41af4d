"""The E*TRADE mock pays the seeded dividends on held positions as ``Dividend`` transactions, and the
connector reads them as cash movements (META, seed 0: ex 2025-08-31 at 1.68, paid 2025-09-14)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from portico.clock import FakeClock
from portico.mocks import RunningMock
from portico.models import CashMovementType, OrderRequest, OrderSide
from tests.connectors.etrade.conftest import ACCESS_SECRET, ACCESS_TOKEN, CONSUMER_KEY, make_connector

BOUGHT = datetime(2025, 8, 29, 15, 0, tzinfo=UTC)
PAID = datetime(2025, 9, 15, 15, 0, tzinfo=UTC)


async def test_a_dividend_on_a_held_position_is_a_cash_movement(served: Callable[..., RunningMock]) -> None:
    running = served(seed=0, start=BOUGHT)
    clock = FakeClock(BOUGHT)
    connector = make_connector(running, clock=clock)
    await connector.place_order(
        OrderRequest(symbol="META", side=OrderSide.BUY, quantity=Decimal(10), client_order_id="div-1")
    )
    assert await connector.get_cash_movements() == []
    cash_before = (await connector.get_account()).cash
    await connector.close()
    running.app.clock.set(PAID)
    # E*TRADE access tokens end at midnight US Eastern: a new day is a new sign-in, which the test
    # stands in for by having the mock issue the preset token again
    running.app.oauth._issue(ACCESS_TOKEN, ACCESS_SECRET, CONSUMER_KEY)
    connector = make_connector(running, clock=FakeClock(PAID))

    (movement,) = await connector.get_cash_movements()
    assert (movement.movement_type, movement.symbol, movement.amount) == (
        CashMovementType.DIVIDEND,
        "META",
        Decimal("16.80"),
    )
    assert (movement.quantity, movement.per_share, movement.date) == (10, Decimal("1.68"), date(2025, 9, 14))
    assert (await connector.get_account()).cash == cash_before + Decimal("16.80")
    assert [t.transaction_type for t in await connector.get_transactions()] == ["Dividend", "Bought"]
    await connector.close()
