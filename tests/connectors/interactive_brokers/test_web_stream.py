"""The gateway WebSocket over the web transport: reconnect after a dropped socket, and back-fill."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.models import OrderEvent, OrderRequest, OrderSide, OrderStatus, Quote
from portico.sdk import ConnectorContext


async def test_quotes_resume_after_the_socket_drops(ib_mock_factory: Callable[..., Any]) -> None:
    faults = [{"route": "/v1/api/ws", "kind": "ws_disconnect", "after_messages": 6, "times": 1}]
    mock = await ib_mock_factory(faults=faults, pacing=False)
    events: list[str] = []
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls=mock.urls,
        connection={"transport": "web"},
        emit=lambda name, **data: events.append(name),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    quotes: list[Quote] = []
    try:
        stream = connector.subscribe_quotes(["AAPL"])
        async for quote in stream:
            quotes.append(quote)
            if len(quotes) >= 8 and "stream.reconnected" in events:
                break
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await connector.close()
    assert all(q.symbol == "AAPL" and q.bid_price is not None for q in quotes)
    assert "stream.reconnected" in events
    assert mock.app.journal.count("WS", "/v1/api/ws") == 2


async def test_order_events_are_back_filled_after_a_reconnect(ib_mock_factory: Callable[..., Any]) -> None:
    # the first socket dies after its three greeting messages, before the order snapshot reaches us
    faults = [{"route": "/v1/api/ws", "kind": "ws_disconnect", "after_messages": 3, "times": 1}]
    mock = await ib_mock_factory(faults=faults, pacing=False)
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector, urls=mock.urls, connection={"transport": "web"}
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    seen: list[OrderEvent] = []
    try:
        await connector.place_order(
            OrderRequest(symbol="IBM", side=OrderSide.BUY, quantity=Decimal(2), client_order_id="bf-1")
        )
        stream = connector.subscribe_order_updates()
        async for event in stream:
            seen.append(event)
            if event.order.client_order_id == "bf-1" and event.order.status is OrderStatus.FILLED:
                break
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await connector.close()
    mine = [e for e in seen if e.order.client_order_id == "bf-1"]
    assert mine and mine[-1].order.filled_quantity == 2
    assert mine[0].source == "poll", "after the reconnect, live orders are polled before the stream resumes"
    assert len({(e.order.status, e.order.filled_quantity) for e in mine}) == len(mine), "no duplicate events"
