"""The streamer recovers on its own: a silent connection is caught by the receive timeout, a failed
``/trader/v1/userPreference`` during a reconnect is retried with backoff, and only a definite auth
failure (the refresh token expired) ends the stream, saying how to sign in again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from portico.errors import AuthError, ServerError
from portico.mocks import RunningMock
from portico.models import OrderEvent, OrderRequest, OrderSide, OrderStatus
from portico.testing import wait_for_async
from tests.connectors.schwab.test_streams import make_connector

# the mock's heartbeat comes every 20 ticks: 0.2 s here, well inside the 2 s receive timeout, so only
# the silenced connection goes quiet for longer than that
FAST_TICKS = 0.01
SILENT_AFTER_SUBSCRIBING = {"route": "/ws", "kind": "ws_silence", "after_messages": 2, "times": 1}


async def _follow(connector: Any, received: list[OrderEvent], until: Callable[[OrderEvent], bool]) -> None:
    async for event in connector.subscribe_order_updates():
        received.append(event)
        if until(event):
            return


def _names(emitted: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [e for e, _ in emitted if e.startswith("stream.")]


async def test_a_silent_connection_is_closed_reconnected_resubscribed_and_back_filled(
    served: Callable[..., RunningMock],
) -> None:
    # the first connection answers the login and the subscription, then says nothing (no heartbeat)
    running = served(realtime=True, stream_interval=FAST_TICKS, faults=[SILENT_AFTER_SUBSCRIBING])
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted, stream_receive_timeout=2.0)
    await connector.open()
    received: list[OrderEvent] = []
    task = asyncio.create_task(
        _follow(
            connector,
            received,
            lambda e: e.order.client_order_id == "quiet-1" and e.order.status is OrderStatus.FILLED,
        )
    )
    try:
        await wait_for_async(lambda: "stream.subscribed" in _names(emitted), timeout=10)
        # placed and filled while the line is silent: its activity never arrives on that connection
        placed = await connector.place_order(
            OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(2), client_order_id="quiet-1")
        )
        await asyncio.wait_for(task, 15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    mine = [e for e in received if e.order.order_id == placed.order_id]
    assert [(e.source, e.event) for e in mine] == [("backfill", "fill")]
    assert _names(emitted)[:4] == [
        "stream.subscribed",
        "stream.disconnected",
        "stream.reconnected",
        "stream.subscribed",
    ]
    down = next(data for e, data in emitted if e == "stream.disconnected")
    assert down["error"] == "StreamSilent" and down["failures"] == 1 and down["severity"] == "warning"
    assert "sent nothing for 2 s" in down["reason"]
    # two connections, each logged in and subscribed to ACCT_ACTIVITY
    sessions = running.app.journal.entries("WS", "/ws")
    assert len(sessions) == 2
    for session in sessions:
        sent = [m["requests"][0] for m in session.messages]
        assert [(r["service"], r["command"]) for r in sent] == [("ADMIN", "LOGIN"), ("ACCT_ACTIVITY", "SUBS")]


async def test_a_failed_user_preference_during_a_reconnect_is_retried_with_backoff(
    served: Callable[..., RunningMock], caplog: pytest.LogCaptureFixture
) -> None:
    # userPreference is read twice on the way up (the activity key, the socket URL); on the reconnect
    # it answers 503 six times: the API client's three attempts, twice over
    running = served(
        realtime=True,
        stream_interval=FAST_TICKS,
        faults=[
            SILENT_AFTER_SUBSCRIBING,
            {"route": "/trader/v1/userPreference", "kind": "error", "status": 503, "skip": 2, "times": 6},
        ],
    )
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted, stream_receive_timeout=2.0)
    await connector.open()
    received: list[OrderEvent] = []
    task = asyncio.create_task(
        _follow(
            connector,
            received,
            lambda e: e.order.client_order_id == "pref-1" and e.order.status is OrderStatus.FILLED,
        )
    )
    try:
        with caplog.at_level(logging.WARNING, logger="portico.connectors.schwab"):
            await wait_for_async(lambda: "stream.subscribed" in _names(emitted), timeout=10)
            placed = await connector.place_order(
                OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="pref-1")
            )
            await asyncio.wait_for(task, 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    assert [(e.source, e.event) for e in received if e.order.order_id == placed.order_id] == [
        ("backfill", "fill")
    ]
    downs = [data for e, data in emitted if e == "stream.disconnected"]
    assert [(d["error"], d["failures"]) for d in downs] == [
        ("StreamSilent", 1),
        ("ServerError", 2),
        ("ServerError", 3),
    ]
    # the backoff doubles between attempts, and the monitor is told each time
    assert [d["retry_in"] for d in downs] == [0.25, 0.5, 1.0]
    assert _names(emitted)[-2:] == ["stream.reconnected", "stream.subscribed"]
    assert running.app.journal.count("GET", "/trader/v1/userPreference") == 2 + 6 + 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "portico.connectors.schwab"]
    assert len(warnings) == 3 and all("attempt" in w for w in warnings)
    assert "ServerError" in warnings[1] and "attempt 2, next in 0.50 s" in warnings[1]


async def test_an_expired_refresh_token_ends_the_stream_saying_to_sign_in_again(
    served: Callable[..., RunningMock],
) -> None:
    running = served(stream_interval=FAST_TICKS, faults=[SILENT_AFTER_SUBSCRIBING])
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted, stream_receive_timeout=2.0)
    await connector.open()
    received: list[OrderEvent] = []
    task = asyncio.create_task(_follow(connector, received, lambda e: False))
    try:
        await wait_for_async(lambda: "stream.subscribed" in _names(emitted), timeout=10)
        # eight days pass while the line is silent: the reconnect needs a new access token, and the
        # refresh token (seven days from the sign-in) has expired
        running.app.clock.advance(timedelta(days=8).total_seconds())
        done, _ = await asyncio.wait([task], timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    assert done, "the stream did not end"
    error = task.exception()
    assert isinstance(error, AuthError)
    assert "refresh token expired" in error.message
    assert "run `portico credentials login schwab`" in error.message
    assert error.message.startswith("the Schwab streamer cannot connect")
    downs = [data for e, data in emitted if e == "stream.disconnected"]
    assert [d["error"] for d in downs] == ["StreamSilent"]  # no retries once sign-in is the only way
    # the refresh was never sent: Schwab would refuse it
    assert running.app.journal.count("POST", "/v1/oauth/token") == 1


async def test_the_stream_ends_with_the_last_error_after_its_reconnect_attempts(
    served: Callable[..., RunningMock],
) -> None:
    # userPreference fails on every reconnect: after one failed attempt (the bound here) the stream ends
    running = served(
        realtime=True,
        stream_interval=FAST_TICKS,
        faults=[
            SILENT_AFTER_SUBSCRIBING,
            {"route": "/trader/v1/userPreference", "kind": "error", "status": 503, "skip": 2},
        ],
    )
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted, stream_receive_timeout=2.0, stream_reconnect_attempts=1)
    await connector.open()
    task = asyncio.create_task(_follow(connector, [], lambda e: False))
    try:
        done, _ = await asyncio.wait([task], timeout=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    assert done, "the stream did not end"
    assert isinstance(task.exception(), ServerError)
    downs = [data for e, data in emitted if e == "stream.disconnected"]
    assert [(d["error"], d["failures"]) for d in downs] == [("StreamSilent", 1), ("ServerError", 2)]


async def test_a_passing_401_on_user_preference_is_retried_not_taken_as_a_dead_sign_in(
    served: Callable[..., RunningMock],
) -> None:
    # on the reconnect userPreference answers 401 twice (the call, and its retry after a token
    # refresh); the refresh token is fine, so the stream tries again instead of ending
    running = served(
        realtime=True,
        stream_interval=FAST_TICKS,
        faults=[
            SILENT_AFTER_SUBSCRIBING,
            {
                "route": "/trader/v1/userPreference",
                "kind": "error",
                "status": 401,
                "skip": 2,
                "times": 2,
                "body": {"message": "Unauthorized"},
            },
        ],
    )
    emitted: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, emitted, stream_receive_timeout=2.0)
    await connector.open()
    received: list[OrderEvent] = []
    task = asyncio.create_task(
        _follow(
            connector,
            received,
            lambda e: e.order.client_order_id == "auth-1" and e.order.status is OrderStatus.FILLED,
        )
    )
    try:
        await wait_for_async(lambda: "stream.subscribed" in _names(emitted), timeout=10)
        placed = await connector.place_order(
            OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="auth-1")
        )
        await asyncio.wait_for(task, 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await connector.close()
    assert [(e.source, e.event) for e in received if e.order.order_id == placed.order_id] == [
        ("backfill", "fill")
    ]
    downs = [data for e, data in emitted if e == "stream.disconnected"]
    assert [(d["error"], d["failures"]) for d in downs] == [("StreamSilent", 1), ("AuthError", 2)]
    assert _names(emitted)[-2:] == ["stream.reconnected", "stream.subscribed"]
