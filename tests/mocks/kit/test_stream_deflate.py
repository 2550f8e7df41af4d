"""A served mock's WebSocket compression: each message deflated on its own, repeats sent from memory."""

from __future__ import annotations

import asyncio
import json

import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from portico.mocks import start_mock

REPEATED = json.dumps([{"T": "q", "S": f"Q{i:04d}", "bp": 100 + i / 100, "ap": 101} for i in range(300)])
OTHER = json.dumps([{"T": "t", "S": "AAPL", "p": 187.5}])


async def _frames(websocket: WebSocket) -> None:
    await websocket.accept()
    for text in (REPEATED, REPEATED, OTHER, REPEATED, REPEATED):
        await websocket.send_text(text)
    await websocket.send_bytes(REPEATED.encode())
    await websocket.close()


def test_repeated_messages_decode_intact_with_permessage_deflate() -> None:
    app = Starlette(routes=[WebSocketRoute("/ws", _frames)])

    async def read(url: str) -> tuple[str, list[str | bytes]]:
        async with websockets.connect(url, compression="deflate", max_size=None) as ws:
            negotiated = ws.response.headers["Sec-WebSocket-Extensions"] if ws.response else ""
            return negotiated, [await ws.recv() for _ in range(6)]

    with start_mock(app, log_level="error") as running:
        negotiated, received = asyncio.run(read(f"ws://127.0.0.1:{running.port}/ws"))
    assert "permessage-deflate" in negotiated and "server_no_context_takeover" in negotiated
    assert received == [REPEATED, REPEATED, OTHER, REPEATED, REPEATED, REPEATED.encode()]


def test_a_client_without_compression_gets_plain_frames() -> None:
    app = Starlette(routes=[WebSocketRoute("/ws", _frames)])

    async def read(url: str) -> tuple[str, list[str | bytes]]:
        async with websockets.connect(url, compression=None, max_size=None) as ws:
            negotiated = ws.response.headers.get("Sec-WebSocket-Extensions", "") if ws.response else ""
            return negotiated, [await ws.recv() for _ in range(6)]

    with start_mock(app, log_level="error") as running:
        negotiated, received = asyncio.run(read(f"ws://127.0.0.1:{running.port}/ws"))
    assert negotiated == ""
    assert received == [REPEATED, REPEATED, OTHER, REPEATED, REPEATED, REPEATED.encode()]
