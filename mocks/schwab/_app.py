"""The Schwab mock app: tokens, account hashes, order numbers, the order limit, Schwab's error bodies.

Schwab answers errors in two shapes: the Trader API with ``{"message": ...}`` and the Market Data
API with ``{"errors": [{"id", "status", "title", "detail"}]}``; the token endpoint speaks OAuth 2
(``{"error", "error_description"}``). The mock keeps all three.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from portico.mocks._kit import (
    FaultRule,
    MockApp,
    MockClock,
    MockFaultSource,
    SimulatedVenue,
    VenueError,
    json_response,
)

__all__ = [
    "ACCESS_LIFETIME",
    "ORDER_LIMIT_PER_MINUTE",
    "PUBLIC_ORIGIN",
    "REFRESH_LIFETIME",
    "BadRequest",
    "SchwabMockApp",
    "create_app",
    "cusip_of",
    "market_endpoint",
    "market_error",
    "trader_endpoint",
    "trader_error",
]

PUBLIC_ORIGIN = "https://api.schwabapi.com"
"""The origin written into ``Location`` headers: clients parse the real host out of it."""
ORDER_LIMIT_PER_MINUTE = 120
"""The order limit schwab-py's documentation recommends choosing at app registration."""
ACCESS_LIFETIME = timedelta(minutes=30)
REFRESH_LIFETIME = timedelta(days=7)
CODE_LIFETIME = timedelta(seconds=30)
URL_KEYS = {"api": ""}


class BadRequest(Exception):
    """A request Schwab refuses with 400 (or ``status``) and ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def cusip_of(asset_id: str) -> str:
    """The mock's CUSIP of an asset: nine alphanumerics drawn from its id."""
    return asset_id.replace("-", "")[:9].upper()


def trader_error(status: int, message: str) -> Response:
    """A Trader API error: ``{"message": ...}``."""
    return json_response({"message": message}, status)


def market_error(status: int, title: str, detail: str | None = None) -> Response:
    """A Market Data API error: ``{"errors": [{"id", "status", "title", "detail"}]}``."""
    error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": status, "title": title}
    if detail:
        error["detail"] = detail
    return json_response({"errors": [error]}, status)


@dataclass
class Grant:
    """An authorization code handed out by ``/v1/oauth/authorize``."""

    client_id: str
    redirect_uri: str
    expires_at: datetime


@dataclass
class RefreshGrant:
    """A refresh token: who it belongs to and when it stops working (7 days after login)."""

    client_id: str
    expires_at: datetime


@dataclass
class AccountLink:
    """An account as Schwab shows it: a plain number and the hash every account path takes."""

    venue_id: str
    number: str
    hash_value: str


_VENUE_STATUS = {
    "not_found": 404,
    "not_cancelable": 400,
    "not_replaceable": 400,
    "insufficient_buying_power": 400,
    "insufficient_qty": 400,
    "invalid": 400,
    "unknown_asset": 400,
    "duplicate_client_order_id": 400,
}


class SchwabMockApp(MockApp):
    """The Schwab mock: OAuth, Trader API v1, Market Data v1 over a simulated venue.

    Attributes:
        venue: the simulated venue (accounts, orders, positions, matching).
        clients: accepted ``{app_key: app_secret}``; any non-empty pair when None.
        callback_urls: registered callback URLs; any ``https://127.0.0.1`` URL (and the plain-HTTP
            loopback a test runner listens on) when None.
        order_limit: order requests (place, replace, cancel) per minute per app before 429 (None: off).
        accounts: the linked accounts, by hash.
    """

    venue: SimulatedVenue
    streamer_url: str | None = None
    daily_history: timedelta = timedelta(days=366)
    """How far back daily, weekly and monthly candles go (Schwab's go back decades; the mock computes
    every candle from its minute path, so it keeps one year)."""
    minute_history: timedelta = timedelta(days=48)
    """How far back minute candles go."""
    stream_interval: float = 0.25
    """Real seconds between two streamer ticks."""

    def __init__(
        self,
        routes: list[Any],
        *,
        venue: SimulatedVenue,
        clients: Mapping[str, str] | None,
        callback_urls: tuple[str, ...] | None,
        order_limit: int | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(routes, **kwargs)
        self.venue = venue
        self.clients = dict(clients) if clients is not None else None
        self.callback_urls = callback_urls
        self.order_limit = order_limit
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[str, datetime]] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.accounts: dict[str, AccountLink] = {}
        self.order_numbers: dict[int, str] = {}
        self._numbers_by_venue_id: dict[str, int] = {}
        self.tags: dict[str, str] = {}
        self._next_order = 1_000_000_001
        self._order_calls: dict[str, deque[float]] = {}
        self.link_account(venue.default_account_id)

    # -- accounts and orders -------------------------------------------------------------------

    def link_account(self, venue_id: str) -> AccountLink:
        """Give a venue account its Schwab number and hash (deterministic per seed)."""
        digest = hashlib.sha256(f"{self.seed}:{venue_id}".encode()).hexdigest()
        number = str(10_000_000 + int(digest[:12], 16) % 90_000_000)
        link = AccountLink(venue_id, number, hashlib.sha256(f"hash:{number}".encode()).hexdigest().upper())
        self.accounts[link.hash_value] = link
        return link

    def account_by_hash(self, value: str) -> AccountLink:
        """The account of an ``{accountNumber}`` path segment, which must be the hash."""
        link = self.accounts.get(value)
        if link is None:
            # what Schwab answers to a plain account number (or any unknown value) in a hash position
            raise BadRequest("Invalid account number")
        return link

    def order_number(self, venue_id: str) -> int:
        """Schwab's numeric order id of a venue order (assigned on first sight)."""
        number = self._numbers_by_venue_id.get(venue_id)
        if number is None:
            number = self._next_order
            self._next_order += 1
            self._numbers_by_venue_id[venue_id] = number
            self.order_numbers[number] = venue_id
        return number

    def venue_order_id(self, value: str) -> str:
        """The venue id of a numeric order id from a path."""
        try:
            venue_id = self.order_numbers.get(int(value))
        except ValueError:
            raise BadRequest(f"Invalid order id {value!r}") from None
        if venue_id is None:
            raise VenueError("not_found", "Order not found")
        return venue_id

    def location(self, link: AccountLink, number: int) -> str:
        """The ``Location`` of a placed order, on Schwab's public host."""
        return f"{PUBLIC_ORIGIN}/trader/v1/accounts/{link.hash_value}/orders/{number}"

    # -- OAuth ---------------------------------------------------------------------------------

    def check_client(self, key: str | None, secret: str | None) -> bool:
        """Whether the app key and secret are accepted."""
        if not key or not secret:
            return False
        if self.clients is None:
            return True
        return self.clients.get(key) == secret

    def callback_allowed(self, uri: str) -> bool:
        """Whether ``uri`` may receive the redirect: Schwab takes only registered ``https://127.0.0.1`` URLs."""
        if self.callback_urls is not None:
            return uri in self.callback_urls
        return uri.startswith(("https://127.0.0.1", "http://127.0.0.1"))

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        """A one-shot authorization code; Schwab's end in ``@`` (sent URL-encoded as ``%40``)."""
        code = f"C0.{secrets.token_urlsafe(24)}@"
        self.codes[code] = Grant(client_id, redirect_uri, self.clock.now() + CODE_LIFETIME)
        return code

    def issue_tokens(self, client_id: str, refresh_token: str | None = None) -> dict[str, Any]:
        """A token answer: a new 30-minute access token; the refresh token keeps its 7-day term."""
        now = self.clock.now()
        access = f"I0.{secrets.token_urlsafe(32)}@"
        self.access_tokens[access] = (client_id, now + ACCESS_LIFETIME)
        if refresh_token is None:
            refresh_token = f"R0.{secrets.token_urlsafe(32)}@"
            self.refresh_tokens[refresh_token] = RefreshGrant(client_id, now + REFRESH_LIFETIME)
        return {
            "expires_in": int(ACCESS_LIFETIME.total_seconds()),
            "token_type": "Bearer",
            "scope": "api",
            "refresh_token": refresh_token,
            "access_token": access,
            "id_token": f"eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.{secrets.token_urlsafe(16)}.",
        }

    def expire(self, *, access: bool = True, refresh: bool = False) -> None:
        """Make the tokens issued so far expire now (the ``/__mock__/schwab/expire`` fault)."""
        past = self.clock.now() - timedelta(seconds=1)
        if access:
            self.access_tokens = {t: (c, past) for t, (c, _) in self.access_tokens.items()}
        if refresh:
            for grant in self.refresh_tokens.values():
                grant.expires_at = past

    def bearer(self, request: Request) -> str | None:
        """The app key behind a valid, unexpired bearer token, or None."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        found = self.access_tokens.get(value)
        if found is None or found[1] <= self.clock.now():
            return None
        return found[0]

    def take_order_call(self, client_id: str) -> bool:
        """Count one order request against the app's order limit; False when over it."""
        if self.order_limit is None:
            return True
        now = time.monotonic()
        window = self._order_calls.setdefault(client_id, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.order_limit:
            return False
        window.append(now)
        return True

    # -- faults in Schwab's shapes -------------------------------------------------------------

    def rate_limited_response(self, retry_after: str, rule: FaultRule) -> Response:
        return json_response({"message": "Too Many Requests"}, 429, {"Retry-After": retry_after})

    def error_response(self, rule: FaultRule) -> Response:
        if rule.body is not None:
            return super().error_response(rule)  # type: ignore[return-value]
        return trader_error(rule.status, "Internal Server Error")


Handler = Callable[[SchwabMockApp, Request, str], Awaitable[Response]]


def trader_endpoint(*, order: bool = False) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a Trader API handler: bearer check, the order limit (for order requests), error bodies."""

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def wrapped(request: Request) -> Response:
            app: SchwabMockApp = request.app
            client_id = app.bearer(request)
            if client_id is None:
                return trader_error(401, "Client not authorized")
            if order and not app.take_order_call(client_id):
                # the app's "Order Limit" chosen at registration [429 body unconfirmed]
                return trader_error(429, "Order limit exceeded; try again later")
            try:
                return await handler(app, request, client_id)
            except BadRequest as exc:
                return trader_error(exc.status, exc.message)
            except VenueError as exc:
                return trader_error(_VENUE_STATUS.get(exc.reason, 400), exc.message)

        return wrapped

    return decorate


def market_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a Market Data handler: bearer check and ``{"errors": [...]}`` bodies."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        app: SchwabMockApp = request.app
        client_id = app.bearer(request)
        if client_id is None:
            return market_error(401, "Unauthorized", "Client not authorized")
        try:
            return await handler(app, request, client_id)
        except BadRequest as exc:
            return market_error(exc.status, "Bad Request", exc.message)
        except VenueError as exc:
            if exc.reason == "not_found":
                return market_error(404, "Not Found", exc.message)
            return market_error(400, "Bad Request", exc.message)

    return wrapped


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    clients: Mapping[str, str] | None = None,
    callback_urls: tuple[str, ...] | None = None,
    order_limit: int | None = ORDER_LIMIT_PER_MINUTE,
    realtime: bool | None = None,
    start: datetime | None = None,
    starting_cash: Decimal | float = Decimal(100_000),
    partial_fill_size: int = 1000,
    streamer_url: str | None = None,
    stream_interval: float = 0.25,
) -> SchwabMockApp:
    """Build the Schwab mock.

    Args:
        seed: seeds prices, ids, account numbers and fault decisions.
        faults: fault rules (file path, rules as data, or a plan).
        clients: accepted ``{app_key: app_secret}`` (any non-empty pair when None).
        callback_urls: registered callback URLs (any 127.0.0.1 URL when None).
        order_limit: order requests per minute per app before 429 (None: unlimited).
        realtime: whether simulated time runs with the wall clock; by default it does unless ``start``
            is given (tests pin ``start`` and drive the clock themselves).
        start: simulated time at start (now by default).
        starting_cash: the account's cash.
        partial_fill_size: orders larger than this fill in chunks.
        streamer_url: the streamer URL ``/trader/v1/userPreference`` names (default: this server's ``/ws``).
        stream_interval: real seconds between two streamer ticks (quotes, bars, heartbeats).
    """
    from portico.mocks.schwab._market import market_routes
    from portico.mocks.schwab._oauth import oauth_routes
    from portico.mocks.schwab._streamer import streamer_routes
    from portico.mocks.schwab._trader import trader_routes

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
        corporate_actions=True,
    )
    app = SchwabMockApp(
        [*oauth_routes(), *trader_routes(), *market_routes(), *streamer_routes()],
        venue=venue,
        clients=clients,
        callback_urls=callback_urls,
        order_limit=order_limit,
        name="schwab",
        url_keys=URL_KEYS,
        seed=seed,
        faults=faults,
        clock=clock,
    )
    app.streamer_url = streamer_url
    app.stream_interval = stream_interval
    return app
