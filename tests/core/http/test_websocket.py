"""WebSocketClient against a real local websockets server: reconnect, resubscribe, heartbeat, back-pressure."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from portico.clock import FakeClock
from portico.errors import CircuitOpen, ConfigurationError, ConnectionFailed
from portico.http import CallRecord, CircuitBreaker, WebSocketClient, WebSocketState
from portico.sdk import RetryPolicy

from .waiting import eventually


@dataclass
class StreamServer:
    """Subscribes clients to a counter stream; can drop connections or go silent on command."""

    url: str = ""
    connections: int = 0
    subscriptions: list[tuple[int, list[str]]] = field(default_factory=list)
    drop_after: int | None = None  # close each connection after sending this many messages
    burst: int = 0  # messages sent right after a subscription
    silent_first: bool = False  # stop reading (so no pongs) on the first connection
    closes: list[int | None] = field(default_factory=list)
    garbage: bool = False  # send one non-JSON message before the burst
    release: asyncio.Event = field(default_factory=asyncio.Event)  # set on teardown: silent handlers end

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        if self.silent_first and number == 1:
            ws.transport.pause_reading()
            await self.release.wait()
            ws.transport.abort()
            return
        sent = 0
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("action") == "subscribe":
                    self.subscriptions.append((number, message["symbols"]))
                    await ws.send(json.dumps({"type": "subscribed", "connection": number}))
                    if self.garbage:
                        await ws.send("<<not json>>")
                    for i in range(self.burst):
                        await ws.send(json.dumps({"type": "tick", "n": i, "connection": number}))
                        sent += 1
                        if self.drop_after is not None and sent >= self.drop_after and number == 1:
                            await ws.close(code=1012, reason="restart")
                            return
        finally:
            self.closes.append(ws.close_code)


@pytest.fixture
async def server() -> AsyncIterator[StreamServer]:
    state = StreamServer()
    async with serve(state.handler, "127.0.0.1", 0, ping_interval=None, close_timeout=1) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}/stream?token=SECRET"
        try:
            yield state
        finally:
            state.release.set()


def subscriber(symbols: list[str]) -> Any:
    async def on_connect(client: WebSocketClient) -> None:
        await client.send({"action": "subscribe", "symbols": symbols})

    return on_connect


async def test_reconnects_and_resubscribes_after_the_server_drops_it(server: StreamServer) -> None:
    server.burst, server.drop_after = 5, 3
    clock = FakeClock()
    records: list[CallRecord] = []
    client = WebSocketClient(
        server.url,
        system="stream",
        clock=clock,
        heartbeat_interval=None,
        on_connect=subscriber(["AAPL", "MSFT"]),
        decode=json.loads,
        observers=[records.append],
    )
    await client.connect()
    received: list[dict[str, Any]] = []
    while len([m for m in received if m.get("connection") == 2 and m["type"] == "tick"]) < 5:
        received.append(await asyncio.wait_for(client.receive(), 10))
    assert server.connections == 2
    assert server.subscriptions == [(1, ["AAPL", "MSFT"]), (2, ["AAPL", "MSFT"])]
    assert client.reconnects == 1
    assert client.state is WebSocketState.CONNECTED
    assert [m["n"] for m in received if m["type"] == "tick" and m["connection"] == 1] == [0, 1, 2]
    assert client.messages_received == len(received)
    assert len(clock.sleeps) == 1  # one backoff before reconnecting, on the fake clock
    assert [r.outcome for r in records] == ["ok", "ok"]
    assert all("SECRET" not in r.endpoint for r in records) and records[0].endpoint == "WS /stream"
    assert "SECRET" not in repr(client)
    await client.close()
    assert client.state is WebSocketState.CLOSED


async def test_heartbeat_timeout_drops_a_silent_connection(server: StreamServer) -> None:
    server.silent_first = True
    clock = FakeClock(auto_advance=False)
    events: list[str] = []
    client = WebSocketClient(
        server.url,
        system="stream",
        clock=clock,
        heartbeat_interval=5.0,
        heartbeat_timeout=2.0,
        on_connect=subscriber(["AAPL"]),
        events=lambda name, **data: events.append(name),
    )
    await client.connect()
    await eventually(lambda: client.heartbeat_failures == 1, clock=clock, advance=0.5)
    await eventually(lambda: client.reconnects == 1 and client.state is WebSocketState.CONNECTED, clock=clock, advance=0.5)
    await eventually(lambda: len(server.subscriptions) == 1)
    assert server.subscriptions == [(2, ["AAPL"])]
    assert events[:3] == ["ws.connected", "ws.heartbeat_timeout", "ws.reconnecting"]
    # The healthy connection answers pings: many intervals pass without another failure.
    answered = client.heartbeats_answered
    for round_ in range(1, 6):
        await eventually(lambda: clock.pending_sleepers >= 1)
        clock.advance(5.0)
        await eventually(lambda r=round_: client.heartbeats_answered == answered + r)
    assert client.heartbeat_failures == 1
    await client.close()


async def test_drop_oldest_keeps_reading_and_counts_what_it_drops(server: StreamServer) -> None:
    server.burst = 50
    client = WebSocketClient(
        server.url,
        system="stream",
        clock=FakeClock(),
        heartbeat_interval=None,
        on_connect=subscriber(["AAPL"]),
        decode=json.loads,
        queue_size=10,
        overflow="drop_oldest",
    )
    await client.connect()
    await eventually(lambda: client.messages_received == 51)
    assert client.messages_dropped == 41
    assert client.queue_depth == 10
    left = [(await client.receive())["n"] for _ in range(10)]
    assert left == list(range(40, 50))
    await client.close()


async def test_block_stops_reading_until_the_consumer_catches_up(server: StreamServer) -> None:
    server.burst = 50
    client = WebSocketClient(
        server.url,
        system="stream",
        clock=FakeClock(),
        heartbeat_interval=None,
        on_connect=subscriber(["AAPL"]),
        decode=json.loads,
        queue_size=5,
        overflow="block",
    )
    await client.connect()
    await eventually(lambda: client.queue_depth == 5 and client.reader_blocked)
    assert client.messages_received == 6  # five queued, the sixth held by the blocked reader
    assert client.messages_dropped == 0
    messages = [await asyncio.wait_for(client.receive(), 10) for _ in range(51)]
    assert messages[0]["type"] == "subscribed"
    assert [m["n"] for m in messages[1:]] == list(range(50))
    await client.close()


async def test_clean_close_drains_then_ends_iteration(server: StreamServer) -> None:
    server.burst = 3
    client = WebSocketClient(
        server.url, system="stream", clock=FakeClock(), heartbeat_interval=None, on_connect=subscriber(["X"])
    )
    await client.connect()
    await eventually(lambda: client.queue_depth == 4)
    await client.close()
    await eventually(lambda: server.closes == [1000])
    assert client.state is WebSocketState.CLOSED
    assert len([m async for m in client]) == 4
    with pytest.raises(ConnectionFailed, match="closed"):
        await client.receive()
    with pytest.raises(ConnectionFailed, match="not connected"):
        await client.send("x")


async def test_gives_up_after_the_allowed_attempts() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    clock = FakeClock()
    client = WebSocketClient(
        f"ws://127.0.0.1:{port}/",
        system="stream",
        clock=clock,
        reconnect=RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0),
        heartbeat_interval=None,
    )
    with pytest.raises(ConnectionFailed):
        await client.connect()
    assert len(clock.sleeps) == 3
    assert client.state is WebSocketState.CLOSED


async def test_open_breaker_refuses_the_connection(server: StreamServer) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("stream", failure_threshold=1, clock=clock)
    breaker.record_failure(breaker.before_call())
    client = WebSocketClient(server.url, system="stream", clock=clock, breaker=breaker, heartbeat_interval=None)
    with pytest.raises(CircuitOpen):
        await client.connect()
    assert server.connections == 0


async def test_a_malformed_message_is_skipped_not_fatal(server: StreamServer) -> None:
    server.burst, server.garbage = 2, True
    client = WebSocketClient(
        server.url,
        system="stream",
        clock=FakeClock(),
        heartbeat_interval=None,
        on_connect=subscriber(["AAPL"]),
        decode=json.loads,
    )
    await client.connect()
    messages = [await asyncio.wait_for(client.receive(), 10) for _ in range(3)]
    assert [m["type"] for m in messages] == ["subscribed", "tick", "tick"]
    assert client.decode_errors == 1
    assert client.reconnects == 0 and server.connections == 1
    await client.close()
    with pytest.raises(ConfigurationError, match="create a new one"):
        await client.connect()
