"""A dividend from a provider reconciles against the Schwab mock's DIVIDEND_OR_INTEREST transaction.

META (seed 0) goes ex-dividend 2025-08-31 at 1.68 a share, paid 2025-09-14: the book bought 10 on
2025-08-29, Alpha Vantage reports the dividend, Schwab's mock pays it on the same seed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from portico.clock import FakeClock
from portico.models import CashMovementType, OrderStatus
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async

BOUGHT = datetime(2025, 8, 29, 15, 0, tzinfo=UTC)
PAID = datetime(2025, 9, 15, 15, 0, tzinfo=UTC)


async def test_a_dividend_reconciles_with_the_schwab_transaction() -> None:
    mock_clock = {"start": BOUGHT, "realtime": False}
    config = {
        "systems": {
            "schwab": {
                "type": "brokerage",
                "connector": "schwab",
                "mock": True,
                "mock_seed": 0,
                "mock_options": mock_clock,
                "authentication": {
                    "type": "schwab_oauth2",
                    "credentials": {"client_id": "demo-app-key", "client_secret": "demo-app-secret"},
                    "options": {"auto_login": True},
                },
            },
            "provider": {
                "type": "market_data",
                "connector": "alpha_vantage",
                "mock": True,
                "mock_seed": 0,
                "mock_options": {**mock_clock, "key_tiers": {"av-key": "premium_75"}},
                "connection": {"tier": "premium_75"},
                "authentication": {"type": "api_key", "credentials": {"api_key": "av-key"}},
            },
        }
    }
    clock = FakeClock(BOUGHT)
    async with AsyncIntegration(config, plugins=PluginManager(), clock=clock) as integration:
        trading = integration.trading
        placed = await integration.place_external_order(
            "schwab", {"symbol": "META", "side": "buy", "quantity": "10"}, idempotency_key="meta-div"
        )

        async def filled() -> bool:
            return trading.get_order(placed, system_id="schwab").status is OrderStatus.FILLED

        await wait_for_async(filled, timeout=15)
        await trading.record_missing_fills("schwab")
        clock.set(PAID)
        for system in ("schwab", "provider"):
            integration.systems[system].mock.app.clock.set(PAID)
        # Schwab's refresh token lives seven days: a user signs in again each week, so does this test
        await trading.connector("schwab").context.auth.login()

        outcome = await integration.apply_corporate_actions(
            "provider", ["META"], start=datetime(2025, 8, 1, tzinfo=UTC), systems=["schwab"]
        )
        assert [(m.amount, m.date) for m in outcome.cash_booked] == [(Decimal("16.80"), date(2025, 9, 14))]
        movements = await trading.connector("schwab").get_cash_movements(since=BOUGHT)
        assert [(m.movement_type, m.symbol, m.amount, m.quantity, m.date) for m in movements] == [
            (CashMovementType.DIVIDEND, "META", Decimal("16.8"), Decimal(10), date(2025, 9, 14))
        ]
        report = await integration.reconcile(["schwab"], since=BOUGHT)
        assert [b.detail for b in report.breaks] == []
        assert report.compared["cash_movements"] == 1
