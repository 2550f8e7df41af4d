"""A split and a dividend from a provider, end to end, through the facade and two mocks on one seed.

Alpha Vantage's mock reports META's 1:4 split (ex 2025-06-11) and its 1.68 dividend (ex 2025-08-31, paid
2025-09-14); Alpaca's mock, on the same seed, splits the position and pays the dividend as its clock
passes those dates. The book bought 10 META on 2025-06-02. After the split the book holds 40 at a
quarter of the cost per share, the stored price history before the ex date is a quarter of what it was,
and reconciliation finds nothing; after the pay date the 67.20 dividend is in the book's cash and matches
the broker's DIV activity; running it all again changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portico.clock import FakeClock
from portico.models import BarInterval, OrderStatus
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async

START = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)  # Monday 11:00 New York
AFTER_SPLIT = datetime(2025, 6, 12, 15, 0, tzinfo=UTC)
AFTER_PAY = datetime(2025, 9, 15, 15, 0, tzinfo=UTC)
SPLIT_KEY = "META:split:2025-06-11"
DIVIDEND_KEY = "META:cash_dividend:2025-08-31"
EARLIER_DIVIDEND = "META:cash_dividend:2025-06-01"  # ex the day before the purchase: not entitled


def _config() -> dict[str, Any]:
    mock_clock = {"start": START, "realtime": False}
    return {
        "systems": {
            "broker": {
                "type": "brokerage",
                "connector": "alpaca",
                "mock": True,
                "mock_seed": 0,
                "mock_options": mock_clock,
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
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
        },
        "market_data": {"cache": {"historical_ttl": 400 * 86400}},
    }


def _move(integration: AsyncIntegration, clock: FakeClock, when: datetime) -> None:
    clock.set(when)
    for system in ("broker", "provider"):
        integration.systems[system].mock.app.clock.set(when)


async def test_a_split_and_a_dividend_change_book_history_and_cash_and_reconcile_with_no_break() -> None:
    clock = FakeClock(START)
    async with AsyncIntegration(_config(), plugins=PluginManager(), clock=clock) as integration:
        trading = integration.trading
        broker = trading.connector("broker")
        account = await broker.get_account()
        assert account.cash == Decimal("100000")
        trading.repo.set_book_cash(
            book="internal", system="broker", account_id=account.account_id, currency="USD",
            amount=account.cash, now=clock.now(),
        )  # fmt: skip
        placed = await integration.place_external_order(
            "broker", {"symbol": "META", "side": "buy", "quantity": "10"}, idempotency_key="meta-1"
        )

        async def filled() -> bool:
            return trading.get_order(placed, system_id="broker").status is OrderStatus.FILLED

        await wait_for_async(filled, timeout=15)
        await trading.record_missing_fills("broker")  # the fill is in the book before any action applies
        (before,) = [p for p in trading.reconciler().book.positions("broker") if p.symbol == "META"]
        assert before.quantity == 10 and before.average_cost is not None
        # the provider's daily history, stored
        history = await integration.get_market_data(
            "provider", ["META"], "bars",
            {"interval": BarInterval.DAY, "start": datetime(2025, 5, 1, tzinfo=UTC), "end": START},
        )  # fmt: skip
        bars = history.data["META"]
        assert integration.market_data.ingest_bars(bars, source="provider") == len(bars)
        last_close = {b.timestamp.date(): b.close for b in bars}
        may_30 = datetime(2025, 5, 30).date()

        # -- the split ------------------------------------------------------------------------------
        _move(integration, clock, AFTER_SPLIT)
        outcome = await integration.apply_corporate_actions(
            "provider", ["META"], start=datetime(2025, 5, 1, tzinfo=UTC)
        )
        assert outcome.applied == [EARLIER_DIVIDEND, SPLIT_KEY]
        assert outcome.cash_expected == []  # the 2025-06-01 dividend went to whoever held before the purchase
        assert outcome.positions_changed == 1 and outcome.bars_adjusted == len(bars)
        (after,) = [p for p in trading.reconciler().book.positions("broker") if p.symbol == "META"]
        assert after.quantity == 40
        assert after.average_cost == before.average_cost / 4
        held = integration.market_data.history.bars("provider", "META", "1day", [may_30])
        assert Decimal(held[may_30][1]["close"]) == last_close[may_30] / 4
        (position,) = await broker.get_positions()
        assert position.quantity == 40  # the broker split it too
        report = await integration.reconcile(["broker"])
        assert [b.detail for b in report.breaks] == []

        # -- the dividend ---------------------------------------------------------------------------
        _move(integration, clock, AFTER_PAY)
        outcome = await integration.apply_corporate_actions(
            "provider", ["META"], start=datetime(2025, 5, 1, tzinfo=UTC)
        )
        assert DIVIDEND_KEY in outcome.applied
        assert [(m.amount, m.date.isoformat()) for m in outcome.cash_booked] == [
            (Decimal("67.20"), "2025-09-14")
        ]
        book_cash = trading.reconciler().book.cash("broker")[0].amount
        broker_cash = (await broker.get_account()).cash
        assert book_cash == broker_cash
        (paid,) = [m for m in await broker.get_cash_movements() if m.symbol == "META"]
        assert (paid.amount, paid.quantity, paid.per_share) == (Decimal("67.20"), 40, Decimal("1.68"))
        report = await integration.reconcile(["broker"])
        assert [b.detail for b in report.breaks] == []
        assert report.compared["cash"] == 1 and report.compared["cash_movements"] == 1

        # -- a re-run changes nothing ---------------------------------------------------------------
        again = await integration.apply_corporate_actions(
            "provider", ["META"], start=datetime(2025, 5, 1, tzinfo=UTC)
        )
        assert not again.changed and again.bars_adjusted == 0
        (still,) = [p for p in trading.reconciler().book.positions("broker") if p.symbol == "META"]
        assert (still.quantity, still.average_cost) == (after.quantity, after.average_cost)
        assert trading.reconciler().book.cash("broker")[0].amount == book_cash
        held_again = integration.market_data.history.bars("provider", "META", "1day", [may_30])
        assert held_again[may_30][1]["close"] == held[may_30][1]["close"]
        report = await integration.reconcile(["broker"])
        assert [b.detail for b in report.breaks] == []
