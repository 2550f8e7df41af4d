"""Idempotent placement under faults: lost answers are resolved by lookup, never sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from portico.errors import NotFound, OutcomeUnknown
from portico.mocks import RunningMock
from portico.models import Order, OrderRequest, OrderSide, OrderStatus
from tests.connectors.alpaca.conftest import make_connector

FAULTS = [
    # 20% of placements are committed, then the answer is lost
    {"route": "/v2/orders", "method": "POST", "kind": "drop_after", "probability": 0.2},
    # 5% of all requests (placements and lookups) have their connection dropped before processing
    {"route": "*", "kind": "drop_before", "probability": 0.05},
]


async def test_500_orders_arrive_exactly_once(served: Callable[..., RunningMock]) -> None:
    running = served(faults=FAULTS, starting_cash=10_000_000)
    connector = make_connector(running)
    await connector.open()
    gate = asyncio.Semaphore(8)
    placed: dict[str, Order] = {}
    unknown = 0

    async def place(i: int) -> None:
        nonlocal unknown
        request = OrderRequest(symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"fault-{i:03d}")
        async with gate:
            while True:
                try:
                    placed[request.client_order_id or ""] = await connector.place_order(request)
                    return
                except OutcomeUnknown:
                    # what the trading service does: resolve by lookup, re-send only if never received
                    unknown += 1
                    try:
                        placed[request.client_order_id or ""] = await connector.get_order_by_client_id(f"fault-{i:03d}")
                        return
                    except (NotFound, OutcomeUnknown):
                        continue

    try:
        await asyncio.gather(*(place(i) for i in range(500)))
    finally:
        await connector.close()

    venue = running.app.venue
    assert len(venue.orders) == 500
    assert sorted(o.client_order_id for o in venue.orders.values()) == [f"fault-{i:03d}" for i in range(500)]
    assert sorted(placed) == [f"fault-{i:03d}" for i in range(500)]
    assert all(o.client_order_id == cid and o.status is OrderStatus.FILLED for cid, o in placed.items())
    posts = running.app.journal.entries("POST", "/v2/orders")
    # no committed order was ever sent again: Alpaca would have answered 422 "must be unique"
    assert [e for e in posts if e.status == 422] == []
    lost = [e for e in posts if "drop_after" in e.faults and "drop_before" not in e.faults]
    refused = [e for e in running.app.journal.entries() if "drop_before" in e.faults]
    assert len(lost) >= 60 and len(refused) >= 15, (len(lost), len(refused))
    # each lost answer was resolved by a lookup before anything else
    lookups = running.app.journal.entries("GET", "/v2/orders:by_client_order_id")
    assert len(lookups) >= len(lost)
    assert len(posts) == 500 + sum(1 for e in posts if "drop_before" in e.faults)
