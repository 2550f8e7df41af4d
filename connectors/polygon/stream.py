"""The Polygon (Massive) stocks WebSocket over portico's reconnecting WebSocket client.

One connection per system carries every quotes (``Q.``), trades (``T.``) and minute bars (``AM.``)
iterator: topics are subscribed as iterators start and unsubscribed when the last one interested closes.
After every (re)connection the client waits for ``connected``, authenticates with ``{"action": "auth"}``,
and subscribes again to everything still wanted, so a dropped connection resumes by itself.
``auth_failed`` ends every iterator with :class:`~portico.errors.AuthError`; other non-OK statuses
(``max_connections``, ``error``...) are reported to the monitor as ``stream.error`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from portico.clock import Clock
from portico.connectors.polygon.mapping import bar_from_stream, quote_from_stream, trade_from_stream
from portico.errors import AuthError, PorticoError
from portico.http import WebSocketClient
from portico.models import Bar, Quote, Trade

__all__ = ["CHANNEL_OF", "PolygonStream"]

CHANNEL_OF = {"quotes": "Q", "trades": "T", "bars": "AM"}
"""The vendor's channel prefix of each canonical stream."""

_OK = {"connected", "auth_success", "success"}


def _decode_json(message: str | bytes) -> Any:
    return json.loads(message)


class _Subscriber:
    """One iterator's topics and its bounded queue of messages (or the error ending it)."""

    def __init__(self, channel: str, symbols: set[str], size: int) -> None:
        self.channel = channel
        self.symbols = symbols
        self.queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def topics(self) -> set[str]:
        return {f"{self.channel}.{s}" for s in self.symbols}

    def offer(self, item: dict[str, Any] | BaseException) -> None:
        if self.queue.full():
            # a slow consumer loses the oldest ticks, not the connection
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)


class PolygonStream:
    """The stocks stream of one system: ONE connection shared by every subscription.

    Args:
        url: the WebSocket URL (``wss://socket.massive.com/stocks``, or the delayed host).
        system: the system id.
        api_key: the key sent in the auth message (never logged).
        clock: the time source.
        emit: monitor events.
        ws_options: extra :class:`~portico.http.WebSocketClient` arguments.
        queue_size: messages buffered per iterator before the oldest are dropped.
    """

    def __init__(
        self,
        url: str,
        *,
        system: str,
        api_key: str,
        clock: Clock,
        emit: Callable[..., None],
        ws_options: Mapping[str, Any] | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.url = url
        self.system = system
        self._api_key = api_key
        self._clock = clock
        self._emit = emit
        self._ws_options = dict(ws_options or {})
        self._queue_size = queue_size
        self._subscribers: list[_Subscriber] = []
        self._client: WebSocketClient | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.connections = 0

    def __repr__(self) -> str:
        return f"PolygonStream(system={self.system!r}, url={self.url!r}, api_key=***)"

    @property
    def connected(self) -> bool:
        """Whether the shared connection is open."""
        return self._client is not None

    def wanted(self) -> set[str]:
        """Every topic (``Q.AAPL``) some iterator wants."""
        out: set[str] = set()
        for sub in self._subscribers:
            out |= sub.topics()
        return out

    async def _on_connect(self, client: WebSocketClient) -> None:
        self.connections += 1
        if self.connections > 1:
            self._emit("stream.reconnected", stream="polygon", attempt=self.connections - 1)
        await client.send({"action": "auth", "params": self._api_key})
        wanted = self.wanted()
        if wanted:
            await client.send({"action": "subscribe", "params": ",".join(sorted(wanted))})

    async def _read(self, client: WebSocketClient) -> None:
        try:
            while True:
                batch = await client.receive()
                for message in batch if isinstance(batch, list) else [batch]:
                    if isinstance(message, dict):
                        self._route(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    def _route(self, message: dict[str, Any]) -> None:
        event = message.get("ev")
        if event == "status":
            status = message.get("status")
            if status == "auth_failed":
                self._fail(AuthError(f"Polygon stream refused the key: {message.get('message')}", system=self.system,
                                     venue_code="auth_failed"))  # fmt: skip
            elif status == "success" and str(message.get("message", "")).startswith("subscribed to"):
                self._emit("stream.subscribed", stream="polygon", message=message.get("message"))
            elif status not in _OK:
                self._emit("stream.error", stream="polygon", status=status, message=message.get("message"))
            return
        symbol = message.get("sym")
        for sub in self._subscribers:
            if sub.channel == event and symbol in sub.symbols:
                sub.offer(message)

    def _fail(self, exc: BaseException) -> None:
        for sub in self._subscribers:
            sub.offer(exc)

    async def _messages(self, channel: str, symbols: list[str]) -> AsyncGenerator[dict[str, Any], None]:
        sub = _Subscriber(channel, {s.strip().upper() for s in symbols}, self._queue_size)
        async with self._lock:
            before = self.wanted()
            self._subscribers.append(sub)
            try:
                if self._client is None:
                    client = WebSocketClient(
                        self.url,
                        system=self.system,
                        clock=self._clock,
                        on_connect=self._on_connect,
                        decode=_decode_json,
                        events=self._emit,
                        **self._ws_options,
                    )
                    await client.connect()
                    self._client = client
                    self._reader = asyncio.create_task(
                        self._read(client), name=f"portico-{self.system}-polygon"
                    )
                else:
                    fresh = sub.topics() - before
                    if fresh:
                        await self._client.send({"action": "subscribe", "params": ",".join(sorted(fresh))})
            except BaseException:
                self._subscribers.remove(sub)
                raise
        try:
            while True:
                item = await sub.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self._leave(sub)

    async def _leave(self, sub: _Subscriber) -> None:
        async with self._lock:
            self._subscribers.remove(sub)
            client, reader = self._client, self._reader
            if not self._subscribers:
                self._client = self._reader = None
                if reader is not None:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reader
                if client is not None:
                    await client.close()
                return
            gone = sub.topics() - self.wanted()
            if gone and client is not None:
                with contextlib.suppress(PorticoError):
                    await client.send({"action": "unsubscribe", "params": ",".join(sorted(gone))})

    async def quotes(self, symbols: list[str]) -> AsyncGenerator[Quote, None]:
        """Live NBBO quotes (``Q.``)."""
        async with contextlib.aclosing(self._messages("Q", symbols)) as messages:
            async for message in messages:
                yield quote_from_stream(message)

    async def trades(self, symbols: list[str]) -> AsyncGenerator[Trade, None]:
        """Live trades (``T.``)."""
        async with contextlib.aclosing(self._messages("T", symbols)) as messages:
            async for message in messages:
                yield trade_from_stream(message)

    async def bars(self, symbols: list[str]) -> AsyncGenerator[Bar, None]:
        """Live minute bars (``AM.``)."""
        async with contextlib.aclosing(self._messages("AM", symbols)) as messages:
            async for message in messages:
                yield bar_from_stream(message)
