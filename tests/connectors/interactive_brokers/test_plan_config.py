"""The plan's interactive_brokers entry (examples/config/portico.yaml: TWS host/port/client_id, auth type
tws) runs through the runtime against the TWS mock with ``mock: true``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("ib_async")

from portico.models import OrderStatus
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "config" / "portico.yaml"


def _plan_entry() -> dict[str, Any]:
    document = yaml.safe_load(EXAMPLE.read_text())
    root = document.get("external_integration_config", document)
    entry = dict(root["systems"]["interactive_brokers"])
    assert entry["authentication"]["type"] == "tws" and entry["connection"]["port"] == 7496
    assert entry["mock"] is True
    return entry


async def test_the_plans_tws_entry_trades_on_the_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IB_USERNAME", "demo")
    monkeypatch.setenv("IB_PASSWORD", "demo")
    config = {"external_integration_config": {"systems": {"interactive_brokers": _plan_entry()}}}
    async with AsyncIntegration(config) as integration:
        status = await integration.connect_external_system("interactive_brokers")
        assert status.state == "connected"
        assert status.urls["tws"].startswith("tcp://127.0.0.1:") and not status.urls["tws"].endswith(":7496")
        connector = integration.systems["interactive_brokers"].connector
        assert connector is not None and connector.transport_name == "tws"
        client_order_id = await integration.place_external_order(
            "interactive_brokers", {"symbol": "AAPL", "side": "buy", "quantity": "3", "order_type": "market"}
        )

        async def filled() -> bool:
            order = await integration.get_external_order_status("interactive_brokers", client_order_id)
            return order.status is OrderStatus.FILLED

        await wait_for_async(filled, timeout=10)
        positions = {
            p.symbol: p.quantity for p in await integration.get_external_positions("interactive_brokers")
        }
        assert positions["AAPL"] == Decimal(3)
