"""The streamer WebSocket (``/ws``, named by ``/trader/v1/userPreference``): ADMIN LOGIN/LOGOUT,
LEVELONE_EQUITIES, CHART_EQUITY and ACCT_ACTIVITY.

Requests are ``{"requests": [{"service", "requestid", "command", "SchwabClientCustomerId",
"SchwabClientCorrelId", "parameters"}]}``; each is answered ``{"response": [{"service", "requestid",
"command", "SchwabClientCorrelId", "timestamp", "content": {"code", "msg"}}]}`` (code 0 on success).
Data arrives as ``{"data": [{"service", "timestamp", "command", "content": [{"key", "1": ...}]}]}``
with numbered fields, and ``{"notify": [{"heartbeat": ms}]}`` keeps the line alive. Level one
messages carry only the fields that changed, as Schwab's do.

ACCT_ACTIVITY's message types and the JSON inside its message data field are not documented in the
sources portico has [unconfirmed]: the mock sends ``OrderCreated``, ``ExecutionCreated``,
``OrderUROutCompleted``, ``OrderReplaced``, ``OrderExpired``, ``OrderRejected`` with
``{"SchwabOrderID", "AccountNumber", "Status"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from portico.mocks._kit import VenueEvent
from portico.mocks.schwab._app import SchwabMockApp
from portico.mocks.schwab._trader import STATUS

__all__ = ["ACTIVITY_TYPES", "streamer_routes"]

ACTIVITY_TYPES = {
    "new": "OrderCreated",
    "fill": "ExecutionCreated",
    "partial_fill": "ExecutionCreated",
    "canceled": "OrderUROutCompleted",
    "replaced": "OrderReplaced",
    "expired": "OrderExpired",
    "rejected": "OrderRejected",
}
_SERVICES = ("LEVELONE_EQUITIES", "CHART_EQUITY", "ACCT_ACTIVITY")


def _ms(app: SchwabMockApp) -> int:
    return int(app.clock.now().timestamp() * 1000)


class _Session:
    """One streamer connection: its login, subscriptions and the last values sent per symbol."""

    def __init__(self, app: SchwabMockApp, websocket: WebSocket) -> None:
        self.app = app
        self.websocket = websocket
        self.lock = asyncio.Lock()
        self.logged_in = False
        self.correl_id = ""
        self.subs: dict[str, dict[str, set[str]]] = {s: {} for s in _SERVICES}
        self.sent_quotes: dict[str, dict[str, Any]] = {}
        self.sent_bars: dict[str, int] = {}
        self.sequence = 0

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            await self.websocket.send_text(json.dumps(payload, separators=(",", ":")))

    async def respond(self, request: dict[str, Any], code: int, msg: str) -> None:
        await self.send(
            {
                "response": [
                    {
                        "service": request.get("service"),
                        "command": request.get("command"),
                        "requestid": str(request.get("requestid", "")),
                        "SchwabClientCorrelId": request.get("SchwabClientCorrelId", self.correl_id),
                        "timestamp": _ms(self.app),
                        "content": {"code": code, "msg": msg},
                    }
                ]
            }
        )

    async def handle(self, request: dict[str, Any]) -> bool:
        """Answer one request; False when the connection must close."""
        service, command = request.get("service"), request.get("command")
        raw = request.get("parameters")
        parameters: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if service == "ADMIN" and command == "LOGIN":
            token = str(parameters.get("Authorization", ""))
            found = self.app.access_tokens.get(token)
            if found is None or found[1] <= self.app.clock.now():
                await self.respond(request, 3, "Login Denied: the access token is invalid or expired")
                return False
            self.logged_in = True
            self.correl_id = str(request.get("SchwabClientCorrelId", ""))
            await self.respond(request, 0, "server=mock-streamer;status=PN")
            return True
        if not self.logged_in:
            await self.respond(request, 3, "Not logged in: send ADMIN LOGIN first")
            return False
        if service == "ADMIN" and command == "LOGOUT":
            await self.respond(request, 0, "SUCCESS")
            return False
        if service not in _SERVICES:
            await self.respond(request, 11, f"service {service} is not available")
            return True
        keys = {
            k.strip().upper() if service != "ACCT_ACTIVITY" else k.strip()
            for k in str(parameters.get("keys", "")).split(",")
        }
        keys.discard("")
        fields = {f.strip() for f in str(parameters.get("fields", "")).split(",") if f.strip()}
        subs = self.subs[service]
        if command == "SUBS":
            subs.clear()
            subs.update({k: fields for k in keys})
        elif command == "ADD":
            subs.update({k: fields for k in keys})
        elif command == "UNSUBS":
            for key in keys:
                subs.pop(key, None)
        elif command == "VIEW":
            for key in subs:
                subs[key] = fields
        else:
            await self.respond(request, 22, f"command {command} is not valid for {service}")
            return True
        await self.respond(request, 0, f"{command} command succeeded")
        if service in ("LEVELONE_EQUITIES", "CHART_EQUITY"):
            await self.tick(only=service)
        return True

    def _quote_fields(self, symbol: str) -> dict[str, Any]:
        now = self.app.clock.now()
        data = self.app.venue.data
        quote = data.quote(symbol, now)
        trade = data.trade(symbol, now)
        close = float(self.app.venue.lastday_price(symbol))
        return {
            "1": quote.bid_price,
            "2": quote.ask_price,
            "3": trade.price,
            "4": quote.bid_size // 100,
            "5": quote.ask_size // 100,
            "8": 0,
            "9": trade.size,
            "12": close,
            "18": round(trade.price - close, 4),
            "33": trade.price,
            "34": int(quote.timestamp.timestamp() * 1000),
            "35": int(trade.timestamp.timestamp() * 1000),
        }

    async def tick(self, only: str | None = None) -> None:
        """Send what changed since the last tick for every subscription."""
        stamp = _ms(self.app)
        if only in (None, "LEVELONE_EQUITIES") and self.subs["LEVELONE_EQUITIES"]:
            content = []
            for symbol, fields in self.subs["LEVELONE_EQUITIES"].items():
                try:
                    current = self._quote_fields(symbol)
                except Exception:
                    continue  # unknown symbols stay silent, as Schwab's do
                last = self.sent_quotes.get(symbol, {})
                changed = {
                    k: v for k, v in current.items() if (not fields or k in fields) and last.get(k) != v
                }
                if changed or not last:
                    self.sent_quotes[symbol] = {**last, **changed}
                    content.append(
                        {
                            "key": symbol,
                            "delayed": False,
                            "assetMainType": "EQUITY",
                            "assetSubType": "COE",
                            **changed,
                        }
                    )
            if content:
                await self.send(
                    {
                        "data": [
                            {
                                "service": "LEVELONE_EQUITIES",
                                "timestamp": stamp,
                                "command": "SUBS",
                                "content": content,
                            }
                        ]
                    }
                )
        if only in (None, "CHART_EQUITY") and self.subs["CHART_EQUITY"]:
            now = self.app.clock.now()
            minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
            content = []
            for symbol in self.subs["CHART_EQUITY"]:
                bars = self.app.venue.data.bars(
                    symbol, "1min", minute - timedelta(minutes=5), minute, until=now
                )
                bars = [b for b in bars if b.timestamp + timedelta(minutes=1) <= now]
                if not bars:
                    continue
                bar = bars[-1]
                started = int(bar.timestamp.timestamp() * 1000)
                if self.sent_bars.get(symbol) == started:
                    continue
                self.sent_bars[symbol] = started
                self.sequence += 1
                content.append(
                    {
                        "key": symbol,
                        "1": self.sequence,
                        "2": bar.open,
                        "3": bar.high,
                        "4": bar.low,
                        "5": bar.close,
                        "6": float(bar.volume),
                        "7": started,
                        "8": (bar.timestamp.date() - bar.timestamp.date().replace(month=1, day=1)).days,
                    }
                )
            if content:
                await self.send(
                    {
                        "data": [
                            {
                                "service": "CHART_EQUITY",
                                "timestamp": stamp,
                                "command": "SUBS",
                                "content": content,
                            }
                        ]
                    }
                )

    async def activity(self, event: VenueEvent) -> None:
        if not self.subs["ACCT_ACTIVITY"]:
            return
        link = next((a for a in self.app.accounts.values() if a.venue_id == event.order.account_id), None)
        kind = ACTIVITY_TYPES.get(event.event)
        if link is None or kind is None:
            return
        number = self.app.order_number(event.order.id)
        message = {
            "SchwabOrderID": str(number),
            "AccountNumber": link.number,
            "Status": STATUS.get(event.order.status, "WORKING"),
        }
        self.sequence += 1
        content = [
            {"seq": self.sequence, "key": key, "1": link.number, "2": kind, "3": json.dumps(message)}
            for key in self.subs["ACCT_ACTIVITY"]
        ]
        await self.send(
            {
                "data": [
                    {
                        "service": "ACCT_ACTIVITY",
                        "timestamp": _ms(self.app),
                        "command": "SUBS",
                        "content": content,
                    }
                ]
            }
        )


async def streamer(websocket: WebSocket) -> None:
    """``/ws``: the streamer protocol over one connection."""
    app: SchwabMockApp = websocket.app
    await websocket.accept()
    session = _Session(app, websocket)
    events: asyncio.Queue[VenueEvent] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def on_event(event: VenueEvent) -> None:
        # venue events may come from another thread (a test driving the venue directly)
        loop.call_soon_threadsafe(events.put_nowait, event)

    async def pump() -> None:
        beats = 0
        while True:
            try:
                event = await asyncio.wait_for(events.get(), app.stream_interval)
            except TimeoutError:
                await session.tick()
                beats += 1
                if beats % 20 == 0:
                    await session.send({"notify": [{"heartbeat": str(_ms(app))}]})
                continue
            await session.activity(event)

    unsubscribe = app.venue.subscribe(on_event)
    task: asyncio.Task[None] | None = None
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                body = json.loads(message.get("text") or message.get("bytes") or b"")
            except ValueError:
                await session.send(
                    {"notify": [{"service": "ADMIN", "content": {"code": 20, "msg": "invalid JSON"}}]}
                )
                continue
            requests = body.get("requests") if isinstance(body, dict) else None
            if not isinstance(requests, list):
                await session.send(
                    {
                        "notify": [
                            {
                                "service": "ADMIN",
                                "content": {"code": 20, "msg": 'expected {"requests": [...]}'},
                            }
                        ]
                    }
                )
                continue
            keep = True
            for request in requests:
                if isinstance(request, dict):
                    keep = await session.handle(request) and keep
            if not keep:
                await websocket.close(1000)
                return
            if session.logged_in and task is None:
                task = asyncio.create_task(pump())
    except WebSocketDisconnect:
        return
    finally:
        unsubscribe()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def streamer_routes() -> list[WebSocketRoute]:
    """The streamer route."""
    return [WebSocketRoute("/ws", streamer)]
