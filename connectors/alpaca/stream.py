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
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from portico.clock import Clock
from portico.connectors.alpaca.mapping import (
    STATUS_MAP,
    bar_from_wire,
    event_from_trade_update,
    news_from_wire,
    parse,
    quote_from_wire,
    trade_from_wire,
)
from portico.connectors.alpaca.wire import WireBar, WireNews, WireQuote, WireTrade, WireTradeUpdate
from portico.errors import AuthError, ConnectionFailed, PorticoError
from portico.http import WebSocketClient
from portico.models import Bar, BarInterval, NewsItem, Order, OrderEvent, OrderStatus, Quote, Trade

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
            raise ConnectionFailed(f"trade updates stream error: {data.get('error_message')}", system=self.system)

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


_KINDS = {"quotes": "q", "trades": "t", "bars": "b", "news": "n"}
_CHANNELS = {kind: channel for channel, kind in _KINDS.items()}
_FATAL = (401, 402, 404, 406, 409)
"""Stream errors no reconnect can fix: not authenticated, auth failed, auth timeout, connection limit,
insufficient subscription."""


class _Subscriber:
    def __init__(self, channel: str, symbols: set[str], size: int) -> None:
        self.channel = channel
        self.symbols = symbols
        self.queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, item: dict[str, Any] | BaseException) -> None:
        if self.queue.full():
            # a slow consumer loses the oldest ticks, not the connection
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)


class MarketDataStream:
    """The market data stream of one system: ONE connection shared by every subscription.

    Alpaca allows one concurrent market data connection per account on most plans, so quotes, trades
    and bars iterators share it: symbols are subscribed as iterators start and unsubscribed when the
    last one interested closes; the connection closes with the last iterator and, after a reconnect,
    everything still wanted is subscribed again.

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
        self._subscribers: list[_Subscriber] = []
        self._client: WebSocketClient | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        """Whether the shared connection is open."""
        return self._client is not None

    def wanted(self) -> dict[str, set[str]]:
        """Every symbol some iterator wants, by channel."""
        out: dict[str, set[str]] = {channel: set() for channel in _KINDS}
        for sub in self._subscribers:
            out[sub.channel] |= sub.symbols
        return out

    async def _on_connect(self, client: WebSocketClient) -> None:
        await client.send(self._auth)
        wanted = {channel: sorted(symbols) for channel, symbols in self.wanted().items() if symbols}
        if wanted:
            await client.send({"action": "subscribe", **wanted})

    async def _read(self, client: WebSocketClient) -> None:
        try:
            while True:
                batch = await client.receive()
                for message in batch if isinstance(batch, list) else [batch]:
                    if not isinstance(message, dict):
                        continue
                    kind = message.get("T")
                    if kind == "error":
                        code = message.get("code")
                        text = f"Alpaca market data stream error {code}: {message.get('msg')}"
                        if code in _FATAL:
                            error_type = AuthError if code in (401, 402, 404, 409) else PorticoError
                            self._fail(error_type(text, system=self.system, venue_code=code))
                            return
                        self._emit("stream.error", stream="market_data", code=code, message=message.get("msg"))
                        continue
                    channel = _CHANNELS.get(str(kind))
                    if channel is None:
                        continue
                    # news names its tickers in a list; the other channels one symbol in S
                    about = (
                        {str(s).upper() for s in message.get("symbols") or []}
                        if kind == "n"
                        else {message.get("S")}
                    )
                    for sub in self._subscribers:
                        if sub.channel == channel and (
                            about & sub.symbols or (kind == "n" and "*" in sub.symbols)
                        ):
                            sub.offer(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        for sub in self._subscribers:
            sub.offer(exc)

    async def _messages(self, channel: str, symbols: list[str]) -> AsyncGenerator[dict[str, Any], None]:
        sub = _Subscriber(channel, {s.upper() for s in symbols}, self._queue_size)
        async with self._lock:
            before = self.wanted()[channel]
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
                    self._reader = asyncio.create_task(self._read(client), name=f"portico-{self.system}-market-data")
                elif sub.symbols - before:
                    await self._client.send({"action": "subscribe", channel: sorted(sub.symbols - before)})
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
            gone = sub.symbols - self.wanted()[sub.channel]
            if gone and client is not None:
                with contextlib.suppress(PorticoError):
                    await client.send({"action": "unsubscribe", sub.channel: sorted(gone)})

    async def quotes(self, symbols: list[str]) -> AsyncGenerator[Quote, None]:
        """Live quotes."""
        async with contextlib.aclosing(self._messages("quotes", symbols)) as messages:
            async for message in messages:
                yield quote_from_wire(parse(WireQuote, message, what="quote", system=self.system), message["S"])

    async def trades(self, symbols: list[str]) -> AsyncGenerator[Trade, None]:
        """Live trades."""
        async with contextlib.aclosing(self._messages("trades", symbols)) as messages:
            async for message in messages:
                yield trade_from_wire(parse(WireTrade, message, what="trade", system=self.system), message["S"])

    async def news(self, symbols: list[str]) -> AsyncGenerator[NewsItem, None]:
        """Live news (``["*"]``: every article); only on a stream opened at the news URL."""
        async with contextlib.aclosing(self._messages("news", symbols)) as messages:
            async for message in messages:
                yield news_from_wire(
                    parse(WireNews, message, what="news", system=self.system), system=self.system
                )

    async def bars(self, symbols: list[str]) -> AsyncGenerator[Bar, None]:
        """Live minute bars."""
        async with contextlib.aclosing(self._messages("bars", symbols)) as messages:
            async for message in messages:
                yield bar_from_wire(parse(WireBar, message, what="bar", system=self.system), message["S"], BarInterval.MIN_1)
