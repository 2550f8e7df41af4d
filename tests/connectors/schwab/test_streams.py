"""The streamer over TCP: order events, a dropped connection back-filled over REST; and the pieces
that read Schwab's stream messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.connectors.schwab import SPEC, SchwabAuth, SchwabConnector
from portico.connectors.schwab.spec import AUTH_SCHEME
from portico.connectors.schwab.stream import QuoteBook, bar_from_chart, order_id_from_activity
from portico.mocks import RunningMock
from portico.models import OrderEvent, OrderRequest, OrderSide, OrderStatus
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.testing import wait_for_async
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK


def make_connector(
    running: RunningMock, events: list[tuple[str, dict[str, Any]]], **connection: Any
) -> SchwabConnector:
    clock = running.app.clock
    manager = AuthenticationManager(clock=clock)
    manager.register_scheme(AUTH_SCHEME, SchwabAuth)
    options = resolve_url_templates(
        {**SPEC.auth[0].options, "redirect_uri": CALLBACK, "auto_login": True}, dict(running.urls)
    )
    credentials = {"client_id": SecretStr(APP_KEY), "client_secret": SecretStr(APP_SECRET)}
    auth = manager.build("schwab", AUTH_SCHEME, credentials, options)
    context = ConnectorContext.for_testing(
        SchwabConnector,
        urls=running.urls,
        credentials=credentials,
        auth=auth,
        clock=clock,
        emit=lambda event, **data: events.append((event, data)),
        connection=connection,
    )
    return SchwabConnector(context)


async def test_an_order_missed_while_disconnected_is_back_filled(served: Callable[..., RunningMock]) -> None:
    # the first streamer connection dies when it tries to send its third message (the first order event)
    running = served(
        realtime=True, faults=[{"route": "/ws", "kind": "ws_disconnect", "after_messages": 2, "times": 1}]
    )
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted)
    await connector.open()
    received: list[OrderEvent] = []

    async def collect() -> None:
        async for event in connector.subscribe_order_updates():
            received.append(event)
            if event.order.client_order_id == "stream-1" and event.order.status is OrderStatus.FILLED:
                return

    task = asyncio.create_task(collect())
    try:
        await wait_for_async(lambda: any(e == "stream.subscribed" for e, _ in emitted), timeout=10)
        placed = await connector.place_order(
            OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(2), client_order_id="stream-1")
        )
        await asyncio.wait([task], timeout=8)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    print(emitted, received)
    mine = [e for e in received if e.order.order_id == placed.order_id]
    assert [e.source for e in mine] == ["backfill"]
    assert mine[0].event == "fill" and mine[0].order.filled_quantity == Decimal(2)
    names = [e for e, _ in emitted if e.startswith("stream.")]
    assert names[:4] == [
        "stream.subscribed",
        "stream.disconnected",
        "stream.reconnected",
        "stream.subscribed",
    ]


async def test_order_events_on_a_healthy_stream(served: Callable[..., RunningMock]) -> None:
    running = served(realtime=True)
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted)
    await connector.open()
    received: list[OrderEvent] = []

    async def collect() -> None:
        async for event in connector.subscribe_order_updates():
            received.append(event)
            if event.order.status is OrderStatus.CANCELED:
                return

    task = asyncio.create_task(collect())
    try:
        await wait_for_async(lambda: any(e == "stream.subscribed" for e, _ in emitted), timeout=10)
        from portico.models import OrderType

        resting = await connector.place_order(
            OrderRequest(
                symbol="AAPL",
                side=OrderSide.BUY,
                quantity=Decimal(1),
                order_type=OrderType.LIMIT,
                limit_price=Decimal("1.00"),
                client_order_id="rest-1",
            )
        )
        await wait_for_async(lambda: any(e.order.order_id == resting.order_id for e in received), timeout=10)
        await connector.cancel_order(resting.order_id)
        await asyncio.wait_for(task, 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    assert [(e.event, e.source, e.order.client_order_id) for e in received] == [
        ("new", "stream", "rest-1"),
        ("canceled", "stream", "rest-1"),
    ]


def test_level_one_deltas_are_merged() -> None:
    book = QuoteBook()
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    first = book.update(
        {"key": "AAPL", "1": 190.1, "2": 190.2, "3": 190.15, "4": 3, "5": 2, "34": 1767625200000}, now
    )
    second = book.update({"key": "AAPL", "2": 190.25}, now)  # only the ask moved
    assert first is not None and second is not None
    assert (second.bid_price, second.ask_price, second.last_price) == (
        Decimal("190.1"),
        Decimal("190.25"),
        Decimal("190.15"),
    )
    assert second.timestamp == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    assert book.update({"key": "MSFT", "9": 100}, now) is None  # no price yet


def test_chart_items_are_one_minute_bars() -> None:
    bar = bar_from_chart(
        {
            "key": "AAPL",
            "1": 7,
            "2": 190.0,
            "3": 190.5,
            "4": 189.9,
            "5": 190.2,
            "6": 12000.0,
            "7": 1767625200000,
            "8": 4,
        }
    )
    assert (bar.symbol, bar.open, bar.close, bar.volume) == (
        "AAPL",
        Decimal("190.0"),
        Decimal("190.2"),
        Decimal("12000.0"),
    )
    assert bar.timestamp == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def test_activity_messages_name_their_order() -> None:
    assert (
        order_id_from_activity(
            {"key": "k", "1": "12345678", "2": "ExecutionCreated", "3": '{"SchwabOrderID": "1000000001"}'}
        )
        == "1000000001"
    )
    assert order_id_from_activity({"3": '{"Order": {"OrderKey": {"OrderID": 42}}}'}) == "42"
    assert order_id_from_activity({"3": "ERROR: not json"}) is None


async def test_check_reports_the_refresh_tokens_term(served: Callable[..., RunningMock]) -> None:
    running = served()  # pinned clock: the term is exact
    connector = make_connector(running, [])
    await connector.open()
    try:
        result = await connector.check()
        assert result.ok
        assert result.checks == {"reachable": True, "authenticated": True, "refresh_token": True}
        assert result.detail == "account reachable; refresh token expires in 168.0 h"
        running.app.clock.advance(7 * 24 * 3600 - 1200)  # 20 minutes left: the access token is still good
        expired_soon = await connector.check()
        assert expired_soon.detail.endswith("refresh token expires in 0.3 h")
    finally:
        await connector.close()


async def test_an_order_placed_while_the_stream_was_subscribing_is_back_filled(
    served: Callable[..., RunningMock],
) -> None:
    running = served(realtime=True)
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted)
    await connector.open()
    stream = connector.subscribe_order_updates()
    try:
        # the stream was asked for first; the order goes in before its subscription is confirmed
        first = asyncio.ensure_future(stream.__anext__())
        placed = await connector.place_order(
            OrderRequest(symbol="MSFT", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="early-1")
        )
        event = await asyncio.wait_for(first, 20)
    finally:
        await stream.aclose()
        await connector.close()
    assert (event.order.order_id, event.order.client_order_id) == (placed.order_id, "early-1")
    assert event.order.status is OrderStatus.FILLED
    assert [e for e, _ in emitted].count("stream.subscribed") == 1


async def test_a_finished_order_is_read_once_and_other_accounts_are_skipped(
    served: Callable[..., RunningMock],
) -> None:
    running = served(realtime=True)
    app = running.app
    # a second linked account: its orders' activity reaches the same stream
    other = app.link_account(app.venue.create_account(cash=Decimal(100_000)).id)
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted)
    await connector.open()
    reads: list[str] = []
    get_order = connector.get_order

    async def counted(order_id: str) -> Any:
        reads.append(order_id)
        return await get_order(order_id)

    connector.get_order = counted  # type: ignore[method-assign]
    received: list[OrderEvent] = []

    async def collect() -> None:
        async for event in connector.subscribe_order_updates():
            received.append(event)

    task = asyncio.create_task(collect())
    try:
        await wait_for_async(lambda: any(e == "stream.subscribed" for e, _ in emitted), timeout=10)
        theirs = app.venue.place_order(symbol="AAPL", side="buy", qty=Decimal(1), account_id=other.venue_id)
        placed = await connector.place_order(
            OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(3), client_order_id="once-1")
        )
        await wait_for_async(
            lambda: any(e.order.order_id == placed.order_id and e.order.is_terminal for e in received),
            timeout=10,
        )
        # the order's later activity messages (it filled: several of them) arrive, and are not read
        marker = await connector.place_order(
            OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="once-2")
        )
        await wait_for_async(lambda: any(e.order.order_id == marker.order_id for e in received), timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    assert reads.count(placed.order_id) == 1
    assert str(app.order_number(theirs.id)) not in reads
