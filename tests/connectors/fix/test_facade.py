"""The FIX connector behind the runtime facade (AsyncIntegration) on the FIX mock."""

from __future__ import annotations

import pytest

from portico.errors import NotFound
from portico.models import OrderStatus
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async


async def test_order_status_through_the_facade_is_looked_up_by_client_order_id() -> None:
    config = {
        "systems": {
            "fix": {
                "type": "brokerage",
                "connector": "fix",
                "mock": True,
                "connection": {"reconnect_interval": 1, "logon_timeout": 5, "ack_timeout": 2},
                "authentication": {
                    "type": "fix_logon",
                    "credentials": {"username": "facade", "password": "facade-secret"},
                },
            }
        }
    }
    async with AsyncIntegration(config) as integration:
        client_order_id = await integration.place_external_order(
            "fix", {"symbol": "AAPL", "side": "buy", "quantity": "2", "order_type": "market"}
        )

        async def filled() -> bool:
            order = await integration.get_external_order_status("fix", client_order_id)
            return order.status is OrderStatus.FILLED

        await wait_for_async(filled, timeout=10)
        order = await integration.get_external_order_status("fix", client_order_id)
        assert order.client_order_id == client_order_id and order.filled_quantity == 2
        # by the venue's order id too (the trading service tracks both)
        assert order.order_id
        again = await integration.get_external_order_status("fix", order.order_id)
        assert again.client_order_id == client_order_id
        with pytest.raises(NotFound, match="nosuch"):
            await integration.get_external_order_status("fix", "nosuch")
