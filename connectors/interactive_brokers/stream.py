"""The Client Portal WebSocket: topic subscriptions over ``portico.http.WebSocketClient``.

The gateway authorises a socket by the ``tickle`` session in the cookie ``api={"session": ...}``. After
every (re)connection the stream sends its topic strings again; a ``{"topic": "portico.reconnected"}``
marker is yielded after a reconnection so consumers can back-fill what they missed. IB's own keep-alive
(``tic``) is sent every ``tic_interval`` seconds on the connector's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from portico.errors import PorticoError

if TYPE_CHECKING:
    from portico.connectors.interactive_brokers.client import WebTransport
    from portico.http import WebSocketClient

__all__ = ["PortalStream"]


def _decode(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return {
            "topic": "portico.unparsed",
            "raw": raw if isinstance(raw, str) else raw.decode(errors="replace"),
        }


class PortalStream:
    """One gateway WebSocket carrying the topics added with :meth:`add`.

    Args:
        transport: the web transport (its session, URL and clock).
        tic_interval: seconds between ``tic`` keep-alives.
    """

    def __init__(self, transport: WebTransport, *, tic_interval: float = 55.0) -> None:
        self.transport = transport
        self.topics: list[str] = []
        self.tic_interval = tic_interval
        self._client: WebSocketClient | None = None
        self._connections = 0
        self._pending_marker = False
        self._tic: asyncio.Task[None] | None = None

    def add(self, topic: str) -> None:
        """Subscribe to ``topic`` (``smd+265598+{...}``, ``sor+{}``...) on every connection."""
        self.topics.append(topic)

    async def _on_connect(self, client: WebSocketClient) -> None:
        self._connections += 1
        if self._connections > 1:
            self._pending_marker = True
            self.transport.context.emit("stream.reconnected", connections=self._connections)
        for topic in self.topics:
            await client.send(topic)

    async def _tics(self) -> None:
        while True:
            await self.transport.clock.sleep(self.tic_interval)
            if self._client is not None:
                with contextlib.suppress(PorticoError):
                    await self._client.send("tic")

    async def __aenter__(self) -> PortalStream:
        from portico.http import WebSocketClient

        tickle = await self.transport.tickle()
        cookie = "api=" + json.dumps({"session": tickle.session}, separators=(",", ":"))
        self._client = WebSocketClient(
            self.transport.context.url("ws"),
            system=self.transport.system,
            clock=self.transport.clock,
            headers={"Cookie": cookie},
            heartbeat_interval=None,
            on_connect=self._on_connect,
            decode=_decode,
            events=lambda name, **data: self.transport.context.emit(name, **data),
            verify=self.transport.verify_tls,  # the gateway's certificate is self-signed by default
        )
        await self._client.connect()
        self._tic = asyncio.create_task(self._tics())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tic is not None:
            self._tic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tic
        if self._client is not None:
            await self._client.close()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        assert self._client is not None, "use the stream as an async context manager"
        async for message in self._client:
            if self._pending_marker:
                self._pending_marker = False
                yield {"topic": "portico.reconnected"}
            if isinstance(message, dict):
                yield message
