"""The Client Portal mock on its own: REST shapes, the question/reply flow, the session, the WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from portico.connectors.interactive_brokers import SPEC
from portico.mocks import start_mock


@pytest.fixture
async def mock() -> AsyncIterator[Any]:
    assert SPEC.mock is not None
    running = await asyncio.to_thread(start_mock, SPEC.mock, seed=3, pacing=False, heartbeat_interval=0.05)
    yield running
    await running.stop()


def _api(mock: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=mock.urls["web"])


async def test_urls_for_both_protocols(mock: Any) -> None:
    assert mock.urls["web"].endswith("/v1/api")
    assert mock.urls["ws"].startswith("ws://") and mock.urls["ws"].endswith("/v1/api/ws")
    assert mock.urls["tws"].startswith("tcp://127.0.0.1:")


async def test_question_chain_suppression_and_decline(mock: Any) -> None:
    always = [
        {"message_id": "o1", "text": "first?", "when": "always"},
        {"message_id": "o2", "text": "second?", "when": "always"},
    ]
    httpx.post(mock.base_url + "/__mock__/ib/session", json={"questions": always}).raise_for_status()
    ticket = {
        "orders": [
            {
                "conid": 8314,
                "orderType": "LMT",
                "price": 1.0,
                "side": "BUY",
                "quantity": 2,
                "tif": "GTC",
                "cOID": "chain-1",
            }
        ]
    }
    async with _api(mock) as api:
        first = (await api.post("/iserver/account/DU1234567/orders", json=ticket)).json()
        assert first[0]["messageIds"] == ["o1"] and first[0]["message"] == ["first?"]
        second = (await api.post(f"/iserver/reply/{first[0]['id']}", json={"confirmed": True})).json()
        assert second[0]["messageIds"] == ["o2"]
        placed = (await api.post(f"/iserver/reply/{second[0]['id']}", json={"confirmed": True})).json()
        assert placed[0]["order_status"] == "Submitted"
        again = await api.post(f"/iserver/reply/{second[0]['id']}", json={"confirmed": True})
        assert again.status_code == 400, "a reply id answers once"
        duplicate = await api.post("/iserver/account/DU1234567/orders", json=ticket)
        assert duplicate.status_code == 400 and "already registered" in duplicate.json()["error"]
        await api.post("/iserver/questions/suppress", json={"messageIds": ["o1"]})
        ticket["orders"][0]["cOID"] = "chain-2"
        asked = (await api.post("/iserver/account/DU1234567/orders", json=ticket)).json()
        assert asked[0]["messageIds"] == ["o2"], "a suppressed warning is not asked again"
        declined = await api.post(f"/iserver/reply/{asked[0]['id']}", json={"confirmed": False})
        assert declined.status_code == 400
        live = (await api.get("/iserver/account/orders")).json()["orders"]
        assert [o["order_ref"] for o in live] == ["chain-1"]
        order_id = live[0]["orderId"]
        modified = (
            await api.post(f"/iserver/account/DU1234567/order/{order_id}", json={"price": 1.5, "quantity": 3})
        ).json()
        assert modified[0]["order_id"] == str(order_id)
        status = (await api.get(f"/iserver/account/order/status/{order_id}")).json()
        assert (status["limit_price"], status["total_size"]) == ("1.50", "3")
        cancelled = (await api.delete(f"/iserver/account/DU1234567/order/{order_id}")).json()
        assert cancelled["msg"] == "Request was submitted"
        assert (await api.get(f"/iserver/account/order/status/{order_id}")).json()[
            "order_status"
        ] == "Cancelled"


async def test_session_gates_iserver_calls(mock: Any) -> None:
    async with _api(mock) as api:
        httpx.post(mock.base_url + "/__mock__/ib/session", json={"authenticated": False}).raise_for_status()
        assert (await api.get("/iserver/accounts")).status_code == 401
        assert (await api.get("/portfolio/accounts")).status_code == 200, "portfolio needs only the SSO login"
        assert (await api.post("/iserver/reauthenticate")).json() == {"message": "triggered"}
        assert (await api.get("/iserver/accounts")).status_code == 200
        httpx.post(mock.base_url + "/__mock__/clock", json={"advance": 3600}).raise_for_status()
        assert (await api.get("/iserver/accounts")).status_code == 401, "an idle session lapses"


async def _messages(ws: Any, count: int, want: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The first ``count`` messages ``want`` accepts (heartbeats keep coming, so the deadline is overall)."""
    found: list[dict[str, Any]] = []

    async def collect() -> None:
        while len(found) < count:
            message = json.loads(await ws.recv())
            if want(message):
                found.append(message)

    await asyncio.wait_for(collect(), timeout)
    return found


async def test_websocket_topics_and_heartbeats(mock: Any) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(mock.urls["ws"]):
            pass
    async with _api(mock) as api:
        session = (await api.post("/tickle")).json()["session"]
        cookie = "api=" + json.dumps({"session": session}, separators=(",", ":"))
        async with connect(mock.urls["ws"], additional_headers={"Cookie": cookie}) as ws:
            (hello,) = await _messages(ws, 1, lambda m: m.get("topic") == "system" and "success" in m)
            assert hello["isPaper"] is True
            await _messages(ws, 2, lambda m: m.get("topic") == "system" and "hb" in m)
            await ws.send('smd+265598+{"fields":["31","84","86"]}')
            ticks = await _messages(ws, 3, lambda m: m.get("topic") == "smd+265598")
            assert all({"31", "84", "86"} <= set(t) for t in ticks)
            await ws.send("sor+{}")
            await ws.send("str+{}")
            await _messages(ws, 1, lambda m: m.get("topic") == "sor")
            ticket = {
                "orders": [
                    {
                        "conid": 265598,
                        "orderType": "MKT",
                        "side": "BUY",
                        "quantity": 1,
                        "tif": "DAY",
                        "cOID": "ws-1",
                    }
                ]
            }
            question = (await api.post("/iserver/account/DU1234567/orders", json=ticket)).json()
            await api.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True})
            # the fill goes out on "str" and the order's new status on "sor", in that order
            updates = await _messages(
                ws,
                2,
                lambda m: (
                    (m.get("topic") == "str" and m["args"])
                    or (m.get("topic") == "sor" and any(o["status"] == "Filled" for o in m["args"]))
                ),
            )
            assert [u["topic"] for u in updates] == ["str", "sor"]
            assert all(u["args"][0]["order_ref"] == "ws-1" for u in updates)
            await ws.send("tic")
            await _messages(ws, 1, lambda m: m.get("topic") == "tic")
            await ws.send("ech+hb")
            await _messages(ws, 1, lambda m: m.get("topic") == "ech+hb")
