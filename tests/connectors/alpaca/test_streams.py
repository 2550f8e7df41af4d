"""Order updates with REST back-fill after a dropped stream, and the market data streams."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from portico.clock import system_clock
from portico.mocks import RunningMock
from portico.models import OrderEvent, OrderRequest, OrderSide
from portico.testing import wait_for_async
from tests.connectors.alpaca.conftest import make_connector


def _buy(cid: str, qty: int = 1) -> OrderRequest:
    return OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(qty), client_order_id=cid)


async def test_fills_missed_while_disconnected_are_backfilled(served: Callable[..., RunningMock]) -> None:
    # the server drops the stream when it tries to send its fifth message: authorization, listening,
    # A new, A fill go through; B's events are lost with the connection
    running = served(faults=[{"route": "/stream", "kind": "ws_disconnect", "after_messages": 4, "times": 1}])
    connector = make_connector(running, clock=system_clock, emit=lambda event, **data: emitted.append(event))
    emitted: list[str] = []
    await connector.open()
    events: list[OrderEvent] = []
    stream = connector.subscribe_order_updates()

    async def collect() -> None:
        async for event in stream:
            events.append(event)

    task = asyncio.create_task(collect())
    try:
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/stream")) == 1)
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/stream")[0].messages) >= 2)
        await connector.place_order(_buy("A"))
        await wait_for_async(lambda: len(events) >= 2, message=f"events: {events}")
        await connector.place_order(_buy("B"))
        await wait_for_async(lambda: any(e.order.client_order_id == "B" for e in events), timeout=15)
        await connector.place_order(_buy("C"))
        await wait_for_async(lambda: any(e.order.client_order_id == "C" and e.event == "fill" for e in events), timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
        await connector.close()
    summary = [(e.order.client_order_id, e.event, e.source) for e in events]
    assert summary[:2] == [("A", "new", "stream"), ("A", "fill", "stream")]
    assert ("B", "fill", "poll") in summary, summary
    assert [s for s in summary if s[0] == "C"] == [("C", "new", "stream"), ("C", "fill", "stream")]
    # nothing reported twice, and A was not re-reported by the back-fill
    assert len({e.event_id for e in events}) == len(events)
    assert [s for s in summary if s[0] == "A"] == [("A", "new", "stream"), ("A", "fill", "stream")]
    assert len(running.app.journal.entries("WS", "/stream")) == 2
    assert "stream.reconnected" in emitted and "stream.backfilled" in emitted


async def test_market_data_streams(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running, clock=system_clock)

    async def first(iterator, count: int) -> list:  # type: ignore[no-untyped-def]
        out = []
        async for item in iterator:
            out.append(item)
            if len(out) == count:
                break
        await iterator.aclose()
        return out

    quotes = await asyncio.wait_for(first(connector.subscribe_quotes(["msft", "AAPL"]), 4), 15)
    assert {q.symbol for q in quotes} == {"MSFT", "AAPL"} and all(q.bid_price < q.ask_price for q in quotes)
    trades = await asyncio.wait_for(first(connector.subscribe_trades(["TSLA"]), 2), 15)
    assert all(t.symbol == "TSLA" and t.price > 0 for t in trades)
    bars = await asyncio.wait_for(first(connector.subscribe_bars(["AAPL"]), 1), 15)
    assert bars[0].symbol == "AAPL" and bars[0].low <= bars[0].close <= bars[0].high
    sessions = running.app.journal.entries("WS", "/v2/iex")
    assert len(sessions) == 3 and sessions[0].messages[0]["action"] == "auth"


async def test_market_data_iterators_share_one_connection(served: Callable[..., RunningMock]) -> None:
    running = served(stream_connection_limit=1)
    connector = make_connector(running, clock=system_clock)
    quotes_it = connector.subscribe_quotes(["AAPL"])
    trades_it = connector.subscribe_trades(["AAPL", "MSFT"])
    try:
        quote = await asyncio.wait_for(quotes_it.__anext__(), 15)
        trade = await asyncio.wait_for(trades_it.__anext__(), 15)
        assert quote.symbol == "AAPL" and trade.symbol in {"AAPL", "MSFT"}
        await quotes_it.aclose()
        # the trades iterator goes on over the same connection after the quotes one left
        assert (await asyncio.wait_for(trades_it.__anext__(), 15)).price > 0
    finally:
        await quotes_it.aclose()
        await trades_it.aclose()
    sessions = running.app.journal.entries("WS", "/v2/iex")
    assert len(sessions) == 1  # the mock would have refused a second one (error 406)
    actions = [(m["action"], {k: v for k, v in m.items() if k in ("trades", "quotes")}) for m in sessions[0].messages[1:]]
    assert actions == [
        ("subscribe", {"quotes": ["AAPL"]}),
        ("subscribe", {"trades": ["AAPL", "MSFT"]}),
        ("unsubscribe", {"quotes": ["AAPL"]}),
    ]
    await wait_for_async(lambda: not connector._market_stream().connected, message="the shared stream stayed open")


async def test_a_reconnect_does_not_replay_history(served: Callable[..., RunningMock]) -> None:
    running = served(faults=[{"route": "/stream", "kind": "ws_disconnect", "after_messages": 1, "times": 1}])
    venue = running.app.venue
    for i in range(3):  # history from before the subscription
        venue.place_order(symbol="AAPL", side="buy", qty=1, client_order_id=f"old-{i}")
    connector = make_connector(running, clock=system_clock)
    events: list[OrderEvent] = []
    stream = connector.subscribe_order_updates()

    async def collect() -> None:
        async for event in stream:
            events.append(event)

    task = asyncio.create_task(collect())
    try:
        # the first connection drops right after listening; the second one stays
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/stream")) == 2, timeout=15)
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/stream")[1].messages) >= 2)
        await connector.place_order(_buy("new-1"))
        await wait_for_async(lambda: any(e.event == "fill" for e in events), timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
        await connector.close()
    assert {e.order.client_order_id for e in events} == {"new-1"}

