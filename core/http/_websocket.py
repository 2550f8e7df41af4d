"""A WebSocket client that stays connected: heartbeat, reconnect with backoff, resubscribe, back-pressure.

Built on the ``websockets`` library. Time (heartbeat interval, pong timeout, reconnect backoff) runs on the
injected clock, so every behaviour is testable on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from portico.clock import Clock, system_clock
from portico.errors import CircuitOpen, ConfigurationError, ConnectionFailed, PorticoError, error_context
from portico.http._breaker import CircuitBreaker
from portico.http._error_map import safe_text
from portico.http._records import CallObserver, CallOutcome, CallRecord
from portico.http._retry import backoff_delay
from portico.policy import RetryPolicy

__all__ = ["Overflow", "WebSocketClient", "WebSocketState"]

_log = logging.getLogger("portico.http")

Overflow = Literal["block", "drop_oldest"]
Message = str | bytes
OnConnect = Callable[["WebSocketClient"], Awaitable[None]]
OnMessage = Callable[[Message], None]
EventSink = Callable[..., None]

_CLOSED = object()


class WebSocketState(StrEnum):
    """The connection's state."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


def _no_events(_event: str, **_data: Any) -> None:
    return None


def _ssl_option(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    # wss:// with verification off (a local gateway's self-signed certificate) or a custom context
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class WebSocketClient:
    """A long-lived WebSocket connection with heartbeat, reconnect, resubscribe and a bounded queue.

    * **Heartbeat**: every ``heartbeat_interval`` seconds a ping is sent; no pong within
      ``heartbeat_timeout`` drops the connection, which then reconnects.
    * **Reconnect**: a lost connection is reopened with exponential backoff and full jitter
      (``reconnect.base_delay``/``max_delay``); ``reconnect.attempts`` consecutive failed attempts give
      up (``max_reconnect_attempts=None`` never gives up).
    * **Resubscribe**: ``on_connect(client)`` runs after every (re)connection, while messages already
      flow, so it can authenticate and subscribe (and read the replies).
    * **Back-pressure**: received messages go to a queue of ``queue_size``. ``overflow="block"`` stops
      reading from the socket while it is full (TCP pushes back on the server); ``"drop_oldest"`` keeps
      reading and discards the oldest queued message, counted in :attr:`messages_dropped`.

    Args:
        url: the ``ws://`` or ``wss://`` URL.
        system: the system id, for errors, records and events.
        clock: the time source.
        headers: headers for the opening handshake (auth headers...).
        subprotocols: subprotocols to offer.
        heartbeat_interval: seconds between pings (``None``: no heartbeat).
        heartbeat_timeout: seconds to wait for a pong.
        reconnect: backoff and attempt limit for reconnecting.
        max_reconnect_attempts: consecutive failed attempts before giving up; ``None`` for never.
        on_connect: called after each successful (re)connection.
        queue_size: the receive queue's bound.
        overflow: what to do when the queue is full.
        decode: applied to each message before queueing (``json.loads``...); ``None`` keeps it raw.
        on_message: instead of the queue, call ``on_message(message)`` on the reader, synchronously, for
            each message (text frames as ``bytes`` when ``text_as_bytes``): the caller decodes and routes
            the frame itself, sparing a queue hop. It must not block; an exception it raises counts as a
            decode error and skips the message. The reader yields to the event loop after each message,
            so consumers keep pace. :meth:`receive` then has nothing to return.
        text_as_bytes: with ``on_message``, hand text frames over undecoded (``bytes``) for a decoder that
            reads UTF-8 itself (``msgspec``, ``json.loads``).
        breaker: the system's circuit breaker, asked before each connection attempt.
        observers: called with a :class:`CallRecord` per connection attempt.
        events: ``events(name, **data)`` for lifecycle events (``ws.connected``, ``ws.reconnecting``...).
        rng: the random source for jitter.
        open_timeout: seconds the opening handshake may take.
        max_message_size: the largest message accepted, in bytes.
        verify: for ``wss://``, verify the server's certificate (False for a local gateway's
            self-signed one, as IB's Client Portal Gateway has) or an ``ssl.SSLContext``.
    """

    def __init__(
        self,
        url: str,
        *,
        system: str,
        clock: Clock | None = None,
        headers: Mapping[str, str] | None = None,
        subprotocols: Iterable[str] = (),
        heartbeat_interval: float | None = 20.0,
        heartbeat_timeout: float = 10.0,
        reconnect: RetryPolicy | None = None,
        max_reconnect_attempts: int | None = None,
        on_connect: OnConnect | None = None,
        queue_size: int = 10_000,
        overflow: Overflow = "block",
        decode: Callable[[Message], Any] | None = None,
        on_message: OnMessage | None = None,
        text_as_bytes: bool = False,
        breaker: CircuitBreaker | None = None,
        observers: Iterable[CallObserver] = (),
        events: EventSink | None = None,
        rng: random.Random | None = None,
        open_timeout: float = 10.0,
        max_message_size: int | None = 16 * 1024 * 1024,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        if overflow not in ("block", "drop_oldest"):
            raise ValueError(f"overflow must be 'block' or 'drop_oldest', not {overflow!r}")
        self.url = url
        self.system = system
        self._clock = clock or system_clock
        self._headers = dict(headers or {})
        self._subprotocols = list(subprotocols)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self._reconnect = reconnect or RetryPolicy(attempts=20, base_delay=0.5, max_delay=30.0)
        self._max_attempts = max_reconnect_attempts
        self._on_connect = on_connect
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self.overflow: Overflow = overflow
        self._decode = decode
        self._on_message = on_message
        self._text_as_bytes = text_as_bytes
        self._breaker = breaker
        self._observers = tuple(observers)
        self._events = events or _no_events
        self._rng = rng or random.Random()
        self._open_timeout = open_timeout
        self._max_size = max_message_size
        # websockets refuses an ssl argument for ws:// URLs, so it is passed only for wss://
        self._ssl_kwargs: dict[str, Any] = {"ssl": _ssl_option(verify)} if self.url.startswith("wss") else {}
        # The path only: tokens often travel in the query string.
        self._endpoint = "WS " + (urlsplit(url).path or "/")
        self._reader_blocked = False
        self._ws: ClientConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._first_connect: asyncio.Future[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.state = WebSocketState.IDLE
        self.messages_received = 0
        """Messages read from the socket, over all connections."""
        self.messages_dropped = 0
        """Messages discarded because the queue was full (``overflow="drop_oldest"``)."""
        self.reconnects = 0
        """Successful reconnections after a lost connection."""
        self.heartbeat_failures = 0
        """Pongs that did not come in time."""
        self.heartbeats_answered = 0
        """Pings answered by a pong in time, over all connections."""
        self.decode_errors = 0
        """Messages ``decode`` could not read (skipped)."""
        self.last_error: PorticoError | None = None
        """Why the last connection ended or failed, when it was not a clean close."""

    def __repr__(self) -> str:
        return f"WebSocketClient(system={self.system!r}, endpoint={self._endpoint!r}, state={self.state.value})"

    @property
    def reader_blocked(self) -> bool:
        """Whether reading is paused because the queue is full (``overflow="block"``)."""
        return self._reader_blocked

    @property
    def queue_depth(self) -> int:
        """Messages waiting in the receive queue."""
        return self._queue.qsize()

    def stats(self) -> dict[str, Any]:
        """A JSON-safe view for metrics."""
        return {
            "state": self.state.value,
            "messages_received": self.messages_received,
            "messages_dropped": self.messages_dropped,
            "reconnects": self.reconnects,
            "heartbeat_failures": self.heartbeat_failures,
            "decode_errors": self.decode_errors,
            "queue_depth": self.queue_depth,
        }

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Open the connection (retrying with backoff) and keep it open until :meth:`close`.

        Raises:
            ConnectionFailed: every attempt allowed failed.
            CircuitOpen: the system's breaker refused the attempt.
        """
        if self.state is WebSocketState.CLOSED:
            raise ConfigurationError(
                f"the {self.system} websocket client is closed; create a new one to connect again",
                system=self.system,
            )
        if self._supervisor is not None:
            await self.wait_connected()
            return
        self._first_connect = asyncio.get_running_loop().create_future()
        self._supervisor = asyncio.create_task(self._run(), name=f"portico-ws-{self.system}")
        await self._first_connect

    async def wait_connected(self) -> None:
        """Wait until the connection is (again) open."""
        await self._connected.wait()

    async def close(self) -> None:
        """Close the connection cleanly and stop reconnecting. Queued messages can still be read."""
        if self.state is WebSocketState.CLOSED and self._supervisor is None:
            return
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
            self._supervisor = None
        self._finish()

    async def __aenter__(self) -> WebSocketClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ messages

    async def send(self, message: str | bytes | Mapping[str, Any] | list[Any]) -> None:
        """Send a message (a mapping or list is sent as JSON text).

        Raises:
            ConnectionFailed: not connected right now (a reconnect is under way, or the client is closed).
        """
        ws = self._ws
        if ws is None or self.state is not WebSocketState.CONNECTED:
            raise ConnectionFailed(f"websocket not connected ({self.state.value})", system=self.system, request=self._endpoint)
        data = message if isinstance(message, str | bytes) else json.dumps(message, separators=(",", ":"))
        try:
            await ws.send(data)
        except ConnectionClosed as exc:
            raise ConnectionFailed(
                f"websocket closed while sending ({exc.rcvd.code if exc.rcvd else 'no close frame'})",
                system=self.system,
                request=self._endpoint,
            ) from None

    async def receive(self) -> Any:
        """The next message, waiting for one.

        Raises:
            ConnectionFailed: the client is closed (or gave up reconnecting) and the queue is empty.
        """
        queue = self._queue
        if queue.empty() and self.state is WebSocketState.CLOSED:
            raise self._closed_error()
        item = await queue.get()
        if item is _CLOSED:
            queue.put_nowait(_CLOSED)  # wake the next waiting receiver too
            raise self._closed_error()
        return item

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.receive()
            except ConnectionFailed:
                if self.last_error is not None and not self._closing:
                    raise
                return

    # ------------------------------------------------------------------ internals

    def _closed_error(self) -> ConnectionFailed:
        if self.last_error is not None and not self._closing:
            return ConnectionFailed(
                f"websocket gave up reconnecting: {self.last_error.message}", system=self.system, request=self._endpoint
            )
        return ConnectionFailed("websocket closed", system=self.system, request=self._endpoint)

    def _finish(self) -> None:
        self.state = WebSocketState.CLOSED
        self._connected.clear()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_CLOSED)

    async def _run(self) -> None:
        failures = 0
        first = True
        while not self._closing:
            self.state = WebSocketState.CONNECTING if first else WebSocketState.RECONNECTING
            try:
                ws = await self._open(failures + 1)
            except asyncio.CancelledError:
                raise
            except PorticoError as exc:
                failures += 1
                self.last_error = exc
                give_up = isinstance(exc, CircuitOpen) and first
                limit = self._reconnect.attempts if first else self._max_attempts
                if give_up or (limit is not None and failures >= limit):
                    if self._first_connect is not None and not self._first_connect.done():
                        self._first_connect.set_exception(exc)
                    self._events("ws.gave_up", system=self.system, attempts=failures, error=exc.message)
                    self._finish()
                    return
                delay = exc.retry_after if isinstance(exc, CircuitOpen) and exc.retry_after else None
                await self._clock.sleep(delay if delay is not None else backoff_delay(self._reconnect, failures, self._rng))
                continue
            failures = 0
            if not first:
                self.reconnects += 1
            first = False
            self.last_error = None
            reason = await self._serve(ws)
            if self._closing:
                return
            self.last_error = reason
            self._events("ws.reconnecting", system=self.system, reason=reason.message if reason else None)
            # Back off before the first reconnect too, so a server that drops us at once is not hammered.
            await self._clock.sleep(backoff_delay(self._reconnect, 1, self._rng))

    async def _open(self, attempt: int) -> ClientConnection:
        clock = self._clock
        probe = False
        with error_context(system=self.system, request=self._endpoint):
            if self._breaker is not None:
                try:
                    probe = self._breaker.before_call()
                except CircuitOpen as exc:
                    self._record("circuit_open", None, 0.0, attempt, exc)
                    raise
            started = clock.monotonic()
            try:
                ws = await connect(
                    self.url,
                    additional_headers=self._headers or None,
                    subprotocols=self._subprotocols or None,  # type: ignore[arg-type]
                    open_timeout=self._open_timeout,
                    ping_interval=None,  # our own heartbeat, on the injected clock
                    max_size=self._max_size,
                    proxy=None,
                    **self._ssl_kwargs,
                )
            except asyncio.CancelledError:
                if self._breaker is not None:
                    self._breaker.release(probe)
                raise
            except (OSError, TimeoutError, WebSocketException) as exc:
                if self._breaker is not None:
                    self._breaker.record_failure(probe)
                status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
                error = ConnectionFailed(f"websocket connection failed ({type(exc).__name__}: {safe_text(str(exc))})")
                error.status_code = status
                self._record("retry", status, clock.monotonic() - started, attempt, error)
                raise error from None
            if self._breaker is not None:
                self._breaker.record_success(probe)
            self._record("ok", 101, clock.monotonic() - started, attempt, None)
            return ws

    async def _serve(self, ws: ClientConnection) -> PorticoError | None:
        """Run one connection until it ends; returns why it ended (``None`` for a clean close by us)."""
        self._ws = ws
        self.state = WebSocketState.CONNECTED
        self._connected.set()
        self._events("ws.connected", system=self.system, reconnects=self.reconnects)
        if self._first_connect is not None and not self._first_connect.done():
            self._first_connect.set_result(None)
        reader = asyncio.create_task(self._read(ws))
        tasks = [reader]
        if self.heartbeat_interval:
            tasks.append(asyncio.create_task(self._heartbeat(ws)))
        if self._on_connect is not None:
            tasks.append(asyncio.create_task(self._resubscribe()))
        # The connection ends when the reader or the heartbeat ends; on_connect finishing does not end it.
        watched = tasks[:2] if self.heartbeat_interval else tasks[:1]
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            reason: PorticoError | None = None
            for task in done:
                if not task.cancelled() and task.exception() is None:
                    reason = task.result()
            return reason
        finally:
            self._connected.clear()
            self._ws = None
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._closing:
                with contextlib.suppress(Exception):
                    await ws.close()
            else:
                # The connection failed (or the server closed it): a close handshake with a peer that
                # stopped answering would only stall the reconnect.
                ws.transport.abort()

    async def _resubscribe(self) -> None:
        assert self._on_connect is not None
        try:
            await self._on_connect(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("on_connect of the %s websocket failed", self.system)
            self._events("ws.resubscribe_failed", system=self.system)

    async def _read(self, ws: ClientConnection) -> PorticoError | None:
        if self._on_message is not None:
            return await self._read_into(ws, self._on_message)
        queue = self._queue
        decode = self._decode
        try:
            async for message in ws:
                self.messages_received += 1
                if decode is None:
                    item = message
                else:
                    try:
                        item = decode(message)
                    except Exception as exc:
                        # One malformed message must not cost the connection (and a resubscription).
                        self.decode_errors += 1
                        self._events("ws.decode_error", system=self.system, error=type(exc).__name__)
                        continue
                if self.overflow == "block":
                    if queue.full():
                        self._reader_blocked = True
                        try:
                            await queue.put(item)
                        finally:
                            self._reader_blocked = False
                    else:
                        queue.put_nowait(item)
                else:
                    if queue.full():
                        queue.get_nowait()
                        self.messages_dropped += 1
                    queue.put_nowait(item)
        except ConnectionClosed as exc:
            if self._closing:
                return None
            code = exc.rcvd.code if exc.rcvd else None
            return ConnectionFailed(f"websocket closed by the server (code {code})", system=self.system, request=self._endpoint)
        if self._closing:
            return None
        code = ws.close_code
        return ConnectionFailed(f"websocket closed by the server (code {code})", system=self.system, request=self._endpoint)

    async def _read_into(self, ws: ClientConnection, handle: OnMessage) -> PorticoError | None:
        recv = ws.recv
        as_bytes = False if self._text_as_bytes else None
        pause = asyncio.sleep
        try:
            while True:
                message = await recv(as_bytes)
                self.messages_received += 1
                try:
                    handle(message)
                except Exception as exc:
                    # One malformed message must not cost the connection (and a resubscription).
                    self.decode_errors += 1
                    _log.debug("the %s websocket handler failed on a message", self.system, exc_info=True)
                    self._events("ws.decode_error", system=self.system, error=type(exc).__name__)
                # recv() does not suspend while frames are buffered: let the consumers of what the
                # handler just queued take their turn, or a busy socket would starve them into drops
                await pause(0)
        except ConnectionClosed as exc:
            if self._closing:
                return None
            code = exc.rcvd.code if exc.rcvd else None
            return ConnectionFailed(f"websocket closed by the server (code {code})", system=self.system, request=self._endpoint)

    async def _heartbeat(self, ws: ClientConnection) -> PorticoError | None:
        clock = self._clock
        assert self.heartbeat_interval is not None
        while True:
            await clock.sleep(self.heartbeat_interval)
            if self._reader_blocked:
                # We stopped reading on purpose (back-pressure), so a pong could not be read either.
                continue
            try:
                # a future already (typed Awaitable): ensure_future returns that very future
                pong = asyncio.ensure_future(await ws.ping())
            except ConnectionClosed:
                return None  # the reader reports the closure
            timer = asyncio.ensure_future(clock.sleep(self.heartbeat_timeout))
            try:
                done, _ = await asyncio.wait({pong, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
            if pong in done:
                self.heartbeats_answered += 1
            else:
                self.heartbeat_failures += 1
                self._events("ws.heartbeat_timeout", system=self.system, timeout=self.heartbeat_timeout)
                return ConnectionFailed(
                    f"no pong within {self.heartbeat_timeout:g}s", system=self.system, request=self._endpoint
                )

    def _record(self, outcome: CallOutcome, status: int | None, latency: float, attempt: int, error: PorticoError | None) -> None:
        if not self._observers:
            return
        record = CallRecord(self.system, "WS", self._endpoint, status, outcome, latency, attempt, 0.0, None, error)
        for observer in self._observers:
            try:
                observer(record)
            except Exception:
                _log.exception("call observer %r failed", observer)
