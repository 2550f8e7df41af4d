"""Lost acknowledgements over TWS: the order reached the venue, its answer did not.

200 orders with 30% of their acknowledgements dropped after the venue committed them: none may be
duplicated, none lost, and none reported rejected without the venue saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

pytest.importorskip("ib_async")

from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.errors import OutcomeUnknown, VenueRejected
from portico.mocks.interactive_brokers.tws import TwsMockServer
from portico.models import OrderRequest, OrderSide, OrderStatus, OrderType
from portico.sdk import ConnectorContext


@pytest.fixture
async def server() -> AsyncIterator[TwsMockServer]:
    server = await TwsMockServer(seed=11, faults={"drop_order_ack": 0.3}, tick_interval=0).start()
    yield server
    await server.stop()


@pytest.fixture
async def connector(server: TwsMockServer) -> AsyncIterator[InteractiveBrokersConnector]:
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls={"tws": server.url},
        connection={"transport": "tws", "client_id": 3, "ack_timeout": 0.1},
        auth_scheme="tws",
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    yield connector
    await connector.close()


def _request(index: int) -> OrderRequest:
    if index % 2:
        return OrderRequest(
            symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"fault-{index}"
        )
    # far from the market: rests as an open order, so the lookup has to search open orders too
    return OrderRequest(
        symbol="MSFT",
        side=OrderSide.BUY,
        quantity=Decimal(2),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("1.00"),
        client_order_id=f"fault-{index}",
    )


async def test_200_orders_with_lost_acks_are_neither_duplicated_nor_lost(
    server: TwsMockServer, connector: InteractiveBrokersConnector
) -> None:
    answered: dict[str, str] = {}
    unknown: list[str] = []
    for index in range(200):
        request = _request(index)
        try:
            order = await connector.place_order(request)
        except OutcomeUnknown:
            unknown.append(request.client_order_id or "")
            continue
        except VenueRejected as exc:  # pragma: no cover - the assertion below explains the failure
            pytest.fail(
                f"order {request.client_order_id} reported rejected without the venue refusing it: {exc}"
            )
        assert order.client_order_id == request.client_order_id
        assert order.status is not OrderStatus.REJECTED
        answered[order.client_order_id or ""] = order.order_id

    # the fault really fired, and the connector answered those orders by lookup instead of failing
    dropped = sum(1 for _client, fields in server.journal if fields[0] == "16")
    assert dropped >= 30, "expected the lost-ack path (a lookup of all open orders) to run for many orders"

    # a caller that retries an order whose outcome it did not learn gets the same order back
    for ref in unknown:
        index = int(ref.split("-")[1])
        order = await connector.place_order(_request(index))
        answered[ref] = order.order_id
    retried = await connector.place_order(_request(1))
    assert retried.order_id == answered["fault-1"]

    refs = Counter(o.order_ref for o in server.venue.orders.values())
    assert len(server.venue.orders) == 200, "an order was duplicated or lost"
    assert set(refs) == {f"fault-{i}" for i in range(200)} and max(refs.values()) == 1
    assert len(answered) == 200
    by_perm = {str(o.perm_id): o for o in server.venue.orders.values()}
    for ref, order_id in answered.items():
        assert by_perm[order_id].order_ref == ref
    assert all(o.status != "Inactive" for o in server.venue.orders.values())

    # every market order filled exactly once at the venue, and the connector reports the same
    fills = Counter(f.perm_id for f in server.venue.fills)
    assert all(count == 1 for count in fills.values())
    sample = await connector.get_order(answered["fault-1"])
    assert sample.status is OrderStatus.FILLED and sample.average_fill_price is not None


async def test_200_orders_with_the_connection_dropped_after_commit() -> None:
    server = await TwsMockServer(seed=12, faults={"disconnect_after_commit": 0.1}, tick_interval=0).start()
    events: list[str] = []
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls={"tws": server.url},
        connection={"transport": "tws", "client_id": 4, "ack_timeout": 0.2},
        auth_scheme="tws",
        emit=lambda name, **data: events.append(name),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        answered: dict[str, str] = {}
        for index in range(200):
            request = _request(index)
            try:
                order = await connector.place_order(request)
            except OutcomeUnknown:
                # the caller's recovery: ask again with the same client order id, never a new one
                order = await connector.place_order(request)
            except VenueRejected as exc:  # pragma: no cover
                pytest.fail(
                    f"{request.client_order_id} reported rejected without the venue refusing it: {exc}"
                )
            assert order.client_order_id == request.client_order_id
            answered[request.client_order_id or ""] = order.order_id
    finally:
        await connector.close()
        await server.stop()
    assert events.count("tws.reconnected") >= 10, "the fault should have dropped the connection many times"
    refs = Counter(o.order_ref for o in server.venue.orders.values())
    assert len(server.venue.orders) == 200 and max(refs.values()) == 1
    by_perm = {str(o.perm_id): o.order_ref for o in server.venue.orders.values()}
    assert all(by_perm[order_id] == ref for ref, order_id in answered.items())
