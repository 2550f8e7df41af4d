"""The base of every mock server: a Starlette app with fault injection, a request journal and admin
endpoints under ``/__mock__``.

Admin endpoints (never faulted, never journaled):

* ``GET /__mock__/health``
* ``GET|POST|PUT|DELETE /__mock__/faults``: list, add (one rule or a list), replace, clear rules
* ``GET|DELETE /__mock__/journal``: the requests received (``?method=&path=`` filters), or forget them
* ``GET|POST /__mock__/clock``: the simulated time; ``{"advance": seconds}`` or ``{"set": iso}`` moves it
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import msgpack
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from portico.mocks._kit._clock import MockClock
from portico.mocks._kit._faults import FaultKind, FaultPlan, FaultRule, load_faults
from portico.mocks._kit._journal import Journal, JournalEntry, redact, redact_body

__all__ = ["MockApp", "MockFaultSource", "json_response"]

MockFaultSource: TypeAlias = str | Path | list[Any] | dict[str, Any] | FaultPlan | None
"""What ``faults=`` accepts: a file path, rules as data, or a plan."""


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (mock payloads are already JSON-safe)."""
    body = json.dumps(data, separators=(",", ":"), default=str).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _abort_transport(send: Send) -> bool:
    """Reset the TCP connection under a uvicorn ``send``; False when served in-process (no socket)."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is None:
        return False
    transport.abort()
    # tell uvicorn the peer is gone so it neither writes a 500 nor logs a missing response
    if owner is not None and hasattr(owner, "disconnected"):
        owner.disconnected = True
    return True


def _decode_ws(message: Message) -> Any:
    if message.get("text") is not None:
        text = message["text"]
        try:
            return json.loads(text)
        except ValueError:
            return text
    data = message.get("bytes") or b""
    try:
        return json.loads(data)
    except ValueError:
        pass
    try:
        return msgpack.unpackb(data, timestamp=3)
    except Exception:
        return data.hex()


class MockApp(Starlette):
    """A mock server: Starlette plus faults, journal, a simulated clock and admin endpoints.

    Vendor mocks build one with their routes (or subclass it) and keep their state on it.

    Args:
        routes: the vendor's routes.
        name: a short name shown by ``/__mock__/health``.
        seed: seeds fault decisions (and whatever the vendor mock seeds).
        faults: initial fault rules (file path, rules as data, or a :class:`FaultPlan`).
        clock: the simulated clock (a frozen :class:`MockClock` by default).
        journal: the request journal (a new one by default).
        url_keys: the URLs it serves, as in :class:`~portico.sdk.MockSpec` (used when the app itself is
            passed to :func:`~portico.mocks.start_mock`).
        **kwargs: passed to :class:`starlette.applications.Starlette` (``lifespan``...).
    """

    def __init__(
        self,
        routes: Sequence[BaseRoute] = (),
        *,
        name: str = "mock",
        seed: int = 0,
        faults: MockFaultSource = None,
        clock: MockClock | None = None,
        journal: Journal | None = None,
        url_keys: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.url_keys = dict(url_keys or {"base": ""})
        self.seed = seed
        self.clock = clock or MockClock()
        self.faults = load_faults(faults, seed=seed)
        self.journal = journal or Journal()
        admin: list[BaseRoute] = [
            Route("/__mock__/health", self._health, methods=["GET"]),
            Route("/__mock__/faults", self._faults_endpoint, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/__mock__/journal", self._journal_endpoint, methods=["GET", "DELETE"]),
            Route("/__mock__/clock", self._clock_endpoint, methods=["GET", "POST"]),
        ]
        super().__init__(routes=[*admin, *routes], **kwargs)

    # -- admin ---------------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        return json_response({"status": "ok", "name": self.name, "time": self.clock.now().isoformat()})

    async def _faults_endpoint(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response({"faults": self.faults.to_json()})
        if request.method == "DELETE":
            self.faults.clear()
            return json_response({"faults": []})
        try:
            data = await request.json()
        except ValueError:
            return json_response({"message": "body must be JSON"}, 400)
        items = data.get("faults", data) if isinstance(data, dict) and "kind" not in data else data
        items = items if isinstance(items, list) else [items]
        try:
            rules = [FaultRule.model_validate(item) for item in items]
        except ValidationError as exc:
            return json_response({"message": "invalid fault rule", "errors": json.loads(exc.json())}, 422)
        if request.method == "PUT":
            self.faults.set(list(rules))
        else:
            for rule in rules:
                self.faults.add(rule)
        return json_response({"faults": self.faults.to_json()}, 201 if request.method == "POST" else 200)

    async def _journal_endpoint(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.journal.clear()
            return json_response({"entries": []})
        method = request.query_params.get("method")
        path = request.query_params.get("path")
        return json_response({"entries": [e.to_dict() for e in self.journal.entries(method, path)]})

    async def _clock_endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await request.json()
                if "advance" in data:
                    self.clock.advance(float(data["advance"]))
                elif "set" in data:
                    self.clock.set(datetime.fromisoformat(str(data["set"]).replace("Z", "+00:00")))
                else:
                    return json_response({"message": "give 'advance' (seconds) or 'set' (ISO time)"}, 422)
            except (ValueError, TypeError) as exc:
                return json_response({"message": str(exc)}, 422)
        return json_response({"now": self.clock.now().isoformat(), "realtime": self.clock.realtime})

    # -- the fault and journal layer -----------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path: str = scope.get("path", "")
        if kind == "http" and not path.startswith("/__mock__"):
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        entry = self.journal.record(
            self.clock.now(), method, scope["path"], scope.get("query_string", b"").decode("latin-1"), scope["headers"]
        )
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), "")
        entry.body = redact_body(body, content_type.lower())
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        hits = {rule.kind: rule for rule in self.faults.decide(method, scope["path"])}
        entry.faults = [k.value for k in hits]
        latency = hits.get(FaultKind.LATENCY)
        if latency is not None and latency.delay:
            await asyncio.sleep(latency.delay)
        if FaultKind.DROP_BEFORE in hits:
            if not _abort_transport(send):
                import httpx

                raise httpx.ConnectError("connection refused by mock fault (drop_before)")
            return
        limited = hits.get(FaultKind.RATE_LIMIT)
        if limited is not None:
            entry.status = 429
            retry = f"{limited.retry_after:g}"
            await self.rate_limited_response(retry, limited)(scope, replay, send)
            return
        error = hits.get(FaultKind.ERROR)
        if error is not None:
            entry.status = error.status
            await self.error_response(error)(scope, replay, send)
            return
        rewrite = hits.get(FaultKind.DROP_AFTER) or hits.get(FaultKind.MALFORMED) or hits.get(FaultKind.TRUNCATE)
        if rewrite is None:

            async def passthrough(message: Message) -> None:
                if message["type"] == "http.response.start":
                    entry.status = message["status"]
                await send(message)

            await super().__call__(scope, replay, passthrough)
            return
        await self._rewritten(scope, replay, send, rewrite, entry)

    async def _rewritten(self, scope: Scope, receive: Receive, send: Send, rule: FaultRule, entry: JournalEntry) -> None:
        start: Message = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await super().__call__(scope, receive, capture)
        body = b"".join(parts)
        if rule.kind is FaultKind.DROP_AFTER:
            entry.status = None
            if not _abort_transport(send):
                import httpx

                raise httpx.RemoteProtocolError("Server disconnected without sending a response (drop_after fault)")
            return
        if rule.kind is FaultKind.MALFORMED:
            body = b'{"malformed": tru' + body[: len(body) // 3]
        else:
            body = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        entry.status = start.get("status", 200)
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def rate_limited_response(self, retry_after: str, rule: FaultRule) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The 429 answer of a ``rate_limit`` fault; vendor mocks override it to speak their error format."""
        return json_response({"message": "too many requests"}, 429, {"Retry-After": retry_after})

    def error_response(self, rule: FaultRule) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The answer of an ``error`` fault; vendor mocks override it to speak their error format."""
        if rule.body is not None:
            content = rule.body if isinstance(rule.body, str) else json.dumps(rule.body)
            return Response(content, status_code=rule.status, media_type="application/json")
        return json_response({"message": "internal server error (injected fault)"}, rule.status)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self.journal.record(
            self.clock.now(), "WS", scope["path"], scope.get("query_string", b"").decode("latin-1"), scope["headers"]
        )
        hits = {rule.kind: rule for rule in self.faults.decide("WS", scope["path"])}
        entry.faults = [k.value for k in hits]
        latency = hits.get(FaultKind.LATENCY)
        if latency is not None and latency.delay:
            await asyncio.sleep(latency.delay)
        if FaultKind.DROP_BEFORE in hits:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1011, "reason": "injected fault"})
            return
        disconnect = hits.get(FaultKind.WS_DISCONNECT)
        sent = 0

        async def journaled(message: Message | None = None) -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                entry.messages.append(redact(_decode_ws(message)))
            return message

        async def guarded(message: Message) -> None:
            nonlocal sent
            if message["type"] == "websocket.accept":
                entry.status = 101
            if disconnect is not None and message["type"] == "websocket.send":
                if sent >= disconnect.after_messages:
                    if not _abort_transport(send):
                        await send({"type": "websocket.close", "code": 1011, "reason": "injected disconnect"})
                    raise WebSocketDisconnect(1006, "injected disconnect")
                sent += 1
            await send(message)

        try:
            await super().__call__(scope, journaled, guarded)
        except WebSocketDisconnect:
            return
