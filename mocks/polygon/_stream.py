"""The Polygon (Massive) stocks WebSocket: ``/stocks`` with the vendor's status messages and event shapes.

Protocol, as ``massive.WebSocketClient`` speaks it:

1. on connect the server sends ``[{"ev": "status", "status": "connected", "message": "Connected Successfully"}]``;
2. the client sends ``{"action": "auth", "params": "<key>"}``; the server answers ``auth_success`` or
   ``auth_failed`` (then closes); no auth within ``auth_timeout`` seconds answers ``auth_timeout``;
3. ``{"action": "subscribe"|"unsubscribe", "params": "T.AAPL,Q.AAPL"}`` are confirmed per channel with
   ``{"ev": "status", "status": "success", "message": "subscribed to: T.AAPL"}``; ``*`` means every ticker;
4. events arrive as JSON arrays: ``T`` (trade), ``Q`` (quote), ``A`` (second aggregate), ``AM`` (minute
   aggregate), stamped in Unix milliseconds.

The stream has its own simulated cursor: it follows the mock's clock and, when that clock stands still
(tests), steps one second per tick so a frozen mock still streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from portico.mocks._kit import NEW_YORK, session_bounds
from portico.mocks.polygon._universe import EXCHANGE_IDS

if TYPE_CHECKING:
    from portico.mocks.polygon._app import PolygonMock

__all__ = ["CHANNELS", "PolygonStream"]

CHANNELS = ("T", "Q", "A", "AM")
"""The stocks channels the mock serves."""


def _status(status: str, message: str) -> dict[str, str]:
    return {"ev": "status", "status": status, "message": message}


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class PolygonStream:
    """Serves ``/stocks`` from a :class:`PolygonMock`'s data and key plans.

    Args:
        mock: the REST mock (its generator, clock and plans).
        interval: real seconds between ticks.
        auth_timeout: real seconds a connection may wait before authenticating.
    """

    def __init__(self, mock: PolygonMock, *, interval: float = 0.05, auth_timeout: float = 10.0) -> None:
        self.mock = mock
        self.interval = interval
        self.auth_timeout = auth_timeout
        self.connections = 0
        self.auth_attempts: list[bool] = []

    async def serve(self, websocket: WebSocket) -> None:
        """One connection: connected, auth, subscriptions, events until the client leaves."""
        await websocket.accept()
        await websocket.send_text(json.dumps([_status("connected", "Connected Successfully")]))
        producer: asyncio.Task[None] | None = None
        subscriptions: set[str] = set()
        try:
            if not await self._authenticate(websocket):
                return
            self.connections += 1
            producer = asyncio.create_task(self._produce(websocket, subscriptions))
            while True:
                text = await websocket.receive_text()
                await self._control(websocket, text, subscriptions)
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

    async def _authenticate(self, websocket: WebSocket) -> bool:
        try:
            text = await asyncio.wait_for(websocket.receive_text(), self.auth_timeout)
        except TimeoutError:
            await websocket.send_text(
                json.dumps([_status("auth_timeout", "No authentication request received.")])
            )
            await websocket.close(1008)
            return False
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        key = (
            str(message.get("params", ""))
            if isinstance(message, dict) and message.get("action") == "auth"
            else ""
        )
        plans = self.mock.plans
        accepted = bool(key) and plans.knows(key) and "stream" in plans.plan_of(key).features
        self.auth_attempts.append(accepted)
        if not accepted:
            reason = "authentication failed"
            if key and plans.knows(key):
                reason = "Your plan doesn't include websocket access. Visit https://massive.com/pricing to upgrade."
            await websocket.send_text(json.dumps([_status("auth_failed", reason)]))
            await websocket.close(1008)
            return False
        await websocket.send_text(json.dumps([_status("auth_success", "authenticated")]))
        return True

    async def _control(self, websocket: WebSocket, text: str, subscriptions: set[str]) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        action = message.get("action") if isinstance(message, dict) else None
        if action not in ("subscribe", "unsubscribe") or not isinstance(message.get("params"), str):
            await websocket.send_text(json.dumps([_status("error", "invalid action")]))
            return
        replies: list[dict[str, Any]] = []
        fresh: list[str] = []
        for item in (part.strip() for part in message["params"].split(",")):
            channel, _, symbol = item.partition(".")
            if channel not in CHANNELS or not symbol:
                replies.append(_status("error", f"invalid subscription: {item}"))
                continue
            topic = f"{channel}.{symbol.upper() if symbol != '*' else '*'}"
            if action == "subscribe":
                subscriptions.add(topic)
                replies.append(_status("success", f"subscribed to: {topic}"))
                if channel == "AM":
                    fresh.append(topic)
            else:
                subscriptions.discard(topic)
                replies.append(_status("success", f"unsubscribed to: {topic}"))
        await websocket.send_text(json.dumps(replies))
        # a mock convenience: a new minute-aggregate subscriber gets the last completed minute at once, so
        # a test need not wait up to a minute of wall time (the vendor sends it when the next one closes)
        latest = self._minute_events(set(fresh), self.mock.clock.now(), latest=True) if fresh else []
        if latest:
            await websocket.send_text(json.dumps(latest))

    def _symbols(self, subscriptions: set[str], channel: str) -> list[str]:
        wanted = {topic.split(".", 1)[1] for topic in subscriptions if topic.startswith(f"{channel}.")}
        if "*" in wanted:
            return sorted(self.mock.tickers)
        return sorted(s for s in wanted if s in self.mock.tickers)

    def events(self, subscriptions: set[str], at: datetime, previous: datetime) -> list[dict[str, Any]]:
        """The events of one tick at simulated ``at`` (the last tick was at ``previous``)."""
        gen = self.mock.generator
        batch: list[dict[str, Any]] = []
        for symbol in self._symbols(subscriptions, "T"):
            trade = gen.trade(symbol, at)
            batch.append({"ev": "T", "sym": symbol, "x": EXCHANGE_IDS[trade.exchange], "i": str(trade.trade_id),
                          "z": 3, "p": trade.price, "s": trade.size, "c": [], "t": _ms(at),
                          "q": _ms(at) % 10**9})  # fmt: skip
        for symbol in self._symbols(subscriptions, "Q"):
            quote = gen.quote(symbol, at)
            batch.append({"ev": "Q", "sym": symbol, "bx": EXCHANGE_IDS[quote.bid_exchange], "bp": quote.bid_price,
                          "bs": quote.bid_size, "ax": EXCHANGE_IDS[quote.ask_exchange], "ap": quote.ask_price,
                          "as": quote.ask_size, "c": 1, "i": [], "t": _ms(at), "q": _ms(at) % 10**9,
                          "z": 3})  # fmt: skip
        for symbol in self._symbols(subscriptions, "A"):
            prices = [gen.price(symbol, previous), gen.price(symbol, at)]
            day_open = gen.price(symbol, session_bounds(at.astimezone(NEW_YORK).date())[0])
            batch.append({"ev": "A", "sym": symbol, "v": 100, "av": 100_000, "op": day_open,
                          "vw": round(sum(prices) / 2, 4), "o": prices[0], "c": prices[1], "h": max(prices),
                          "l": min(prices), "a": round(sum(prices) / 2, 4), "z": 100, "s": _ms(previous),
                          "e": _ms(at)})  # fmt: skip
        if at.replace(second=0, microsecond=0) > previous.replace(second=0, microsecond=0):
            batch.extend(self._minute_events(subscriptions, at))
        return batch

    def _minute_events(
        self, subscriptions: set[str], at: datetime, *, latest: bool = False
    ) -> list[dict[str, Any]]:
        """``AM`` events of the minute that closed just before ``at``; with ``latest``, of the last minute
        of any session before ``at`` (outside a session that is the previous close)."""
        minute = at.replace(second=0, microsecond=0)
        batch: list[dict[str, Any]] = []
        since = minute - timedelta(days=5 if latest else 0, minutes=1)
        for symbol in self._symbols(subscriptions, "AM"):
            bars = self.mock.generator.bars(symbol, "1min", since, minute - timedelta(microseconds=1))[-1:]
            for bar in bars:
                batch.append({"ev": "AM", "sym": symbol, "v": bar.volume, "av": bar.volume, "op": bar.open,
                              "vw": bar.vwap, "o": bar.open, "c": bar.close, "h": bar.high, "l": bar.low,
                              "a": bar.vwap, "z": max(1, bar.volume // max(1, bar.trade_count)),
                              "s": _ms(bar.timestamp), "e": _ms(bar.timestamp + timedelta(minutes=1))})  # fmt: skip
        return batch

    async def _produce(self, websocket: WebSocket, subscriptions: set[str]) -> None:
        clock = self.mock.clock
        cursor = clock.now()
        while True:
            await asyncio.sleep(self.interval)
            previous = cursor
            # a clock following wall time is followed; a frozen one is stepped a second a tick
            cursor = clock.now() if clock.realtime else max(clock.now(), cursor + timedelta(seconds=1))
            if cursor <= previous:
                continue
            batch = self.events(subscriptions, cursor, previous)
            if batch:
                await websocket.send_text(json.dumps(batch))
