"""A clean trading day reconciles with zero breaks on every broker, on the default path.

Orders are placed and filled through the facade on each broker's mock, with the default configuration
(no instrument cross-reference, no manual ``sync_executions``); the reconciliation that follows must
find nothing, having compared every position and every fill.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from portico.models import OrderStatus
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async

ORDERS = (("AAPL", "buy", "3"), ("MSFT", "buy", "2"), ("AAPL", "buy", "1"), ("AAPL", "sell", "2"))
# the book and the broker both hold AAPL 3 + 1 - 2 = 2 and MSFT 2; four fills were made
EXPECTED_POSITIONS = {"AAPL": Decimal(2), "MSFT": Decimal(2)}
EXPECTED_COMPARED = {"positions": 2, "trades": 4, "cash": 0}


def _alpaca() -> dict[str, Any]:
    return {
        "type": "brokerage",
        "connector": "alpaca",
        "mock": True,
        "mock_seed": 5,
        "authentication": {
            "type": "api_key_pair",
            "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
        },
    }


def _ib_web() -> dict[str, Any]:
    return {
        "type": "brokerage",
        "connector": "interactive_brokers",
        "mock": True,
        "mock_seed": 5,
        "connection": {"transport": "web"},
        "authentication": {"type": "session"},
    }


def _ib_tws() -> dict[str, Any]:
    return {
        "type": "brokerage",
        "connector": "interactive_brokers",
        "mock": True,
        "mock_seed": 5,
        "connection": {"transport": "tws", "client_id": 1},
        "authentication": {"type": "tws"},
    }


async def _trade_a_clean_day(system: dict[str, Any]) -> None:
    async with AsyncIntegration({"systems": {"broker": system}}, plugins=PluginManager()) as integration:
        trading = integration.trading
        placed = []
        for i, (symbol, side, quantity) in enumerate(ORDERS):
            placed.append(
                await integration.place_external_order(
                    "broker",
                    {"symbol": symbol, "side": side, "quantity": quantity},
                    idempotency_key=f"day-{i}",
                )
            )

            async def filled(cid: str = placed[-1]) -> bool:
                return trading.get_order(cid, system_id="broker").status is OrderStatus.FILLED

            await wait_for_async(filled, timeout=15)
        positions = {p.symbol: p.quantity for p in await integration.get_external_positions("broker")}
        assert positions == EXPECTED_POSITIONS

        report = await integration.reconcile(["broker"])

        assert [b.detail for b in report.breaks] == []
        assert report.compared == EXPECTED_COMPARED


async def test_a_clean_day_on_alpaca_reconciles_with_no_break() -> None:
    await _trade_a_clean_day(_alpaca())


async def test_a_clean_day_on_ib_web_reconciles_with_no_break() -> None:
    await _trade_a_clean_day(_ib_web())


async def test_a_clean_day_on_ib_tws_reconciles_with_no_break() -> None:
    pytest.importorskip("ib_async")
    await _trade_a_clean_day(_ib_tws())
