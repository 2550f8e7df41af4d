"""The runtime trades on a Schwab mock system, loading the connector and its auth scheme as plugins."""

from __future__ import annotations

from decimal import Decimal

from portico.models import OrderStatus
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async

SYSTEM = {
    "type": "brokerage",
    "connector": "schwab",
    "mock": True,
    "mock_seed": 5,
    "authentication": {
        "type": "schwab_oauth2",
        "credentials": {"client_id": "demo-app-key", "client_secret": "demo-app-secret"},
        # the mock approves the sign-in at once, so no browser is needed
        "options": {"auto_login": True},
    },
}


async def test_orders_and_positions_through_the_runtime() -> None:
    async with AsyncIntegration({"systems": {"schwab_mock": SYSTEM}}, plugins=PluginManager()) as integration:
        trading = integration.trading
        placed = [
            await integration.place_external_order(
                "schwab_mock",
                {"symbol": symbol, "side": "buy", "quantity": quantity},
                idempotency_key=f"rt-{i}",
            )
            for i, (symbol, quantity) in enumerate([("AAPL", 3), ("MSFT", 2), ("AAPL", 1)])
        ]
        for cid in placed:

            async def filled(cid: str = cid) -> bool:
                return trading.get_order(cid, system_id="schwab_mock").status is OrderStatus.FILLED

            await wait_for_async(filled, timeout=15)
        positions = {p.symbol: p.quantity for p in await integration.get_external_positions("schwab_mock")}
    assert positions == {"AAPL": Decimal(4), "MSFT": Decimal(2)}
