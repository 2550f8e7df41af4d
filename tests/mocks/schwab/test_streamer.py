"""The Schwab mock's streamer keeps a quiet line alive with heartbeats, as Schwab's does (what a
client's receive timeout relies on), and the kit's ``ws_silence`` fault stops them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from portico.mocks import DEFAULT_START, start_mock
from portico.mocks.schwab import create_app

APP_KEY, APP_SECRET = "mock-test-key", "mock-test-secret"


def _login(token: str) -> str:
    request = {
        "service": "ADMIN",
        "requestid": "0",
        "command": "LOGIN",
        "SchwabClientCustomerId": "c",
        "SchwabClientCorrelId": "k",
        "parameters": {
            "Authorization": token,
            "SchwabClientChannel": "N9",
            "SchwabClientFunctionId": "APIAPP",
        },
    }
    return json.dumps({"requests": [request]})


async def _messages(url: str, token: str, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        await ws.send(_login(token))
        while len(got) < count:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return got


async def test_a_quiet_line_gets_heartbeats() -> None:
    app = create_app(seed=5, clients={APP_KEY: APP_SECRET}, start=DEFAULT_START, stream_interval=0.01)
    token = app.issue_tokens(APP_KEY)["access_token"]
    async with start_mock(app) as running:
        url = running.base_url.replace("http", "ws") + "/ws"
        got = await _messages(url, token, 3)
    assert got[0]["response"][0]["content"]["code"] == 0  # logged in
    # nothing subscribed: the line carries heartbeats only, each a notify with the mock's time in ms
    for message in got[1:]:
        (beat,) = message["notify"]
        assert str(beat["heartbeat"]).isdigit()


async def test_the_silence_fault_stops_heartbeats_and_keeps_the_line_open() -> None:
    app = create_app(
        seed=5,
        clients={APP_KEY: APP_SECRET},
        start=DEFAULT_START,
        stream_interval=0.01,
        faults=[{"route": "/ws", "kind": "ws_silence", "after_messages": 1}],
    )
    token = app.issue_tokens(APP_KEY)["access_token"]
    async with start_mock(app) as running:
        url = running.base_url.replace("http", "ws") + "/ws"
        async with websockets.connect(url) as ws:
            await ws.send(_login(token))
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert first["response"][0]["content"]["code"] == 0
            # a heartbeat would come within 0.2 s; none does in five times that, and the line stays open
            try:
                extra = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                extra = None
            assert extra is None
            logout = json.loads(_login(token))
            logout["requests"][0].update(command="LOGOUT", requestid="1")
            await ws.send(json.dumps(logout))
            await asyncio.wait_for(ws.wait_closed(), 10)  # the server read it and closed the line
        assert ws.close_code == 1000
