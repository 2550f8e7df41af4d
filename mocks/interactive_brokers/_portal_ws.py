"""The Client Portal WebSocket (``/v1/api/ws``): topic strings in, JSON messages with ``topic`` out.

The client must present the session of ``tickle`` in the cookie ``api={"session": "..."}``. It sends plain
strings: ``smd+<conid>+{"fields": [...]}`` / ``umd+<conid>+{}`` (market data), ``sor+{}`` / ``uor+{}``
(orders), ``str+{}`` / ``utr+{}`` (trades), ``tic`` (keep-alive) and ``ech+hb`` (echo). The server sends
``system`` (``success`` on connect, then heartbeats ``hb``), ``sts`` (auth status), ``act`` (accounts),
``smd+<conid>``, ``sor`` and ``str``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from portico.mocks.interactive_brokers._portal import live_order, snapshot_row, trade_row
from portico.mocks.interactive_brokers._venue import VenueError, VenueEvent

__all__ = ["portal_socket"]


def _session_cookie(websocket: WebSocket) -> str | None:
    raw = websocket.cookies.get("api")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    session = value.get("session") if isinstance(value, dict) else None
    return str(session) if session else None


async def portal_socket(websocket: WebSocket) -> None:
    """One WebSocket client of the Client Portal mock."""
    app: Any = websocket.app
    if _session_cookie(websocket) != app.session.session_id or not app.session.sso:
        await websocket.close(code=1008, reason="session cookie missing or stale: POST /tickle first")
        return
    await websocket.accept()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    market: dict[int, list[str]] = {}
    topics: set[str] = set()

    def on_event(event: VenueEvent) -> None:
        if event.kind == "tick" and event.listing is not None and event.listing.conid in market:
            row = snapshot_row(app, event.listing, market[event.listing.conid])
            outbox.put_nowait({**row, "topic": f"smd+{event.listing.conid}"})
        elif event.kind == "order" and event.order is not None and "sor" in topics:
            outbox.put_nowait({"topic": "sor", "args": [live_order(event.order)]})
        elif event.kind == "fill" and event.order is not None and event.fill is not None and "str" in topics:
            outbox.put_nowait({"topic": "str", "args": [trade_row(event.order, event.fill)]})

    unsubscribe = app.venue.subscribe(on_event)
    accounts = app.venue.accounts
    await websocket.send_json({"topic": "system", "success": "portico1", "isFT": False, "isPaper": True})
    await websocket.send_json(
        {"topic": "act", "args": {"accounts": accounts, "selectedAccount": accounts[0]}}
    )
    await websocket.send_json({"topic": "sts", "args": {"authenticated": app.session.authenticated}})

    async def sender() -> None:
        while True:
            await websocket.send_json(await outbox.get())

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(app.heartbeat_interval)
            outbox.put_nowait({"topic": "system", "hb": int(app.venue.now().timestamp() * 1000)})

    tasks = [asyncio.create_task(sender()), asyncio.create_task(heartbeat())]
    try:
        while True:
            text = await websocket.receive_text()
            _handle(app, text.strip(), market, topics, outbox)
    except WebSocketDisconnect:
        pass
    finally:
        unsubscribe()
        for conid in market:
            app.ws_subscriptions[conid] = app.ws_subscriptions.get(conid, 1) - 1
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _handle(
    app: Any, text: str, market: dict[int, list[str]], topics: set[str], outbox: asyncio.Queue[dict[str, Any]]
) -> None:
    if text == "tic":
        outbox.put_nowait({"topic": "tic", "alive": True, "id": app.session.session_id, "lastAccessed": 0})
        return
    if text.startswith("ech+"):
        outbox.put_nowait({"topic": text, "alive": True})
        return
    head, _, rest = text.partition("+")
    if head in {"smd", "umd"}:
        conid_text, _, args_text = rest.partition("+")
        try:
            listing = app.venue.listing(conid=int(conid_text))
        except (ValueError, VenueError):
            outbox.put_nowait({"topic": "error", "error": f"unknown conid {conid_text!r}"})
            return
        if head == "umd":
            if market.pop(listing.conid, None) is not None:
                app.ws_subscriptions[listing.conid] = app.ws_subscriptions.get(listing.conid, 1) - 1
            return
        try:
            args = json.loads(args_text) if args_text else {}
        except ValueError:
            outbox.put_nowait({"topic": "error", "error": f"bad arguments {args_text!r}"})
            return
        fields = [str(f) for f in args.get("fields", ["31", "84", "86"])]
        if listing.conid not in market:
            app.ws_subscriptions[listing.conid] = app.ws_subscriptions.get(listing.conid, 0) + 1
        market[listing.conid] = fields
        outbox.put_nowait({**snapshot_row(app, listing, fields), "topic": f"smd+{listing.conid}"})
    elif head == "sor":
        topics.add("sor")
        outbox.put_nowait({"topic": "sor", "args": [live_order(o) for o in app.venue.orders.values()]})
    elif head == "uor":
        topics.discard("sor")
    elif head == "str":
        topics.add("str")
        rows = [trade_row(o, f) for o in app.venue.orders.values() for f in o.fills]
        outbox.put_nowait({"topic": "str", "args": rows})
    elif head == "utr":
        topics.discard("str")
    else:
        outbox.put_nowait({"topic": "error", "error": f"unknown topic {head!r}"})
