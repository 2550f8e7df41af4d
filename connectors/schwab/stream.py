"""Schwab's streamer: one WebSocket whose URL and ids come from ``/trader/v1/userPreference``.

:class:`StreamerSession` logs in (``ADMIN LOGIN`` with the current access token), subscribes, and
yields data items; when the connection drops it reconnects with backoff, logs in again with a
fresh token, resubscribes, and yields :data:`RECONNECTED` so the order stream can back-fill what it
missed over REST. Level one messages carry only changed fields: :class:`QuoteBook` keeps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import websockets

from portico.clock import Clock
from portico.errors import AuthError, PayloadRejected, PorticoError
from portico.models import Bar, BarInterval, Quote

__all__ = [
    "RECONNECTED",
    "QuoteBook",
    "StreamSilent",
    "StreamerSession",
    "Subscription",
    "bar_from_chart",
    "order_id_from_activity",
]

RECONNECTED: dict[str, Any] = {"service": "_SUBSCRIBED"}
"""Yielded after every subscription, the first included: whatever happened before it (or while the
connection was down) was not streamed, so a consumer that must not miss events back-fills then."""

LEVELONE_FIELDS = "0,1,2,3,4,5,8,9,12,18,33,34,35"
CHART_FIELDS = "0,1,2,3,4,5,6,7,8"
ACTIVITY_FIELDS = "0,1,2,3"
_LOGIN_REFUSED = 3

log = logging.getLogger("portico.connectors.schwab")


class StreamSilent(TimeoutError):
    """The streamer sent nothing (no data, no heartbeat) for the receive timeout: the connection is
    taken as dead, closed and opened again."""


class _SetupFailed(Exception):
    """A REST call a (re)connect needs failed in a way a later attempt may not (its cause is the error)."""


@dataclass(frozen=True)
class Subscription:
    """One ``SUBS`` request: a service, its keys and fields."""

    service: str
    keys: tuple[str, ...]
    fields: str


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, (int, str)):
        return Decimal(value)
    return None


def _ms(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


class QuoteBook:
    """The latest level one fields per symbol, merged from Schwab's delta messages."""

    def __init__(self) -> None:
        self._fields: dict[str, dict[str, Any]] = {}

    def update(self, item: Mapping[str, Any], now: datetime) -> Quote | None:
        """Merge one content item; the full quote, or None when it still has no price at all."""
        symbol = str(item.get("key", "")).upper()
        if not symbol:
            return None
        fields = self._fields.setdefault(symbol, {})
        fields.update({k: v for k, v in item.items() if k.isdigit()})
        bid, ask, last = (_number(fields.get(k)) for k in ("1", "2", "3"))
        if bid is None and ask is None and last is None:
            return None
        return Quote(
            symbol=symbol,
            timestamp=_ms(fields.get("34")) or _ms(fields.get("35")) or now,
            bid_price=bid,
            ask_price=ask,
            bid_size=_number(fields.get("4")),
            ask_size=_number(fields.get("5")),
            last_price=last,
            volume=_number(fields.get("8")),
            change=_number(fields.get("18")),
            previous_close=_number(fields.get("12")),
            currency="USD",
            source="schwab",
        )


def bar_from_chart(item: Mapping[str, Any]) -> Bar:
    """A ``CHART_EQUITY`` content item (one minute) as a bar."""
    started = _ms(item.get("7"))
    values = [_number(item.get(k)) for k in ("2", "3", "4", "5")]
    if started is None or any(v is None for v in values):
        raise PayloadRejected(f"Schwab sent an unreadable chart item for {item.get('key')!r}")
    open_, high, low, close = values
    assert open_ is not None and high is not None and low is not None and close is not None
    return Bar(
        symbol=str(item.get("key", "")).upper(),
        timestamp=started,
        interval=BarInterval.MIN_1,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=_number(item.get("6")) or Decimal(0),
        currency="USD",
        source="schwab",
    )


def _find_order_id(value: Any) -> str | None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.lower() in ("schwaborderid", "orderid", "order_id") and str(inner).isdigit():
                return str(inner)
        for inner in value.values():
            found = _find_order_id(inner)
            if found:
                return found
    if isinstance(value, list):
        for inner in value:
            found = _find_order_id(inner)
            if found:
                return found
    return None


def order_id_from_activity(item: Mapping[str, Any]) -> str | None:
    """The order id an ``ACCT_ACTIVITY`` item is about (its message data is JSON); None when it names none."""
    raw = item.get("3")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    return _find_order_id(data)


class StreamerSession:
    """One streamer connection with login, subscriptions, reconnect and resubscribe.

    Args:
        preferences: reads ``/trader/v1/userPreference`` (the socket URL and the client ids).
        access_token: the current access token (refreshed by the auth flow when needed).
        system: the system id (events and errors).
        clock: backoff sleeps run on it.
        emit: the monitor's event sink.
        stream: the stream's name in events (``quotes``, ``order_updates``...).
        max_backoff: the longest wait between two reconnect attempts.
        max_attempts: reconnect attempts in a row before giving up (None: forever).
        announce: emit ``stream.subscribed`` itself; a consumer that back-fills first says False and
            emits it once the back-fill is read.
        receive_timeout: seconds without any message (Schwab sends heartbeats between data) after
            which the connection is closed and opened again; None waits forever.
        auth_is_dead: tells whether an auth error is definite (the refresh token expired or was
            refused: only a new sign-in helps); such an error ends the stream, any other failure of the
            REST calls a reconnect needs (``userPreference``, the access token) is retried with backoff.
    """

    def __init__(
        self,
        *,
        preferences: Callable[[], Awaitable[Any]],
        access_token: Callable[[], Awaitable[str]],
        system: str,
        clock: Clock,
        emit: Callable[..., Any],
        stream: str,
        max_backoff: float = 30.0,
        max_attempts: int | None = None,
        announce: bool = True,
        receive_timeout: float | None = 60.0,
        auth_is_dead: Callable[[AuthError], bool] = lambda exc: True,
    ) -> None:
        self._preferences = preferences
        self._access_token = access_token
        self.system = system
        self.clock = clock
        self.emit = emit
        self.stream = stream
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.announce = announce
        self.receive_timeout = receive_timeout
        self._auth_is_dead = auth_is_dead
        self._request_id = 0
        self.reconnects = 0

    def _request(
        self, info: Mapping[str, Any], service: str, command: str, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        request = {
            "service": service,
            "requestid": str(self._request_id),
            "command": command,
            "SchwabClientCustomerId": info.get("schwabClientCustomerId"),
            "SchwabClientCorrelId": info.get("schwabClientCorrelId"),
            "parameters": parameters,
        }
        self._request_id += 1
        return request

    async def _recv(self, socket: Any) -> Any:
        """The next message, decoded; :class:`StreamSilent` when none comes within the receive timeout."""
        if self.receive_timeout is None:
            return json.loads(await socket.recv())
        try:
            async with asyncio.timeout(self.receive_timeout):
                raw = await socket.recv()
        except TimeoutError:
            raise StreamSilent(
                f"the Schwab streamer sent nothing for {self.receive_timeout:g} s (not even a heartbeat)"
            ) from None
        return json.loads(raw)

    async def _setup(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """A REST call a (re)connect needs: a definite auth failure ends the stream, any other failure
        is :class:`_SetupFailed` (retried with backoff)."""
        try:
            return await call()
        except AuthError as exc:
            if self._auth_is_dead(exc):
                raise AuthError(
                    f"the Schwab streamer cannot connect: {exc.message}",
                    system=self.system,
                    status_code=exc.status_code,
                    venue_code=exc.venue_code,
                ) from exc
            raise _SetupFailed(exc) from exc
        except PorticoError as exc:
            raise _SetupFailed(exc) from exc

    async def _exchange(self, socket: Any, request: dict[str, Any], backlog: list[Any]) -> None:
        """Send one request and wait for its response; data arriving meanwhile goes to ``backlog``."""
        await socket.send(json.dumps({"requests": [request]}))
        while True:
            message = await self._recv(socket)
            for response in message.get("response", []):
                if response.get("requestid") == request["requestid"]:
                    content = response.get("content") or {}
                    if content.get("code") != 0:
                        text = f"Schwab streamer refused {request['service']} {request['command']}: code {content.get('code')}, {content.get('msg')}"
                        if request["command"] == "LOGIN" and content.get("code") == _LOGIN_REFUSED:
                            raise AuthError(text, system=self.system, venue_code=content.get("code"))
                        raise PayloadRejected(text, system=self.system)
                    return
            if "data" in message:
                backlog.append(message)

    async def items(self, subscriptions: list[Subscription]) -> AsyncGenerator[dict[str, Any], None]:
        """Data items ``{"service", "content": {...}}`` of every subscription, across reconnects."""
        failures = 0
        connected_once = False
        while True:
            try:
                prefs = await self._setup(self._preferences)
                info = (prefs.get("streamerInfo") or [{}])[0] if isinstance(prefs, dict) else {}
                url = info.get("streamerSocketUrl")
                if not url:
                    raise PayloadRejected("userPreference named no streamerSocketUrl", system=self.system)
                # a dead line must not hold the reconnect up for websockets' default 10 s close handshake
                close_timeout = min(5.0, self.receive_timeout) if self.receive_timeout else 5.0
                async with websockets.connect(url, max_queue=64, close_timeout=close_timeout) as socket:
                    backlog: list[Any] = []
                    token = await self._setup(self._access_token)
                    await self._exchange(
                        socket,
                        self._request(
                            info,
                            "ADMIN",
                            "LOGIN",
                            {
                                "Authorization": token,
                                "SchwabClientChannel": info.get("schwabClientChannel"),
                                "SchwabClientFunctionId": info.get("schwabClientFunctionId"),
                            },
                        ),
                        backlog,
                    )
                    for sub in subscriptions:
                        await self._exchange(
                            socket,
                            self._request(
                                info, sub.service, "SUBS", {"keys": ",".join(sub.keys), "fields": sub.fields}
                            ),
                            backlog,
                        )
                    failures = 0
                    if connected_once:
                        self.reconnects += 1
                        self.emit("stream.reconnected", stream=self.stream, attempt=self.reconnects)
                    if self.announce:
                        self.emit("stream.subscribed", stream=self.stream)
                    connected_once = True
                    yield RECONNECTED
                    for message in backlog:
                        for item in self._data(message):
                            yield item
                    while True:
                        message = await self._recv(socket)
                        for item in self._data(message):
                            yield item
            except (AuthError, PayloadRejected):
                raise
            except (
                _SetupFailed,
                OSError,
                websockets.ConnectionClosed,
                websockets.InvalidHandshake,
                TimeoutError,
                ValueError,
            ) as exc:
                failures += 1
                cause = exc.__cause__ if isinstance(exc, _SetupFailed) else exc
                assert cause is not None
                delay = min(self.max_backoff, 0.25 * 2 ** (failures - 1))
                reason = str(cause) or type(cause).__name__
                self.emit(
                    "stream.disconnected",
                    stream=self.stream,
                    error=type(cause).__name__,
                    reason=reason,
                    failures=failures,
                    retry_in=delay,
                    severity="warning",
                )
                if self.max_attempts is not None and failures > self.max_attempts:
                    log.error(
                        "Schwab streamer (%s, %s): giving up after %d failed attempts in a row: %s",
                        self.system, self.stream, failures, reason,
                    )  # fmt: skip
                    if isinstance(cause, PorticoError):
                        raise cause from None
                    raise
                log.warning(
                    "Schwab streamer (%s, %s) down (%s: %s); attempt %d, next in %.2f s",
                    self.system, self.stream, type(cause).__name__, reason, failures, delay,
                )  # fmt: skip
                await self.clock.sleep(delay)

    @staticmethod
    def _data(message: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not isinstance(message, dict):
            return out
        for block in message.get("data", []):
            service = block.get("service")
            for content in block.get("content", []) or []:
                if isinstance(content, dict):
                    out.append({"service": service, "content": content})
        return out


async def close_quietly(iterator: Any) -> None:
    """Close an async generator, ignoring errors raised while it shuts down."""
    with contextlib.suppress(Exception):
        await iterator.aclose()
