"""The Polygon (Massive) stocks WebSocket over portico's reconnecting WebSocket client.

One connection per system carries every quotes (``Q.``), trades (``T.``) and minute bars (``AM.``)
iterator: topics are subscribed as iterators start and unsubscribed when the last one interested closes.
After every (re)connection the client waits for ``connected``, authenticates with ``{"action": "auth"}``,
and subscribes again to everything still wanted, so a dropped connection resumes by itself.
``auth_failed`` ends every iterator with :class:`~portico.errors.AuthError`; other non-OK statuses
(``max_connections``, ``error``...) are reported to the monitor as ``stream.error`` events.

Each frame is decoded once, on the connection's reader, straight into canonical models
(:mod:`portico.connectors.polygon._frames`), and handed to each interested iterator's bounded
:class:`~portico.http.StreamFeed`: one queue hop from the socket to the consumer. A malformed event is
rejected alone (a ``stream.rejected`` event naming the field); the rest of its frame is delivered. A
consumer that falls ``queue_size`` events behind loses the oldest, counted on its feed (the market data
service shows them in the subscription's summary and reports them to the monitor).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from portico.clock import Clock
from portico.connectors.polygon._frames import (
    Ready,
    Rejected,
    Status,
    StreamAgg,
    StreamQuote,
    StreamTrade,
    bar_of,
    decode_frame,
    quote_of,
    trade_of,
)
from portico.errors import AuthError, PayloadRejected, PorticoError
from portico.http import StreamFeed, WebSocketClient
from portico.models import Bar, Quote, Trade

__all__ = ["CHANNEL_OF", "PolygonStream"]

CHANNEL_OF = {"quotes": "Q", "trades": "T", "bars": "AM"}
"""The vendor's channel prefix of each canonical stream."""

_OK = {"connected", "auth_success", "success"}
_BUILD: dict[type, Callable[[Any], Any]] = {StreamQuote: quote_of, StreamTrade: trade_of, StreamAgg: bar_of}
_CHANNEL: dict[type, str] = {StreamQuote: "Q", StreamTrade: "T", StreamAgg: "AM"}
_REPORTED_REJECTIONS = 100  # rejections reported one by one; after these, every thousandth


class PolygonStream:
    """The stocks stream of one system: ONE connection shared by every subscription.

    Args:
        url: the WebSocket URL (``wss://socket.massive.com/stocks``, or the delayed host).
        system: the system id.
        api_key: the key sent in the auth message (never logged).
        clock: the time source.
        emit: monitor events.
        ws_options: extra :class:`~portico.http.WebSocketClient` arguments.
        queue_size: events buffered per iterator before the oldest are dropped.
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
        self._feeds: dict[StreamFeed[Any], set[str]] = {}
        # (channel, symbol) -> the feeds wanting it, rebuilt when a feed joins or leaves
        self._routes: dict[type, tuple[dict[str, list[StreamFeed[Any]]], Callable[[Any], Any]]] = {}
        self._ready_routes: dict[tuple[str, str], list[StreamFeed[Any]]] = {}
        self._client: WebSocketClient | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.connections = 0
        self.rejected = 0
        """Events refused as malformed, over all connections."""

    def __repr__(self) -> str:
        return f"PolygonStream(system={self.system!r}, url={self.url!r}, api_key=***)"

    @property
    def connected(self) -> bool:
        """Whether the shared connection is open."""
        return self._client is not None

    def wanted(self) -> set[str]:
        """Every topic (``Q.AAPL``) some iterator wants."""
        out: set[str] = set()
        for topics in self._feeds.values():
            out |= topics
        return out

    def _reroute(self) -> None:
        ready: dict[tuple[str, str], list[StreamFeed[Any]]] = {}
        for feed, topics in self._feeds.items():
            for topic in topics:
                channel, _, symbol = topic.partition(".")
                ready.setdefault((channel, symbol), []).append(feed)
        self._ready_routes = ready
        # per event type: symbol -> feeds, and the builder of its canonical model
        self._routes = {
            cls: ({symbol: feeds for (ch, symbol), feeds in ready.items() if ch == channel}, _BUILD[cls])
            for cls, channel in _CHANNEL.items()
        }

    async def _on_connect(self, client: WebSocketClient) -> None:
        self.connections += 1
        if self.connections > 1:
            self._emit("stream.reconnected", stream="polygon", attempt=self.connections - 1)
        await client.send({"action": "auth", "params": self._api_key})
        wanted = self.wanted()
        if wanted:
            await client.send({"action": "subscribe", "params": ",".join(sorted(wanted))})

    # -- the reader: one frame at a time, synchronously, on the connection's reader task ------------

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            events = decode_frame(frame)
        except PayloadRejected as exc:
            self._reject(Rejected(exc.message, exc.field))
            return
        routes = self._routes
        batches: dict[StreamFeed[Any], list[Any]] = {}
        for event in events:
            cls = event.__class__
            route = routes.get(cls)
            if route is not None:
                feeds = route[0].get(event.sym)
                if not feeds:
                    continue
                try:
                    item = route[1](event)
                except (OverflowError, ValueError, OSError):
                    channel = _CHANNEL[cls]
                    what = {"Q": "quote", "T": "trade"}.get(channel, "aggregate")
                    field = "s" if channel == "AM" else "t"
                    self._reject(
                        Rejected(f"malformed Polygon stream {what}: {field}: timestamp out of range", field)
                    )
                    continue
            elif cls is Ready:
                feeds = self._ready_routes.get((event.channel, event.symbol))
                if not feeds:
                    continue
                item = event.model
            elif cls is Status:
                self._status(event)
                continue
            elif cls is Rejected:
                self._reject(event)
                continue
            else:
                continue
            for feed in feeds:
                batch = batches.get(feed)
                if batch is None:
                    batches[feed] = [item]
                else:
                    batch.append(item)
        for feed, batch in batches.items():
            feed.offer_many(batch)

    def _status(self, event: Status) -> None:
        status = event.status
        if status == "auth_failed":
            self._fail(AuthError(f"Polygon stream refused the key: {event.message}", system=self.system,
                                 venue_code="auth_failed"))  # fmt: skip
        elif status == "success" and str(event.message or "").startswith("subscribed to"):
            self._emit("stream.subscribed", stream="polygon", message=event.message)
        elif status not in _OK:
            self._emit("stream.error", stream="polygon", status=status, message=event.message)

    def _reject(self, rejected: Rejected) -> None:
        self.rejected += 1
        if self.rejected <= _REPORTED_REJECTIONS or self.rejected % 1000 == 0:
            self._emit("stream.rejected", stream="polygon", severity="warning", reason=rejected.reason,
                       field=rejected.field, rejected=self.rejected)  # fmt: skip

    def _fail(self, exc: BaseException) -> None:
        for feed in self._feeds:
            feed.fail(exc)

    # -- iterators ---------------------------------------------------------------------------------

    def _feed(self, channel: str, symbols: list[str]) -> StreamFeed[Any]:
        return StreamFeed(
            start=lambda feed: self.join(feed, channel, symbols), stop=self.leave, size=self._queue_size
        )

    async def _watch(self, client: WebSocketClient) -> None:
        # with on_message nothing is queued: receive() returns only when the client has closed, and
        # raises why (it gave up reconnecting): every iterator ends with that error
        try:
            await client.receive()
        except PorticoError as exc:
            if self._client is client:
                self._fail(exc)

    async def join(self, feed: StreamFeed[Any], channel: str, symbols: list[str]) -> None:
        """Deliver ``channel`` events (``Q``, ``T``, ``AM``) of ``symbols`` to ``feed``, connecting (and
        authenticating) if this is the first feed, subscribing to the topics not yet wanted otherwise."""
        topics = {f"{channel}.{s.strip().upper()}" for s in symbols}
        async with self._lock:
            before = self.wanted()
            self._feeds[feed] = topics
            self._reroute()
            try:
                if self._client is None:
                    client = WebSocketClient(
                        self.url,
                        system=self.system,
                        clock=self._clock,
                        on_connect=self._on_connect,
                        on_message=self._on_frame,
                        text_as_bytes=True,
                        events=self._emit,
                        **self._ws_options,
                    )
                    await client.connect()
                    self._client = client
                    self._watcher = asyncio.create_task(
                        self._watch(client), name=f"portico-{self.system}-polygon"
                    )
                else:
                    fresh = topics - before
                    if fresh:
                        await self._client.send({"action": "subscribe", "params": ",".join(sorted(fresh))})
            except BaseException:
                del self._feeds[feed]
                self._reroute()
                raise

    async def leave(self, feed: StreamFeed[Any]) -> None:
        """Stop delivering to ``feed``: unsubscribe from what no other feed wants; the last one disconnects."""
        async with self._lock:
            topics = self._feeds.pop(feed, set())
            self._reroute()
            client, watcher = self._client, self._watcher
            if not self._feeds:
                self._client = self._watcher = None
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await watcher
                if client is not None:
                    await client.close()
                return
            gone = topics - self.wanted()
            if gone and client is not None:
                with contextlib.suppress(PorticoError):
                    await client.send({"action": "unsubscribe", "params": ",".join(sorted(gone))})

    def quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Live NBBO quotes (``Q.``): a :class:`~portico.http.StreamFeed` joining the stream when first read."""
        return self._feed("Q", symbols)

    def trades(self, symbols: list[str]) -> AsyncIterator[Trade]:
        """Live trades (``T.``)."""
        return self._feed("T", symbols)

    def bars(self, symbols: list[str]) -> AsyncIterator[Bar]:
        """Live minute bars (``AM.``)."""
        return self._feed("AM", symbols)
