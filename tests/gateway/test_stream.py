"""The WebSocket stream: resume from the last event id after a disconnect, nothing missed or doubled."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from portico.models import OrderStatus
from portico.testing import wait_for_async
from tests.gateway.stack import Stack


def _ws_url(stack: Stack, **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return stack.url.replace("http://", "ws://") + "/v1/stream" + (f"?{query}" if query else "")


async def _receive(ws: Any, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    async def take() -> None:
        while len(out) < count:
            message = json.loads(await ws.recv())
            if "id" in message:
                out.append(message)

    await asyncio.wait_for(take(), timeout)
    return out


async def _place(stack: Stack, n: int, prefix: str) -> list[str]:
    async with httpx.AsyncClient(
        base_url=stack.url, headers={"Authorization": f"Bearer {stack.tokens['bob']}"}
    ) as http:
        ids = []
        for i in range(n):
            answer = await http.post(
                "/v1/systems/alpaca_a/orders",
                json={"symbol": "AAPL", "side": "buy", "quantity": "1"},
                headers={"Idempotency-Key": f"{prefix}-{i}"},
            )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        return ids


async def test_resume_after_a_disconnect_mid_stream_has_no_gap_and_no_double(stack: Stack) -> None:
    start = stack.gateway.events.last_id()
    headers = {"Authorization": f"Bearer {stack.tokens['bob']}"}
    got: list[dict[str, Any]] = []
    async with connect(
        _ws_url(stack, topics="orders", last_event_id=start), additional_headers=headers
    ) as ws:
        orders = await _place(stack, 3, "ws-a")
        got += await _receive(ws, 4)  # mid-stream: more events are on their way
    # disconnected: events keep happening
    orders += await _place(stack, 3, "ws-b")
    # an order bob may not see happens meanwhile
    await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(
            stack.integration.place_external_order(
                "alpaca_b", {"symbol": "AAPL", "side": "buy", "quantity": "1"}
            ),
            stack.loop,
        )
    )
    trading = stack.integration.trading
    await wait_for_async(
        lambda: all(trading.get_order(o, system_id="alpaca_a").status is OrderStatus.FILLED for o in orders),
        timeout=15,
    )
    expected = [e.id for e in stack.gateway.events.since(start, ["orders"]) if e.system == "alpaca_a"]
    async with connect(
        _ws_url(stack, topics="orders", last_event_id=got[-1]["id"]), additional_headers=headers
    ) as ws:
        got += await _receive(ws, len(expected) - len(got))
    ids = [e["id"] for e in got]
    assert ids == expected  # in order, none missing, none twice
    assert {e["system"] for e in got} == {"alpaca_a"}
    assert {e["data"]["order"]["id"] for e in got} == set(orders)
    assert {e["data"]["order"]["status"] for e in got if e["data"]["order"]["id"] == orders[-1]} >= {"filled"}


async def test_the_stream_needs_a_credential(stack: Stack) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(_ws_url(stack)) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_unknown_topic_is_refused(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(_ws_url(stack, topics="secrets"), additional_headers=headers) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4422


async def test_market_data_subscription_over_the_stream(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.tokens['bob']}"}
    start = stack.gateway.events.last_id()
    async with connect(
        _ws_url(stack, topics="market_data", last_event_id=start), additional_headers=headers
    ) as ws:
        await ws.send(
            json.dumps({"action": "subscribe_market_data", "system": "alpaca_b", "symbols": ["AAPL"]})
        )
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert refused == {"error": "system: no system 'alpaca_b'"}  # bob may not read alpaca_b
        await ws.send(
            json.dumps({"action": "subscribe_market_data", "system": "alpaca_a", "symbols": ["AAPL"]})
        )
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer["subscribed"] and answer["symbols"] == ["AAPL"]
        events = await _receive(ws, 2, timeout=20)
    assert {e["topic"] for e in events} == {"market_data"} and {e["system"] for e in events} == {"alpaca_a"}
    assert events[0]["data"]["symbol"] == "AAPL" and events[0]["id"] < events[1]["id"]
    # the subscription ended with the connection
    await wait_for_async(lambda: not stack.integration.market_data.stats()["subscriptions"], timeout=10)


async def test_alerts_reach_the_stream_of_those_who_read_the_system(stack: Stack) -> None:
    from datetime import UTC, datetime

    from portico.monitor import Alert, AlertNotification

    start = stack.gateway.events.last_id()
    now = datetime.now(UTC)
    channel = stack.integration.monitor.channels["gateway-stream"]
    for system in ("alpaca_b", "alpaca_a"):
        alert = Alert(
            rule="breaker_open",
            system=system,
            summary=f"{system}: circuit breaker open",
            started_at=now,
            last_seen_at=now,
        )
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(
                channel.send(AlertNotification(kind="firing", alert=alert, sent_at=now)), stack.loop
            )
        )
    headers = {"Authorization": f"Bearer {stack.tokens['bob']}"}
    async with connect(
        _ws_url(stack, topics="alerts", last_event_id=start), additional_headers=headers
    ) as ws:
        (event,) = await _receive(ws, 1)
    assert (
        event["system"] == "alpaca_a"
        and event["data"]["rule"] == "breaker_open"
        and event["data"]["kind"] == "firing"
    )
