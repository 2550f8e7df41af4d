"""Lost answers over the Client Portal: the gateway committed the order (or its confirmation) and the
connection dropped before the answer. 200 orders: none duplicated, none lost, none reported rejected
without the venue saying so."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from portico.clock import FakeClock
from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.errors import OutcomeUnknown, VenueRejected
from portico.models import OrderRequest, OrderSide, OrderStatus, OrderType
from portico.sdk import ConnectorContext

FAULTS = [
    {"route": "/v1/api/iserver/account/*/orders", "method": "POST", "kind": "drop_after", "probability": 0.3},
    {"route": "/v1/api/iserver/reply/*", "method": "POST", "kind": "drop_after", "probability": 0.3},
]


def _request(index: int) -> OrderRequest:
    if index % 2:
        return OrderRequest(
            symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"web-fault-{index}"
        )
    return OrderRequest(
        symbol="MSFT",
        side=OrderSide.BUY,
        quantity=Decimal(1),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("1.00"),
        client_order_id=f"web-fault-{index}",
    )


async def test_200_orders_with_dropped_answers(ib_mock_factory: Callable[..., Any]) -> None:
    # IB's pacing (1 live-orders call per 5 s) is honoured by the connector on a fake clock, so the
    # lookups cost no real time; the mock's own wall-clock pacing is off for the same reason.
    mock = await ib_mock_factory(seed=5, faults=FAULTS, pacing=False)
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls=mock.urls,
        connection={"transport": "web"},
        clock=FakeClock(),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        answered: dict[str, str] = {}
        unknown: list[str] = []
        for index in range(200):
            request = _request(index)
            try:
                order = await connector.place_order(request)
            except OutcomeUnknown:
                unknown.append(request.client_order_id or "")
                continue
            except VenueRejected as exc:
                raise AssertionError(
                    f"{request.client_order_id} reported rejected without the venue refusing it: {exc}"
                ) from exc
            assert order.client_order_id == request.client_order_id
            assert order.status is not OrderStatus.REJECTED
            answered[request.client_order_id or ""] = order.order_id
        # retrying an order whose outcome was not learned returns the order the venue holds
        for ref in unknown:
            order = await connector.place_order(_request(int(ref.rsplit("-", 1)[1])))
            answered[ref] = order.order_id
        again = await connector.place_order(_request(3))
        assert again.order_id == answered["web-fault-3"]
    finally:
        await connector.close()

    venue = mock.app.venue
    dropped = [e for e in mock.app.journal.entries() if "drop_after" in e.faults]
    assert len(dropped) >= 60, "the fault should have dropped many answers"
    refs = Counter(o.order_ref for o in venue.orders.values())
    assert len(venue.orders) == 200, "an order was duplicated or lost"
    assert set(refs) == {f"web-fault-{i}" for i in range(200)} and max(refs.values()) == 1
    by_id = {str(o.perm_id): o for o in venue.orders.values()}
    assert len(answered) == 200
    for ref, order_id in answered.items():
        assert by_id[order_id].order_ref == ref
    fills = Counter(f.perm_id for f in venue.fills)
    assert all(count == 1 for count in fills.values())
    assert all(o.status != "Inactive" for o in venue.orders.values())
