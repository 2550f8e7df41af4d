"""The Alpaca mock app: authentication, the per-key rate limit, Alpaca's error bodies, and the factory."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from portico.mocks._kit import (
    FaultRule,
    MarketDataGenerator,
    MockApp,
    MockClock,
    MockFaultSource,
    SimulatedVenue,
    VenueError,
    json_response,
)

__all__ = ["AlpacaMockApp", "BadRequest", "alpaca_error", "create_app", "endpoint"]

RATE_LIMIT_PER_MINUTE = 200
URL_KEYS = {"trading": "", "data": "", "stream": "/stream", "data_stream": "/v2", "news_stream": "/v1beta1/news"}
"""The mock serves every Alpaca URL from one origin (the connector's ``MockSpec.url_keys``)."""

# Alpaca's error codes start with the HTTP status they come with
_VENUE_ERRORS: dict[str, tuple[int, int]] = {
    "insufficient_buying_power": (403, 40310000),
    "insufficient_qty": (403, 40310000),
    "not_found": (404, 40410000),
    "duplicate_client_order_id": (422, 40010001),
    "invalid": (422, 40010001),
    "unknown_asset": (422, 40010001),
    "not_cancelable": (422, 42210000),
    "not_replaceable": (422, 42210000),
}


class BadRequest(Exception):
    """A request parameter Alpaca would refuse (422 unless ``status`` says otherwise)."""

    def __init__(self, message: str, status: int = 422, code: int = 40010001) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def alpaca_error(status: int, code: int, message: str, extra: Mapping[str, Any] | None = None) -> Response:
    """An error response in Alpaca's shape: ``{"code": 40410000, "message": "..."}`` plus extras."""
    return json_response({**(extra or {}), "code": code, "message": message}, status)


class AlpacaMockApp(MockApp):
    """The Alpaca mock: Trading API v2, Market Data v2 and both streams over a simulated venue.

    Attributes:
        venue: the simulated venue (accounts, orders, positions, matching).
        data: the seeded market data generator (the venue prices from it too).
        keys: accepted key pairs; any non-empty pair is accepted when None.
        tokens: accepted OAuth bearer tokens; any is accepted when None.
        rate_limit: requests per minute per key before 429 (None: unlimited).
        stream_interval: real seconds between two market data stream ticks.
        stream_connection_limit: concurrent market data connections per key (None: unlimited; Alpaca's
            basic plan allows 1 and answers error 406 beyond it).
    """

    venue: SimulatedVenue
    data: MarketDataGenerator

    def __init__(
        self,
        routes: list[Any],
        *,
        venue: SimulatedVenue,
        keys: Mapping[str, str] | None,
        tokens: set[str] | None,
        rate_limit: int | None,
        stream_interval: float,
        stream_connection_limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(routes, lifespan=self._lifespan, **kwargs)
        self.venue = venue
        self.data = venue.data
        self.keys = dict(keys) if keys is not None else None
        self.tokens = tokens
        self.rate_limit = rate_limit
        self.stream_interval = stream_interval
        self.stream_connection_limit = stream_connection_limit
        self.stream_connections: dict[str, int] = {}
        self._calls: dict[str, deque[float]] = {}
        self.positions_cache: tuple[Any, bytes | memoryview] | None = None

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(self._run_matching()) if self.clock.realtime else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run_matching(self) -> None:
        # with a clock that runs by itself, orders must fill without anyone asking
        while True:
            await asyncio.sleep(0.25)
            self.venue.match()

    # -- auth and limits -----------------------------------------------------------------------

    def check_key_pair(self, key: str | None, secret: str | None) -> bool:
        """Whether ``key``/``secret`` are accepted."""
        if not key or not secret:
            return False
        if self.keys is None:
            return True
        expected = self.keys.get(key)
        return expected is not None and expected == secret

    def authenticate(self, request: Request) -> str | None:
        """The caller's key id (or ``oauth:<prefix>``), or None when the request is not authorized."""
        key = request.headers.get("apca-api-key-id")
        secret = request.headers.get("apca-api-secret-key")
        if key or secret:
            return key if self.check_key_pair(key, secret) else None
        authorization = request.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            if self.tokens is not None and value not in self.tokens:
                return None
            return f"oauth:{value[:6]}"
        if scheme.lower() == "basic" and value:
            try:
                key, _, secret = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return key if self.check_key_pair(key, secret) else None
        return None

    def take_call(self, key: str) -> tuple[bool, int, int]:
        """Count one call for ``key``: (allowed, remaining, reset epoch seconds)."""
        now = time.monotonic()
        if self.rate_limit is None:
            return True, 0, 0
        window = self._calls.setdefault(key, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        reset = int(time.time() + (60 - (now - window[0]) if window else 60))
        if len(window) >= self.rate_limit:
            return False, 0, reset
        window.append(now)
        return True, self.rate_limit - len(window), reset

    def venue_error(self, exc: VenueError) -> Response:
        """The Alpaca answer to a venue refusal."""
        status, code = _VENUE_ERRORS.get(exc.reason, (422, 40010001))
        return alpaca_error(status, code, exc.message, exc.detail)

    def rate_limited_response(self, retry_after: str, rule: FaultRule) -> Response:
        return json_response({"code": 42910000, "message": "rate limit exceeded"}, 429, {"Retry-After": retry_after})

    def error_response(self, rule: FaultRule) -> Response:
        if rule.body is not None:
            return super().error_response(rule)  # type: ignore[return-value]
        return alpaca_error(rule.status, rule.status * 100000, "internal server error")


Handler = Callable[[AlpacaMockApp, Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with Alpaca's auth check, the per-key rate limit and error mapping."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        app: AlpacaMockApp = request.app
        key = app.authenticate(request)
        if key is None:
            return alpaca_error(401, 40110000, "request is not authorized")
        allowed, remaining, reset = app.take_call(key)
        if not allowed:
            response = alpaca_error(429, 42910000, "rate limit exceeded")
        else:
            try:
                response = await handler(app, request)
            except VenueError as exc:
                response = app.venue_error(exc)
            except BadRequest as exc:
                response = alpaca_error(exc.status, exc.code, exc.message)
        if app.rate_limit is not None:
            response.headers["X-RateLimit-Limit"] = str(app.rate_limit)
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Reset"] = str(reset)
        return response

    return wrapped


# -- parameter parsing -------------------------------------------------------------------------


def parse_decimal(value: Any, name: str) -> Decimal | None:
    """A decimal parameter (string or number), None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequest(f"invalid {name}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"invalid {name}: {value!r}") from None
    if not number.is_finite():
        raise BadRequest(f"invalid {name}: {value!r}")
    return number


def parse_time(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 timestamp or a ``YYYY-MM-DD`` date (as midnight UTC)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"invalid {name}: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_int(value: str | None, name: str, *, default: int, low: int, high: int) -> int:
    """An integer parameter within ``[low, high]``."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"invalid {name}: {value!r}") from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return number


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    keys: Mapping[str, str] | None = None,
    tokens: set[str] | None = None,
    rate_limit: int | None = RATE_LIMIT_PER_MINUTE,
    realtime: bool | None = None,
    start: datetime | None = None,
    starting_cash: Decimal | float = Decimal(100_000),
    partial_fill_size: int = 1000,
    stream_interval: float = 0.25,
    respect_market_hours: bool = False,
    stream_connection_limit: int | None = None,
    corporate_actions: bool = True,
) -> AlpacaMockApp:
    """Build the Alpaca mock.

    Args:
        seed: seeds prices, ids and fault decisions.
        faults: fault rules (file path, rules as data, or a plan).
        keys: accepted ``{key_id: secret}`` pairs (any pair when None).
        tokens: accepted OAuth bearer tokens (any when None).
        rate_limit: requests per minute per key before 429 (None: unlimited).
        realtime: whether simulated time runs with the wall clock; by default it does unless ``start``
            is given (tests pin ``start`` and drive the clock themselves).
        start: simulated time at start (the current time by default).
        starting_cash: the paper account's cash.
        partial_fill_size: orders larger than this fill in chunks.
        stream_interval: real seconds between market data stream ticks.
        respect_market_hours: queue orders outside the regular session instead of filling them.
        stream_connection_limit: concurrent market data stream connections per key (None: unlimited).
        corporate_actions: apply the seeded splits and dividends to positions and cash as the clock
            passes them, listed as ``SSP`` and ``DIV`` activities.
    """
    from portico.mocks.alpaca._market import market_routes
    from portico.mocks.alpaca._streams import stream_routes
    from portico.mocks.alpaca._trading import trading_routes

    if realtime is None:
        realtime = start is None
    if start is None:
        start = datetime.now(UTC).replace(microsecond=0)
    clock = MockClock(start, realtime=realtime)
    venue = SimulatedVenue(
        seed,
        clock=clock,
        starting_cash=starting_cash,
        partial_fill_size=partial_fill_size,
        respect_market_hours=respect_market_hours,
        corporate_actions=corporate_actions,
    )
    return AlpacaMockApp(
        [*trading_routes(), *market_routes(), *stream_routes()],
        venue=venue,
        keys=keys,
        tokens=tokens,
        rate_limit=rate_limit,
        stream_interval=stream_interval,
        stream_connection_limit=stream_connection_limit,
        name="alpaca",
        url_keys=URL_KEYS,
        seed=seed,
        faults=faults,
        clock=clock,
    )
