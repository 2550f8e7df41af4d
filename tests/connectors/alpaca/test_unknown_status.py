"""An order status Alpaca adds later is mapped conservatively (still live, never terminal) and reported
on the trade updates stream, which carries on with the next update."""

from __future__ import annotations

import json
from typing import Any

import websockets

from portico.clock import FakeClock
from portico.connectors.alpaca.stream import OrderUpdateStream
from portico.models import Order, OrderStatus


def _update(order_id: str, status: str, event: str) -> dict[str, Any]:
    order = {
        "id": order_id,
        "client_order_id": f"c-{order_id}",
        "created_at": "2026-11-20T15:00:00Z",
        "updated_at": "2026-11-20T15:00:01Z",
        "symbol": "AAPL",
        "qty": "1",
        "filled_qty": "0",
        "type": "market",
        "side": "buy",
        "time_in_force": "day",
        "status": status,
    }
    return {"stream": "trade_updates", "data": {"event": event, "order": order, "timestamp": "2026-11-20T15:00:01Z"}}


async def test_unknown_order_status_is_reported_and_stays_live() -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()  # authenticate
        await ws.send(json.dumps({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}))
        await ws.recv()  # listen
        await ws.send(json.dumps({"stream": "listening", "data": {"streams": ["trade_updates"]}}))
        await ws.send(json.dumps(_update("o-1", "teleported", "teleported")))
        await ws.send(json.dumps(_update("o-2", "new", "new")))
        await ws.wait_closed()

    async def no_backfill(since: Any) -> list[Order]:
        return []

    emitted: list[tuple[str, dict[str, Any]]] = []
    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        stream = OrderUpdateStream(
            f"ws://127.0.0.1:{port}",
            system="alpaca",
            credentials={"key_id": "k", "secret_key": "s"},
            backfill=no_backfill,
            clock=FakeClock(),
            emit=lambda name, **data: emitted.append((name, data)),
            ws_options={"heartbeat_interval": None},
        )
        events = stream.events()
        first = await anext(events)
        second = await anext(events)
        await events.aclose()
    assert first.order.order_id == "o-1"
    assert first.order.status is OrderStatus.NEW and not first.order.is_terminal
    assert second.order.order_id == "o-2"
    reported = [data for name, data in emitted if name == "order.unknown_status"]
    assert reported == [
        {"severity": "warning", "stream": "trade_updates", "order_id": "o-1", "status": "teleported", "mapped_to": "new"}
    ]
