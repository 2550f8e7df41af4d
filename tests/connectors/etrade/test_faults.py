"""Placement under faults: lost answers are resolved by listing orders for the client order id,
duplicates mean "already placed", and nothing is placed twice or falsely rejected."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from portico.errors import NotFound, OutcomeUnknown
from portico.mocks import RunningMock
from portico.models import Order, OrderRequest, OrderSide, OrderStatus
from tests.connectors.etrade.conftest import make_connector

FAULTS = [
    # 20% of placements are committed, then the answer is lost
    {"route": "/v1/accounts/*/orders/place.json", "method": "POST", "kind": "drop_after", "probability": 0.2},
    # 5% of all requests (previews, placements, lookups) have their connection dropped before processing
    {"route": "/v1/*", "kind": "drop_before", "probability": 0.05},
]
SYMBOLS = ("F", "T", "KO", "GE", "V", "MA", "PEP", "WMT", "XOM", "CVX")


async def test_500_orders_arrive_exactly_once(served: Callable[..., RunningMock]) -> None:
    running = served(faults=FAULTS, starting_cash=10_000_000)
    connector = make_connector(running)
    await connector.open()
    await connector.get_account()  # the account key, read before the faults matter
    gate = asyncio.Semaphore(8)
    placed: dict[str, Order] = {}
    unknown = 0

    async def place(i: int) -> None:
        nonlocal unknown
        cid = f"fault-{i:03d}"
        request = OrderRequest(
            symbol=SYMBOLS[i % len(SYMBOLS)], side=OrderSide.BUY, quantity=Decimal(1), client_order_id=cid
        )
        async with gate:
            for _ in range(20):  # bounded: a connector that never settles fails the test, not the suite
                try:
                    placed[cid] = await connector.place_order(request)
                    return
                except OutcomeUnknown:
                    # what the trading service does: resolve by lookup, send again only if never received
                    unknown += 1
                    try:
                        placed[cid] = await connector.get_order_by_client_id(cid)
                        return
                    except (NotFound, OutcomeUnknown):
                        continue
            raise AssertionError(f"{cid} never settled in 20 attempts")

    try:
        await asyncio.gather(*(place(i) for i in range(500)))
    finally:
        await connector.close()

    venue = running.app.venue
    assert len(venue.orders) == 500
    assert sorted(o.client_order_id for o in venue.orders.values()) == [f"fault-{i:03d}" for i in range(500)]
    assert sorted(placed) == [f"fault-{i:03d}" for i in range(500)]
    assert all(o.client_order_id == cid and o.status is not OrderStatus.REJECTED for cid, o in placed.items())
    places = running.app.journal.entries("POST")
    lost = [
        e
        for e in places
        if e.path.endswith("/place.json") and "drop_after" in e.faults and "drop_before" not in e.faults
    ]
    refused = [e for e in running.app.journal.entries() if "drop_before" in e.faults]
    assert len(lost) >= 60 and len(refused) >= 30, (len(lost), len(refused))
    # a committed order was never sent again: E*TRADE would have refused its client order id (1078)
    duplicates = [e for e in places if e.status == 400]
    assert duplicates == []


async def test_a_duplicate_client_order_id_returns_the_order_already_placed(
    served: Callable[..., RunningMock],
) -> None:
    running = served()
    connector = make_connector(running)
    request = OrderRequest(symbol="IBM", side=OrderSide.BUY, quantity=Decimal(2), limit_price=Decimal("1.25"),
                           order_type="limit", client_order_id="dup-1")  # fmt: skip
    first = await connector.place_order(request)
    again = await connector.place_order(request)
    assert again.order_id == first.order_id
    assert again.client_order_id == "dup-1"
    assert again.status is OrderStatus.NEW
    assert len(running.app.venue.orders) == 1
    previews = [e.status for e in running.app.journal.entries("POST") if e.path.endswith("/preview.json")]
    assert previews == [200, 400]  # E*TRADE refused the id the second time; the connector looked it up
    await connector.close()
