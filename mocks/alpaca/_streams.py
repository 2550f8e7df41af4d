"""The two Alpaca streams.

* ``/stream``: trade updates. ``authenticate`` then ``listen`` to ``trade_updates``; every venue event
  of the account follows as ``{"stream": "trade_updates", "data": {...}}``. Frames are binary (JSON
  text in binary frames, as the paper endpoint sends them), or msgpack when the client connects with
  ``Content-Type: application/msgpack``.
* ``/v2/{feed}``: market data. ``connected`` on connect, ``auth``, ``subscribe``/``unsubscribe`` to
  trades, quotes and bars; every message is an array. Text JSON by default; msgpack (timestamps as the
  msgpack Timestamp extension) when the client asks with ``Content-Type: application/msgpack``, as
  alpaca-py does. Trades and quotes are sent every ``stream_interval`` real seconds; a minute bar
  whenever the simulated clock enters a new minute. A symbol's trade and quote carry the timestamp of
  their second of the clock, so within one second they are the same message: each is encoded once a
  second (per connection) and reused, which lets the mock produce far faster than a client consumes.
* ``/v1beta1/news``: real-time news. The market data handshake (``connected``, ``auth``), then
  ``subscribe``/``unsubscribe`` to ``news`` (tickers, or ``*``); each seeded article
  (:class:`~portico.mocks._kit._news.NewsSource`, the same the REST ``/v1beta1/news`` serves) is sent
  as ``{"T": "n", ...}`` once the mock clock passes its time. A mock convenience, as with bars: a new
  subscription gets the latest article of each newly subscribed ticker at once, so a frozen test clock
  still yields one (the real stream only sends what is published from then on).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgpack
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from portico.mocks._kit import VenueEvent
from portico.mocks.alpaca._app import AlpacaMockApp
from portico.mocks.alpaca._wire import bar_json, quote_json, trade_json, trade_update_json

if TYPE_CHECKING:
    from portico.mocks._kit._news import NewsArticle

__all__ = ["stream_routes"]

AUTH_TIMEOUT = 10.0
_FEEDS = ("iex", "sip", "delayed_sip", "test")
_CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")


def _wants_msgpack(websocket: WebSocket) -> bool:
    return "msgpack" in websocket.headers.get("content-type", "").lower()


def _decode(message: Mapping[str, Any]) -> Any:
    if message.get("text") is not None:
        return json.loads(message["text"])
    raw = message.get("bytes") or b""
    try:
        return msgpack.unpackb(raw)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return json.loads(raw)


class _Channel:
    """Sends in the encoding the client asked for; serialises concurrent senders."""

    def __init__(self, websocket: WebSocket, *, binary_json: bool) -> None:
        self.websocket = websocket
        self.msgpack = _wants_msgpack(websocket)
        self.binary_json = binary_json
        self.lock = asyncio.Lock()

    async def send(self, payload: Any) -> None:
        async with self.lock:
            if self.msgpack:
                await self.websocket.send_bytes(msgpack.packb(payload, datetime=True))
            elif self.binary_json:
                await self.websocket.send_bytes(json.dumps(payload, default=str).encode())
            else:
                await self.websocket.send_text(json.dumps(payload, default=str))

    async def send_json_text(self, text: str) -> None:
        """Send a payload already encoded as JSON text (not for msgpack clients)."""
        async with self.lock:
            if self.binary_json:
                await self.websocket.send_bytes(text.encode())
            else:
                await self.websocket.send_text(text)

    async def receive(self) -> Any:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return _decode(message)


async def trade_updates(websocket: WebSocket) -> None:
    """``/stream``: authorization, listen, then the account's order events."""
    app: AlpacaMockApp = websocket.app
    await websocket.accept()
    channel = _Channel(websocket, binary_json=True)
    queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    unsubscribe = None
    authorized = False
    listening = False
    pump: asyncio.Task[None] | None = None

    def on_event(event: VenueEvent) -> None:
        # venue events may come from another thread (a test driving the venue directly)
        loop.call_soon_threadsafe(queue.put_nowait, event)

    async def forward() -> None:
        while True:
            event = await queue.get()
            if event.order.account_id == app.venue.default_account_id:
                await channel.send(trade_update_json(event))

    try:
        while True:
            try:
                message = await channel.receive()
            except (ValueError, msgpack.ExtraData):
                await channel.send({"stream": "error", "data": {"error_message": "invalid syntax"}})
                continue
            action = message.get("action") if isinstance(message, dict) else None
            data = message.get("data") or {} if isinstance(message, dict) else {}
            if action in ("authenticate", "auth"):
                key = data.get("key_id") or message.get("key")
                secret = data.get("secret_key") or message.get("secret")
                token = data.get("oauth_token")
                authorized = app.check_key_pair(key, secret) or bool(token and (app.tokens is None or token in app.tokens))
                status = "authorized" if authorized else "unauthorized"
                await channel.send({"stream": "authorization", "data": {"status": status, "action": "authenticate"}})
            elif action == "listen":
                if not authorized:
                    await channel.send({"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}})
                    continue
                streams = [s for s in data.get("streams", []) if s == "trade_updates"]
                listening = bool(streams)
                if listening and unsubscribe is None:
                    unsubscribe = app.venue.subscribe(on_event)
                    pump = asyncio.create_task(forward())
                elif not listening and unsubscribe is not None:
                    unsubscribe()
                    unsubscribe = None
                    if pump is not None:
                        pump.cancel()
                        pump = None
                await channel.send({"stream": "listening", "data": {"streams": streams}})
            else:
                await channel.send({"stream": "error", "data": {"error_message": f"unrecognized action {action!r}"}})
    except WebSocketDisconnect:
        pass
    finally:
        if unsubscribe is not None:
            unsubscribe()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump


async def market_data(websocket: WebSocket) -> None:
    """``/v2/{feed}``: connected, auth, subscribe, then trades, quotes and bars."""
    app: AlpacaMockApp = websocket.app
    feed = websocket.path_params["feed"]
    await websocket.accept()
    channel = _Channel(websocket, binary_json=False)
    if feed not in _FEEDS:
        await channel.send([{"T": "error", "code": 404, "msg": "not found"}])
        await websocket.close()
        return
    await channel.send([{"T": "success", "msg": "connected"}])
    subscriptions: dict[str, set[str]] = {name: set() for name in _CHANNELS}
    authenticated = False
    counted: str | None = None
    producer: asyncio.Task[None] | None = None

    def stamp(value: Any) -> Any:
        return value if channel.msgpack else None

    def last_bars(symbols: list[str]) -> list[dict[str, Any]]:
        now = app.clock.now()
        minute = now.replace(second=0, microsecond=0)
        out = []
        for symbol in symbols:
            found = [b for b in app.data.bars(symbol.upper(), "1min", minute - timedelta(days=4), minute, until=now) if b.timestamp < minute]
            if found:
                out.append({"T": "b", "S": symbol.upper(), **bar_json(found[-1], stamp=stamp(found[-1].timestamp))})
        return out

    # (kind, symbol) -> (second of the clock, the message as JSON text): one encoding a second
    encoded: dict[tuple[str, str], tuple[int, str]] = {}

    def tick(kind: str, symbol: str, now: Any, second: int) -> str:
        hit = encoded.get((kind, symbol))
        if hit is not None and hit[0] == second:
            return hit[1]
        if kind == "t":
            trade = app.data.trade(symbol, now)
            message = {"T": "t", "S": symbol, **trade_json(trade)}
        else:
            quote = app.data.quote(symbol, now)
            message = {"T": "q", "S": symbol, **quote_json(quote)}
        text = json.dumps(message, default=str)
        encoded[(kind, symbol)] = (second, text)
        return text

    # the trades and quotes of one second, joined, for the subscription they were built for: within a
    # second every tick repeats, so the producer's work per frame is one send
    ticks_frame: tuple[int, tuple[frozenset[str], frozenset[str]], str] | None = None

    def ticks_text(now: Any) -> str:
        nonlocal ticks_frame
        second = int(now.timestamp())
        subscribed = (frozenset(subscriptions["trades"]), frozenset(subscriptions["quotes"]))
        if ticks_frame is not None and ticks_frame[0] == second and ticks_frame[1] == subscribed:
            return ticks_frame[2]
        parts = [tick("t", symbol, now, second) for symbol in sorted(subscribed[0])]
        parts.extend(tick("q", symbol, now, second) for symbol in sorted(subscribed[1]))
        ticks_frame = (second, subscribed, ",".join(parts))
        return ticks_frame[2]

    async def produce() -> None:
        last_minute = app.clock.now().replace(second=0, microsecond=0)
        while True:
            await asyncio.sleep(app.stream_interval)
            now = app.clock.now()
            batch: list[dict[str, Any]] = []
            text = ""
            if channel.msgpack:
                for symbol in sorted(subscriptions["trades"]):
                    trade = app.data.trade(symbol, now)
                    batch.append({"T": "t", "S": symbol, **trade_json(trade, stamp=stamp(trade.timestamp))})
                for symbol in sorted(subscriptions["quotes"]):
                    quote = app.data.quote(symbol, now)
                    batch.append({"T": "q", "S": symbol, **quote_json(quote, stamp=stamp(quote.timestamp))})
            elif subscriptions["trades"] or subscriptions["quotes"]:
                text = ticks_text(now)
            minute = now.replace(second=0, microsecond=0)
            if minute > last_minute:
                bar_symbols = subscriptions["bars"]
                if "*" in bar_symbols:
                    bar_symbols = {a.symbol for a in app.venue.assets()}
                for symbol in sorted(bar_symbols):
                    found = app.data.bars(symbol, "1min", last_minute, minute, until=now)
                    for bar in found:
                        if bar.timestamp < minute:
                            batch.append({"T": "b", "S": symbol, **bar_json(bar, stamp=stamp(bar.timestamp))})
                last_minute = minute
            if text:
                extra = "".join("," + json.dumps(m, default=str) for m in batch)
                await channel.send_json_text("[" + text + extra + "]")
            elif batch:
                await channel.send(batch)

    try:
        while True:
            try:
                message = await asyncio.wait_for(channel.receive(), AUTH_TIMEOUT) if not authenticated else await channel.receive()
            except TimeoutError:
                await channel.send([{"T": "error", "code": 404, "msg": "auth timeout"}])
                await websocket.close()
                return
            except (ValueError, msgpack.ExtraData):
                await channel.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
                continue
            action = message.get("action") if isinstance(message, dict) else None
            if action == "auth":
                if authenticated:
                    await channel.send([{"T": "error", "code": 403, "msg": "already authenticated"}])
                elif app.check_key_pair(message.get("key"), message.get("secret")):
                    key = str(message.get("key"))
                    limit = app.stream_connection_limit
                    if limit is not None and app.stream_connections.get(key, 0) >= limit:
                        await channel.send([{"T": "error", "code": 406, "msg": "connection limit exceeded"}])
                        await websocket.close()
                        return
                    app.stream_connections[key] = app.stream_connections.get(key, 0) + 1
                    counted = key
                    authenticated = True
                    await channel.send([{"T": "success", "msg": "authenticated"}])
                else:
                    await channel.send([{"T": "error", "code": 402, "msg": "auth failed"}])
            elif action in ("subscribe", "unsubscribe"):
                if not authenticated:
                    await channel.send([{"T": "error", "code": 401, "msg": "not authenticated"}])
                    continue
                for name in _CHANNELS:
                    symbols = {str(s).upper() if s != "*" else "*" for s in message.get(name) or []}
                    if action == "subscribe":
                        subscriptions[name] |= symbols
                    else:
                        subscriptions[name] -= symbols
                await channel.send([{"T": "subscription", **{name: sorted(subscriptions[name]) for name in _CHANNELS}}])
                fresh = sorted(s for s in message.get("bars") or [] if s != "*") if action == "subscribe" else []
                # a mock convenience: new bar subscribers get the last completed minute at once, so a
                # frozen test clock still yields a bar (the real feed waits for the next minute)
                latest = last_bars(fresh) if fresh else []
                if latest:
                    await channel.send(latest)
                if producer is None:
                    producer = asyncio.create_task(produce())
            else:
                await channel.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
    except WebSocketDisconnect:
        pass
    finally:
        if counted is not None:
            app.stream_connections[counted] -= 1
        if producer is not None:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


def _news_message(article: Any, *, msgpack_stamps: bool) -> dict[str, Any]:
    stamp: Any = article.published_at if msgpack_stamps else article.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "T": "n", "id": article.id, "headline": article.headline, "summary": article.summary,
        "author": article.author, "created_at": stamp, "updated_at": stamp, "url": article.url, "content": "",
        "symbols": [article.symbol], "source": article.publisher.lower(),
    }  # fmt: skip


async def news(websocket: WebSocket) -> None:
    """``/v1beta1/news``: connected, auth, subscribe to ``news``, then articles as the clock passes them."""
    from portico.mocks._kit._news import NewsSource

    app: AlpacaMockApp = websocket.app
    await websocket.accept()
    channel = _Channel(websocket, binary_json=False)
    await channel.send([{"T": "success", "msg": "connected"}])
    source = getattr(app, "_news_source", None)
    if source is None:
        source = NewsSource(app.venue.seed)
        app._news_source = source  # type: ignore[attr-defined]
    wanted: set[str] = set()
    sent: set[int] = set()
    authenticated = False
    producer: asyncio.Task[None] | None = None

    def tickers() -> list[str]:
        if "*" in wanted:
            return sorted({a.symbol for a in app.venue.assets()})
        return sorted(wanted)

    async def deliver(articles: list[Any]) -> None:
        fresh = [a for a in articles if a.id not in sent]
        if fresh:
            sent.update(a.id for a in fresh)
            await channel.send([_news_message(a, msgpack_stamps=channel.msgpack) for a in fresh])

    async def produce() -> None:
        last = app.clock.now()
        while True:
            await asyncio.sleep(app.stream_interval)
            now = app.clock.now()
            if now > last and wanted:
                found = source.articles(tickers(), start=last, end=now, now=now, newest_first=False)
                await deliver([a for a in found if a.published_at > last])
            last = max(last, now)

    try:
        while True:
            try:
                message = await asyncio.wait_for(channel.receive(), AUTH_TIMEOUT) if not authenticated else await channel.receive()
            except TimeoutError:
                await channel.send([{"T": "error", "code": 404, "msg": "auth timeout"}])
                await websocket.close()
                return
            except (ValueError, msgpack.ExtraData):
                await channel.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
                continue
            action = message.get("action") if isinstance(message, dict) else None
            if action == "auth":
                if authenticated:
                    await channel.send([{"T": "error", "code": 403, "msg": "already authenticated"}])
                elif app.check_key_pair(message.get("key"), message.get("secret")):
                    authenticated = True
                    await channel.send([{"T": "success", "msg": "authenticated"}])
                else:
                    await channel.send([{"T": "error", "code": 402, "msg": "auth failed"}])
            elif action in ("subscribe", "unsubscribe"):
                if not authenticated:
                    await channel.send([{"T": "error", "code": 401, "msg": "not authenticated"}])
                    continue
                symbols = {str(s).upper() if s != "*" else "*" for s in message.get("news") or []}
                before = set(tickers())
                if action == "subscribe":
                    wanted |= symbols
                else:
                    wanted -= symbols
                await channel.send([{"T": "subscription", "news": sorted(wanted)}])
                added = [t for t in tickers() if t not in before] if action == "subscribe" else []
                if added:
                    now = app.clock.now()
                    latest: list[NewsArticle] = []
                    for ticker in added if "*" not in symbols else []:
                        found = source.articles([ticker], start=None, end=None, now=now, limit=1)
                        latest.extend(found)
                    if "*" in symbols:
                        latest = source.articles(added, start=None, end=None, now=now, limit=1)
                    await deliver(sorted(latest, key=lambda a: (a.published_at, a.id)))
                if producer is None:
                    producer = asyncio.create_task(produce())
            else:
                await channel.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
    except WebSocketDisconnect:
        pass
    finally:
        if producer is not None:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


def stream_routes() -> list[WebSocketRoute]:
    """The trade updates, market data and news WebSocket routes."""
    return [
        WebSocketRoute("/stream", trade_updates),
        WebSocketRoute("/v2/{feed}", market_data),
        WebSocketRoute("/v1beta1/news", news),
    ]
