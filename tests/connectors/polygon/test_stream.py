"""The connector's stocks stream against the mock over TCP: auth, shared subscriptions, reconnect and
resubscribe after a dropped connection, and refusals (unknown key, a plan without the stream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from portico.connectors.polygon import PolygonConnector
from portico.errors import AuthError
from portico.mocks import RunningMock, start_mock
from portico.mocks._kit import MockClock
from portico.mocks.polygon import create_app
from portico.models import Bar, Quote, Trade
from portico.sdk import ConnectorContext

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
KEY = "stream-secret-key-1"
STARTER_KEY = "stream-starter-key-2"
FREE_KEY = "stream-free-key-3"
TIMEOUT = 10.0


@pytest.fixture
def running() -> Iterator[RunningMock]:
    app = create_app(
        seed=9, clock=MockClock(NOW), stream_interval=0.01, known_keys_only=True,
        key_plans={KEY: "advanced", STARTER_KEY: "starter", FREE_KEY: "free"},
    )  # fmt: skip
    server = start_mock(app)
    try:
        yield server
    finally:
        server.stop_sync()


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **data: Any) -> None:
        self.seen.append((event, data))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
async def make(running: RunningMock, events: Events) -> AsyncIterator[Any]:
    made: list[PolygonConnector] = []

    def build(key: str = KEY, plan: str = "advanced") -> PolygonConnector:
        context = ConnectorContext.for_testing(
            PolygonConnector, urls=running.urls, credentials={"api_key": key}, connection={"plan": plan},
            emit=events,
        )  # fmt: skip
        connector = PolygonConnector(context)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        await connector.close()


async def take(stream: AsyncIterator[Any], count: int) -> list[Any]:
    out: list[Any] = []

    async def run() -> None:
        async for item in stream:
            out.append(item)
            if len(out) >= count:
                return

    try:
        await asyncio.wait_for(run(), TIMEOUT)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return out


async def test_quotes_trades_and_minute_bars_stream(make: Any, running: RunningMock) -> None:
    connector = make()
    quotes = await take(connector.subscribe_quotes(["aapl"]), 3)
    assert all(isinstance(q, Quote) and q.symbol == "AAPL" and q.bid_price <= q.ask_price for q in quotes)
    trades = await take(connector.subscribe_trades(["MSFT"]), 3)
    assert all(isinstance(t, Trade) and t.symbol == "MSFT" and t.price > 0 for t in trades)
    [bar] = await take(connector.subscribe_bars(["SPY"]), 1)
    assert isinstance(bar, Bar) and bar.symbol == "SPY"
    # the last minute closed before the mock's 10:00: 09:59 New York
    assert bar.timestamp == datetime(2026, 1, 5, 14, 59, tzinfo=UTC)


async def test_iterators_share_one_connection_and_unsubscribe_on_close(
    make: Any, running: RunningMock
) -> None:
    connector = make()
    stream = running.app.state.stream
    quotes = connector.subscribe_quotes(["AAPL"])
    trades = connector.subscribe_trades(["AAPL"])
    first_quote = await asyncio.wait_for(anext(quotes), TIMEOUT)
    first_trade = await asyncio.wait_for(anext(trades), TIMEOUT)
    assert isinstance(first_quote, Quote) and isinstance(first_trade, Trade)
    assert stream.connections == 1
    await trades.aclose()
    await quotes.aclose()
    sent = [m for e in running.app.journal.entries("WS", None) for m in e.messages]
    assert {"action": "unsubscribe", "params": "T.AAPL"} in sent
    assert len(running.app.journal.entries("WS", None)) == 1


async def test_a_dropped_connection_reconnects_and_resubscribes(
    make: Any, running: RunningMock, events: Events
) -> None:
    running.app.faults.add({"route": "/stocks", "kind": "ws_disconnect", "after_messages": 6, "times": 1})
    connector = make()
    quotes = await take(connector.subscribe_quotes(["AAPL"]), 12)
    assert len(quotes) == 12 and all(q.symbol == "AAPL" for q in quotes)
    assert running.app.state.stream.connections == 2
    assert "stream.reconnected" in events.names()
    subscribes = [m for e in running.app.journal.entries("WS", None) for m in e.messages
                  if isinstance(m, dict) and m.get("action") == "subscribe"]  # fmt: skip
    assert subscribes == [{"action": "subscribe", "params": "Q.AAPL"}] * 2


async def test_an_unknown_key_ends_the_stream_with_auth_error(make: Any) -> None:
    connector = make(key="nobody-knows-this-key")
    with pytest.raises(AuthError, match="authentication failed"):
        await take(connector.subscribe_quotes(["AAPL"]), 1)


async def test_a_key_whose_plan_lacks_the_stream_is_refused_by_the_vendor(make: Any) -> None:
    connector = make(key=FREE_KEY, plan="starter")  # configured too high: the vendor decides
    with pytest.raises(AuthError, match="websocket access"):
        await take(connector.subscribe_trades(["AAPL"]), 1)
