"""End to end through the runtime facade: two Alpaca systems on their mocks (``mock: true``), orders
placed, tracked, cancelled and reconciled by the trading service the runtime holds."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from portico.models import Order, OrderStatus
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.trading import InstrumentXref, OrderUpdate, XrefEntry


def _alpaca(seed: int) -> dict[str, Any]:
    return {
        "type": "brokerage",
        "connector": "alpaca",
        "mock": True,
        "mock_seed": seed,
        "authentication": {
            "type": "api_key_pair",
            "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
        },
    }


CONFIG = {
    "systems": {"alpaca_a": _alpaca(1), "alpaca_b": _alpaca(2)},
    "trading": {"risk": {"default": {"restricted_list": {"symbols": ["TSLA"]}}}},
}


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


async def test_orders_through_the_runtime_on_two_brokers() -> None:
    async with AsyncIntegration(CONFIG, plugins=PluginManager()) as integration:
        trading = integration.trading
        updates: list[OrderUpdate] = []
        trading.on_order_event(updates.append)
        cid = await integration.place_external_order(
            "alpaca_a", {"symbol": "AAPL", "side": "buy", "quantity": "3"}, idempotency_key="rt-1"
        )
        again = await integration.place_external_order(
            "alpaca_a", {"symbol": "AAPL", "side": "buy", "quantity": 3}, idempotency_key="rt-1"
        )
        assert again == cid
        resting = await integration.place_external_order(
            "alpaca_b",
            {"symbol": "MSFT", "side": "buy", "quantity": "2", "order_type": "limit", "limit_price": "1.00"},
            idempotency_key="rt-2",
        )
        with pytest.raises(Exception, match="restricted"):
            await integration.place_external_order(
                "alpaca_b", {"symbol": "TSLA", "side": "buy", "quantity": "1"}, idempotency_key="rt-3"
            )
        await _until(lambda: trading.get_order(cid, system_id="alpaca_a").status is OrderStatus.FILLED)
        status = await integration.get_external_order_status("alpaca_a", cid)
        assert isinstance(status, Order) and status.filled_quantity == Decimal(3)
        await integration.cancel_external_order("alpaca_b", resting)
        await _until(lambda: trading.get_order(resting, system_id="alpaca_b").status is OrderStatus.CANCELED)
        venue_a = integration.systems["alpaca_a"].mock.app.venue
        assert [o.client_order_id for o in venue_a.orders.values()] == [cid]
        assert {u.system for u in updates} == {"alpaca_a", "alpaca_b"}

        # the store's book, kept from the executions, reconciles with the broker
        trading.xref = InstrumentXref(
            [
                XrefEntry("ID-AAPL", system="alpaca_a", symbol="AAPL"),
                XrefEntry("ID-MSFT", system="alpaca_a", symbol="MSFT"),
            ]
        )
        await trading.sync_executions("alpaca_a")
        breaks, compared = await trading.reconciler().reconcile_trades("alpaca_a")
        assert breaks == [] and compared == 1
