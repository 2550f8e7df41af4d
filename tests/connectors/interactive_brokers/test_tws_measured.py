"""Calls over the TWS socket reach the monitor as ApiClient calls do: one CallRecord per request, the
same metric names, through the same observer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

pytest.importorskip("ib_async")

from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.http import CallMeter, CallRecord
from portico.mocks.interactive_brokers.tws import TwsMockServer
from portico.models import OrderStatus
from portico.monitor import IntegrationMonitor, Redactor
from portico.runtime import AsyncIntegration
from portico.sdk import ConnectorContext
from portico.testing import wait_for_async


@pytest.fixture
async def server() -> AsyncIterator[TwsMockServer]:
    server = await TwsMockServer(seed=3, tick_interval=0).start()
    yield server
    await server.stop()


async def test_every_socket_request_is_one_call_record(server: TwsMockServer) -> None:
    monitor = IntegrationMonitor(redactor=Redactor())
    seen: list[CallRecord] = []
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        system_id="ib",
        urls={"tws": server.url},
        connection={"client_id": 11, "ack_timeout": 2},
        auth_scheme="tws",
        call_meter=CallMeter("ib", observers=[monitor.call_observer(), seen.append]),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        assert (await connector.check()).ok
        await connector.get_account()
        for _ in range(3):
            await connector.get_positions()
    finally:
        await connector.close()
    await monitor.drain()

    assert [(r.method, r.endpoint, r.outcome) for r in seen] == [
        ("TWS", "reqCurrentTime", "ok"),
        ("TWS", "reqAccountUpdatesMulti", "ok"),
        ("TWS", "reqPositions", "ok"),
        ("TWS", "reqPositions", "ok"),
        ("TWS", "reqPositions", "ok"),
    ]
    assert all(r.system == "ib" and r.latency >= 0 and r.attempt == 1 for r in seen)
    metrics = monitor.metrics("ib")
    assert metrics["requests"] == 5 and metrics["errors"] == 0
    assert metrics["endpoints"]["reqPositions"]["requests"] == 3
    assert metrics["latency_ms"]["p50"] is not None
    exposition = monitor.exposition().decode()
    assert 'portico_requests_total{endpoint="reqPositions",method="TWS",outcome="ok",system="ib"} 3.0' in exposition


async def test_a_failed_socket_request_is_measured_as_an_error(server: TwsMockServer) -> None:
    from portico.errors import VenueRejected
    from portico.models import OrderRequest, OrderSide

    seen: list[CallRecord] = []
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        system_id="ib",
        urls={"tws": server.url},
        connection={"client_id": 12, "ack_timeout": 2},
        auth_scheme="tws",
        call_meter=CallMeter("ib", observers=[seen.append]),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        too_big = OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1_000_000), client_order_id="big-m")
        with pytest.raises(VenueRejected):
            await connector.place_order(too_big)
    finally:
        await connector.close()
    [placed] = [r for r in seen if r.endpoint == "placeOrder"]
    assert placed.outcome == "rejected" and isinstance(placed.error, VenueRejected)


async def test_filled_orders_over_tws_show_on_the_runtime_metrics() -> None:
    config = {
        "systems": {
            "ib": {
                "type": "brokerage",
                "connector": "interactive_brokers",
                "mock": True,
                "connection": {"transport": "tws", "client_id": 5},
                "authentication": {"type": "tws", "credentials": {"username": "demo", "password": "demo"}},
            }
        }
    }
    async with AsyncIntegration(config) as integration:
        before = (await integration.get_integration_metrics("ib"))["endpoints"]
        assert "placeOrder" not in before
        client_order_id = await integration.place_external_order(
            "ib", {"symbol": "AAPL", "side": "buy", "quantity": "2", "order_type": "market"}
        )

        async def filled() -> bool:
            order = await integration.get_external_order_status("ib", client_order_id)
            return order.status is OrderStatus.FILLED

        await wait_for_async(filled, timeout=10)
        positions_before = before.get("reqPositions", {}).get("requests", 0)
        for _ in range(4):
            await integration.get_external_positions("ib")
        metrics = await integration.get_integration_metrics("ib")
    assert metrics["endpoints"]["placeOrder"]["requests"] == 1
    assert metrics["endpoints"]["placeOrder"]["latency_ms"]["p50"] is not None
    assert metrics["endpoints"]["reqPositions"]["requests"] == positions_before + 4
    assert metrics["requests"] >= 6
