"""Alpaca's two streams over portico's reconnecting WebSocket client.

* Trade updates (``stream`` URL): authenticate, listen to ``trade_updates``; after every reconnect the
  orders that changed while the stream was down are read back by REST and reported first
  (``source="poll"``), so no fill is lost to a dropped connection. Repeats are dropped by event id.
* Market data (``data_stream`` URL + ``/{feed}``): auth, subscribe, then ``t``/``q``/``b`` messages, over
  one connection shared by every quotes, trades and bars iterator of the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from portico.clock import Clock
from portico.connectors.alpaca._frames import (
    BUILD,
    CHANNEL_OF,
    Control,
    Item,
    NotPlain,
    Rejected,
    decode_frame,
    to_model,
)
from portico.connectors.alpaca.mapping import (
    STATUS_MAP,
    event_from_trade_update,
    parse,
)
from portico.connectors.alpaca.wire import WireTradeUpdate
from portico.errors import AuthError, ConnectionFailed, PayloadRejected, PorticoError
from portico.http import StreamFeed, WebSocketClient
from portico.models import Bar, Order, OrderEvent, OrderStatus, Quote, Trade

__all__ = ["MarketDataStream", "OrderUpdateStream", "StreamCredentials"]

StreamCredentials = Mapping[str, str]
"""``{"key_id": ..., "secret_key": ...}`` or ``{"oauth_token": ...}``."""

Backfill = Callable[[datetime | None], Awaitable[list[Order]]]

_EVENT_FOR_STATUS = {
    OrderStatus.NEW: "new",
    OrderStatus.ACCEPTED: "accepted",
    OrderStatus.PARTIALLY_FILLED: "partial_fill",
    OrderStatus.FILLED: "fill",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REPLACED: "replaced",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.PENDING_CANCEL: "pending_cancel",
    OrderStatus.PENDING_REPLACE: "pending_replace",
}


_FILL_DEPENDENT = frozenset({"done_for_day", "stopped", "calculated"})
"""Alpaca statuses mapped by the fill rather than by :data:`STATUS_MAP`; any other is unknown."""


def _decode_json(message: str | bytes) -> Any:
    # the paper trade stream sends JSON text in binary frames
    return json.loads(message)


class OrderUpdateStream:
    """Order events of one account: the trade updates stream, with REST back-fill after reconnects.

    Args:
        url: the trade updates WebSocket URL.
        system: the system id.
        credentials: how to authenticate on the stream.
        backfill: reads orders changed since a time (the connector's ``list_orders``).
        clock: the time source.
        emit: monitor events (``stream.reconnected``, ``stream.backfilled``).
        ws_options: extra :class:`~portico.http.WebSocketClient` arguments (heartbeat, reconnect policy).
        account_id: the account the stream's orders and fills belong to (Alpaca's messages do not say).
    """

    def __init__(
        self,
        url: str,
        *,
        system: str,
        credentials: StreamCredentials,
        backfill: Backfill,
        clock: Clock,
        emit: Callable[..., None],
        ws_options: Mapping[str, Any] | None = None,
        account_id: str | None = None,
    ) -> None:
        self.url = url
        self.account_id = account_id
        self.system = system
        self._credentials = dict(credentials)
        self._backfill = backfill
        self._clock = clock
        self._emit = emit
        self._ws_options = dict(ws_options or {})
        self._connections = 0
        self._backfill_due = False
        self._last_seen: datetime | None = None
        self._known: dict[str, tuple[OrderStatus, Decimal]] = {}
        self._seen_ids: set[str] = set()

    async def _on_connect(self, client: WebSocketClient) -> None:
        self._connections += 1
        if self._connections > 1:
            self._backfill_due = True
            self._emit("stream.reconnected", stream="trade_updates", attempt=self._connections - 1)
        await client.send({"action": "authenticate", "data": self._credentials})
        await client.send({"action": "listen", "data": {"streams": ["trade_updates"]}})

    def _fresh(self, event: OrderEvent) -> bool:
        key = event.event_id or f"{event.order.order_id}:{event.event}:{event.order.filled_quantity}"
        if key in self._seen_ids:
            return False
        self._seen_ids.add(key)
        if len(self._seen_ids) > 100_000:
            self._seen_ids.clear()
        self._known[event.order.order_id] = (event.order.status, event.order.filled_quantity)
        if self._last_seen is None or event.timestamp > self._last_seen:
            self._last_seen = event.timestamp
        return True

    async def _backfilled(self) -> list[OrderEvent]:
        self._backfill_due = False
        since = self._last_seen - timedelta(seconds=5) if self._last_seen is not None else None
        events: list[OrderEvent] = []
        for order in await self._backfill(since):
            state = (order.status, order.filled_quantity)
            if self._known.get(order.order_id) == state:
                continue
            event = OrderEvent(
                event=_EVENT_FOR_STATUS.get(order.status, "status"),
                order=order,
                timestamp=order.updated_at or order.created_at or self._clock.now(),
                event_id=f"{order.order_id}:{order.status.value}:{order.filled_quantity}",
                system=self.system,
                source="poll",
            )
            if self._fresh(event):
                events.append(event)
        self._emit("stream.backfilled", stream="trade_updates", events=len(events))
        return events

    async def _baseline(self) -> None:
        """Remember the state of recent orders when the stream starts, so a back-fill after a reconnect
        reports what changed since then and never replays the account's history."""
        try:
            orders = await self._backfill(None)
        except PorticoError as exc:
            self._emit("stream.baseline_failed", stream="trade_updates", error=exc.message)
            return
        for order in orders:
            self._known.setdefault(order.order_id, (order.status, order.filled_quantity))

    def _check_control(self, message: Mapping[str, Any]) -> None:
        stream = message.get("stream")
        data = message.get("data") or {}
        if stream == "authorization" and data.get("status") != "authorized":
            raise AuthError("Alpaca refused the trade updates stream credentials", system=self.system)
        if stream == "listening" and "trade_updates" in (data.get("streams") or ()):
            self._emit("stream.subscribed", stream="order_updates")
        if stream == "error":
            raise ConnectionFailed(
                f"trade updates stream error: {data.get('error_message')}", system=self.system
            )

    async def events(self) -> AsyncGenerator[OrderEvent, None]:
        """Order events until the iterator is closed."""
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
        try:
            await self._baseline()
            while True:
                message = await client.receive()
                if self._backfill_due:
                    for event in await self._backfilled():
                        yield event
                if not isinstance(message, dict):
                    continue
                if message.get("stream") != "trade_updates":
                    self._check_control(message)
                    continue
                wire = parse(WireTradeUpdate, message.get("data"), what="trade update", system=self.system)
                event = event_from_trade_update(wire, system=self.system, account_id=self.account_id)
                if wire.order.status not in STATUS_MAP and wire.order.status not in _FILL_DEPENDENT:
                    # mapped as still live (never terminal); say so, so the new status gets a mapping
                    self._emit(
                        "order.unknown_status",
                        severity="warning",
                        stream="trade_updates",
                        order_id=wire.order.id,
                        status=wire.order.status,
                        mapped_to=event.order.status.value,
                    )
                if self._fresh(event):
                    yield event
        finally:
            await client.close()


_KINDS = {"quotes": "q", "trades": "t", "bars": "b"}
_CHANNELS = {kind: channel for channel, kind in _KINDS.items()}
_REPORTED_REJECTIONS = 100  # rejections reported one by one; after these, every thousandth
_FATAL = (401, 402, 404, 406, 409)
"""Stream errors no reconnect can fix: not authenticated, auth failed, auth timeout, connection limit,
insufficient subscription."""


class MarketDataStream:
    """The market data stream of one system: ONE connection shared by every subscription.

    Alpaca allows one concurrent market data connection per account on most plans, so quotes, trades
    and bars iterators share it: symbols are subscribed as iterators start and unsubscribed when the
    last one interested closes; the connection closes with the last iterator and, after a reconnect,
    everything still wanted is subscribed again.

    Each frame is decoded once, on the connection's reader, straight into canonical models
    (:mod:`portico.connectors.alpaca._frames`) and handed to each interested iterator's bounded
    :class:`~portico.http.StreamFeed`: one queue hop. A malformed message is refused alone (a
    ``stream.rejected`` event naming the field); a consumer ``queue_size`` messages behind loses the
    oldest, counted on its feed.

    Args:
        url: the feed's WebSocket URL (``.../v2/iex``).
        system: the system id.
        key_id: the API key id.
        secret_key: the API secret key.
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
        key_id: str,
        secret_key: str,
        clock: Clock,
        emit: Callable[..., None],
        ws_options: Mapping[str, Any] | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.url = url
        self.system = system
        self._auth = {"action": "auth", "key": key_id, "secret": secret_key}
        self._clock = clock
        self._emit = emit
        self._ws_options = dict(ws_options or {})
        self._queue_size = queue_size
        self._feeds: dict[StreamFeed[Any], tuple[str, set[str]]] = {}
        self._routes: dict[tuple[str, str], list[StreamFeed[Any]]] = {}
        self._client: WebSocketClient | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.rejected = 0
        """Messages refused as malformed, over all connections."""

    @property
    def connected(self) -> bool:
        """Whether the shared connection is open."""
        return self._client is not None

    def wanted(self) -> dict[str, set[str]]:
        """Every symbol some iterator wants, by channel."""
        out: dict[str, set[str]] = {channel: set() for channel in _KINDS}
        for channel, symbols in self._feeds.values():
            out[channel] |= symbols
        return out

    def _reroute(self) -> None:
        routes: dict[tuple[str, str], list[StreamFeed[Any]]] = {}
        for feed, (channel, symbols) in self._feeds.items():
            for symbol in symbols:
                routes.setdefault((channel, symbol), []).append(feed)
        # one list per set of feeds, so the reader knows a message goes where the one before it went
        # by identity (most subscriptions are one feed for many symbols)
        shared: dict[tuple[int, ...], list[StreamFeed[Any]]] = {}
        self._routes = {key: shared.setdefault(tuple(map(id, feeds)), feeds) for key, feeds in routes.items()}

    async def _on_connect(self, client: WebSocketClient) -> None:
        await client.send(self._auth)
        wanted = {channel: sorted(symbols) for channel, symbols in self.wanted().items() if symbols}
        if wanted:
            await client.send({"action": "subscribe", **wanted})

    # -- the reader: one frame at a time, synchronously, on the connection's reader task ------------

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            messages = decode_frame(frame)
        except PayloadRejected as exc:
            self._reject(exc.message, exc.field)
            return
        routes = self._routes
        batches: dict[StreamFeed[Any], list[Any]] = {}
        kind: type | None = None
        channel: str | None = None
        build: Any = None
        last_feeds: list[StreamFeed[Any]] | None = None  # one feed, whose batch is last_batch
        last_batch: list[Any] = []
        for message in messages:
            cls = message.__class__
            if cls is not kind:
                kind, channel, build = cls, CHANNEL_OF.get(cls), BUILD.get(cls)
            if channel is not None:  # typed: only what some feed wants is made into a model
                feeds = routes.get((channel, message.S))
                if not feeds:
                    continue
                try:
                    model = build(message)
                except NotPlain:  # a timestamp not in the plain form: the wire models read it
                    model = to_model(message)
                    if model.__class__ is Rejected:
                        self._reject(model.reason, model.field)
                        continue
                if feeds is last_feeds:
                    last_batch.append(model)
                    continue
                if len(feeds) == 1:
                    last_feeds = feeds
                    last_batch = batches.setdefault(feeds[0], [])
                    last_batch.append(model)
                    continue
                for feed in feeds:
                    batch = batches.get(feed)
                    if batch is None:
                        batches[feed] = [model]
                    else:
                        batch.append(model)
            elif cls is Item:
                model = message.model
                feeds = routes.get((message.channel, model.symbol))
                if not feeds:
                    continue
                for feed in feeds:
                    batch = batches.get(feed)
                    if batch is None:
                        batches[feed] = [model]
                    else:
                        batch.append(model)
            elif cls is Rejected:
                self._reject(message.reason, message.field)
            elif cls is Control:
                self._control(message.message)
        for feed, batch in batches.items():
            feed.offer_many(batch)

    def _control(self, message: dict[str, Any]) -> None:
        if message.get("T") != "error":
            return
        code = message.get("code")
        text = f"Alpaca market data stream error {code}: {message.get('msg')}"
        if code in _FATAL:
            error_type = AuthError if code in (401, 402, 404, 409) else PorticoError
            self._fail(error_type(text, system=self.system, venue_code=code))
            return
        self._emit("stream.error", stream="market_data", code=code, message=message.get("msg"))

    def _reject(self, reason: str, field: str | None) -> None:
        self.rejected += 1
        if self.rejected <= _REPORTED_REJECTIONS or self.rejected % 1000 == 0:
            self._emit("stream.rejected", stream="market_data", severity="warning", reason=reason, field=field,
                       rejected=self.rejected)  # fmt: skip

    def _fail(self, exc: BaseException) -> None:
        for feed in self._feeds:
            feed.fail(exc)

    async def _watch(self, client: WebSocketClient) -> None:
        # with on_message nothing is queued: receive() returns only when the client has closed, and
        # raises why (it gave up reconnecting): every iterator ends with that error
        try:
            await client.receive()
        except PorticoError as exc:
            if self._client is client:
                self._fail(exc)

    # -- iterators ---------------------------------------------------------------------------------

    async def join(self, feed: StreamFeed[Any], kind: str, symbols: list[str]) -> None:
        """Deliver ``kind`` (``quotes``, ``trades``, ``bars``) of ``symbols`` to ``feed``, connecting if
        this is the first feed, subscribing to the symbols not yet wanted otherwise."""
        wanted = {s.upper() for s in symbols}
        async with self._lock:
            before = self.wanted()[kind]
            self._feeds[feed] = (kind, wanted)
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
                        self._watch(client), name=f"portico-{self.system}-market-data"
                    )
                elif wanted - before:
                    await self._client.send({"action": "subscribe", kind: sorted(wanted - before)})
            except BaseException:
                del self._feeds[feed]
                self._reroute()
                raise

    async def leave(self, feed: StreamFeed[Any]) -> None:
        """Stop delivering to ``feed``: unsubscribe what no other feed wants; the last one disconnects."""
        async with self._lock:
            kind, symbols = self._feeds.pop(feed, ("quotes", set()))
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
            gone = symbols - self.wanted()[kind]
            if gone and client is not None:
                with contextlib.suppress(PorticoError):
                    await client.send({"action": "unsubscribe", kind: sorted(gone)})

    def _feed(self, kind: str, symbols: list[str]) -> StreamFeed[Any]:
        return StreamFeed(
            start=lambda feed: self.join(feed, kind, symbols), stop=self.leave, size=self._queue_size
        )

    def quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Live quotes: a :class:`~portico.http.StreamFeed` joining the stream when first read."""
        return self._feed("quotes", symbols)

    def trades(self, symbols: list[str]) -> AsyncIterator[Trade]:
        """Live trades."""
        return self._feed("trades", symbols)

    def bars(self, symbols: list[str]) -> AsyncIterator[Bar]:
        """Live minute bars."""
        return self._feed("bars", symbols)
