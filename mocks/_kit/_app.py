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
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import msgpack
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
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


def _seconds(value: Any) -> float:
    """A number of seconds from admin input (a JSON number or a numeric string)."""
    if isinstance(value, bool):
        raise ValueError("'advance' must be a finite number of seconds")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError("'advance' must be a finite number of seconds") from None
    if not math.isfinite(seconds):
        raise ValueError("'advance' must be a finite number of seconds")
    return seconds


def _aware_time(value: Any) -> datetime:
    """A timezone-aware time from admin input."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError("'set' must be an ISO 8601 time with a zone")
    return when


DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
"""The largest request body a mock accepts (413 beyond it), as a real API gateway refuses one."""

DEFAULT_JOURNAL_BODY_BYTES = 64 * 1024
"""How much of each request body the journal keeps; the rest is counted, not stored."""


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
    """The request body, read to the end; ``(None, True)`` when it is larger than ``limit`` bytes
    (the rest is read and dropped, so memory stays bounded and the connection stays usable),
    ``(None, False)`` when the client went away."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large = True
            chunks.clear()
        elif not too_large:
            chunks.append(chunk)
        more = message.get("more_body", False)
    return (None, True) if too_large else (b"".join(chunks), False)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the already-read body once, then the real channel."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _journal_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` bytes of UTF-8, saying how many more there were."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore") + f"...[{len(raw) - limit} more bytes]"


class _IndexedRouter(Router):
    """Starlette's router with fixed paths found by a dict lookup instead of trying every route in
    turn (a vendor mock has dozens; the scan was a tenth of a request's CPU).

    Only a path no earlier route could match is indexed, and anything but a full match (a method the
    route does not take, a path with parameters) goes through Starlette's own scan, so which route
    answers, and how (405, 404, redirects), is exactly what the scan gives.
    """

    _index: tuple[tuple[int, int], dict[str, Route]] | None = None

    def _static(self) -> dict[str, Route]:
        routes = self.routes
        stamp = (id(routes), len(routes))
        if self._index is None or self._index[0] != stamp:
            found: dict[str, Route] = {}
            earlier: list[Any] = []
            for route in routes:
                if not isinstance(route, Route | WebSocketRoute | Mount):
                    break  # a route whose matching is unknown: nothing after it is indexed
                fixed = isinstance(route, Route) and not route.param_convertors and route.path not in found
                if fixed and isinstance(route, Route) and not any(e.path_regex.match(route.path) for e in earlier):
                    found[route.path] = route
                earlier.append(route)
            self._index = (stamp, found)
        return self._index[1]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):  # mounted under a prefix: the scan
            route = self._static().get(scope["path"])
            if route is not None:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


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
        max_body_bytes: a larger request body is answered 413 without reaching a handler (admin
            endpoints included).
        journal_body_bytes: how much of each request body the journal keeps.
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
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        journal_body_bytes: int = DEFAULT_JOURNAL_BODY_BYTES,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.journal_body_bytes = journal_body_bytes
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
        # the same router, its fixed paths indexed (when no middleware sits inside it, as Starlette builds it)
        if type(self.router) is Router and self.router.middleware_stack == self.router.app:
            self.router.__class__ = _IndexedRouter
            self.router.middleware_stack = self.router.app

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
            except ValueError:
                return json_response({"message": "body must be JSON"}, 422)
            try:
                if isinstance(data, dict) and "advance" in data:
                    self.clock.advance(_seconds(data["advance"]))
                elif isinstance(data, dict) and "set" in data:
                    self.clock.set(_aware_time(data["set"]))
                else:
                    return json_response({"message": "give 'advance' (seconds) or 'set' (ISO time)"}, 422)
            except ValueError as exc:
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
        elif kind == "http":
            body, too_large = await _read_body(receive, self.max_body_bytes)
            if too_large:
                await self._too_large()(scope, receive, send)
            elif body is not None:
                await super().__call__(scope, _replaying(body, receive), send)
        else:
            await super().__call__(scope, receive, send)

    def _too_large(self) -> Response:
        return json_response({"message": f"request body larger than {self.max_body_bytes} bytes"}, 413)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        entry = self.journal.record(
            self.clock.now(),
            method,
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            scope["headers"],
        )
        body, too_large = await _read_body(receive, self.max_body_bytes)
        if too_large:
            entry.status = 413
            await self._too_large()(scope, receive, send)
            return
        if body is None:
            return
        if body:
            content_type = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), ""
            )
            # redact the whole body first: a cut JSON body would no longer parse, and its secrets would stay
            entry.body = _journal_text(redact_body(body, content_type.lower()), self.journal_body_bytes)
        replay = _replaying(body, receive)

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
        rewrite = (
            hits.get(FaultKind.DROP_AFTER) or hits.get(FaultKind.MALFORMED) or hits.get(FaultKind.TRUNCATE)
        )
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
        silence = hits.get(FaultKind.WS_SILENCE)
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
            if message["type"] == "websocket.send":
                if disconnect is not None and sent >= disconnect.after_messages:
                    if not _abort_transport(send):
                        await send({"type": "websocket.close", "code": 1011, "reason": "injected disconnect"})
                    raise WebSocketDisconnect(1006, "injected disconnect")
                if silence is not None and sent >= silence.after_messages:
                    return  # swallowed: the connection stays open and says nothing
                sent += 1
            await send(message)

        try:
            await super().__call__(scope, journaled, guarded)
        except WebSocketDisconnect:
            return
