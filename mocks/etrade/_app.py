"""The E*TRADE mock app: OAuth 1.0a legs, the signed-request guard, rate limiting by API module, the
error bodies, and the factory."""

from __future__ import annotations

import hashlib
import html
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from portico.mocks._kit import BarData, FaultRule, MockApp, MockClock, MockFaultSource, SimulatedVenue
from portico.mocks.etrade._accounts import account_routes
from portico.mocks.etrade._market import market_routes
from portico.mocks.etrade._oauth import DEFAULT_ACCESS_TOKENS, DEFAULT_CONSUMERS, OAuthProblem, OAuthProvider
from portico.mocks.etrade._orders import order_routes
from portico.mocks.etrade._wire import error_response, oauth_problem_page, rate_limit_page, wants_json

__all__ = ["PUBLISHED_RATE_LIMITS", "URL_KEYS", "EtradeMockApp", "create_app"]

URL_KEYS = {"api": "", "auth": "", "authorize": ""}
"""The mock serves the API host, the OAuth host and the authorize page from one origin."""

PUBLISHED_RATE_LIMITS = {"accounts": 2, "market": 4, "order": 2}
"""Requests per second per consumer key and API module in E*TRADE's developer guide."""


class EtradeMockApp(MockApp):
    """The E*TRADE mock: OAuth 1.0a, Accounts, Market (quotes) and Order APIs over a simulated venue.

    Attributes:
        venue: the simulated venue.
        oauth: consumers and tokens (idle and midnight expiry follow the mock clock).
        rate_limits: requests per second per consumer key and module (None: unlimited).
        account_keys: ``accountIdKey`` by venue account id (and back in ``accounts_by_key``).
    """

    venue: SimulatedVenue

    def __init__(
        self,
        routes: list[Any],
        *,
        venue: SimulatedVenue,
        oauth: OAuthProvider,
        rate_limits: Mapping[str, int] | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(routes, **kwargs)
        self.venue = venue
        self.oauth = oauth
        self.rate_limits = dict(rate_limits) if rate_limits else None
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self.account_keys: dict[str, str] = {}
        self.accounts_by_key: dict[str, str] = {}
        self.account_numbers: dict[str, str] = {}
        self.order_numbers: dict[str, int] = {}
        self.orders_by_number: dict[int, str] = {}
        self.previews: dict[int, dict[str, Any]] = {}
        self.client_ids: dict[int, str] = {}
        """The client order id each ``orderId`` was placed (or last changed) with."""
        self._daily_bars: dict[tuple[str, date], BarData | None] = {}
        self._next_order = 1000 + venue.seed % 1000
        self._next_preview = 168_000_000 + venue.seed
        for account_id in venue.accounts:
            self.register_account(account_id)

    def daily_bar(self, symbol: str, day: date) -> BarData | None:
        """The day's bar of ``symbol`` (built once per symbol and day: it sums the day's minute bars)."""
        key = (symbol, day)
        if key not in self._daily_bars:
            self._daily_bars[key] = self.venue.data.daily_bar(symbol, day)
        return self._daily_bars[key]

    def register_account(self, account_id: str) -> str:
        """Give a venue account its E*TRADE ``accountIdKey`` and 8-digit ``accountId``."""
        digest = hashlib.sha256(f"{self.seed}:{account_id}".encode()).digest()
        key = digest[:16].hex()[:22]
        self.account_keys[account_id] = key
        self.accounts_by_key[key] = account_id
        self.account_numbers[account_id] = str(int.from_bytes(digest[16:20], "big") % 90_000_000 + 10_000_000)
        return key

    def order_number(self, venue_order_id: str) -> int:
        """E*TRADE's numeric ``orderId`` for a venue order."""
        number = self.order_numbers.get(venue_order_id)
        if number is None:
            number = self._next_order
            self._next_order += 1
            self.order_numbers[venue_order_id] = number
            self.orders_by_number[number] = venue_order_id
        return number

    def new_preview_id(self) -> int:
        """The next ``previewId``."""
        self._next_preview += 1
        return self._next_preview

    def throttle(self, consumer_key: str, module: str) -> bool:
        """Count a call; False when it is over the module's per-second limit."""
        if self.rate_limits is None or module not in self.rate_limits:
            return True
        now = time.monotonic()
        window = self._calls.setdefault((consumer_key, module), deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.rate_limits[module]:
            return False
        window.append(now)
        return True

    def rate_limited_response(
        self, retry_after: str, rule: FaultRule
    ) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        return rate_limit_page()

    def error_response(self, rule: FaultRule) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        if rule.body is not None:
            return super().error_response(rule)

        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            as_json = wants_json(Request(scope))
            await error_response(
                1, "The service is not available at this time. (injected fault)", as_json, rule.status
            )(scope, receive, send)

        return answer


def _form(data: Mapping[str, str]) -> Response:
    return Response(urlencode(data), media_type="application/x-www-form-urlencoded")


async def request_token(request: Request) -> Response:
    """``/oauth/request_token``: a request token for a consumer, ``oob`` or a registered callback."""
    app: EtradeMockApp = request.app
    body = await request.body()
    try:
        signed = app.oauth.verify(request.method, str(request.url), request.headers, body, token_kind="none")
        callback = signed.params.get("oauth_callback", "")
        token = app.oauth.issue_request_token(signed.consumer_key, callback)
    except OAuthProblem as exc:
        return oauth_problem_page(exc.problem, exc.status)
    return _form(
        {"oauth_token": token.token, "oauth_token_secret": token.secret, "oauth_callback_confirmed": "true"}
    )


_AUTHORIZE_PAGE = """<!doctype html><html><head><title>E*TRADE - Authorize application</title></head>
<body><h1>Authorization code</h1>
<p>Please copy and paste the code below into the application you are authorizing.</p>
<form><input id="verifier" name="verifier" type="text" value="{code}" readonly></form></body></html>"""


async def authorize(request: Request) -> Response:
    """``/e/t/etws/authorize?key=...&token=...``: the user (simulated) accepts at once.

    With a registered callback the page redirects to it with ``oauth_verifier``; with ``oob`` it shows
    the code for the user to copy, as E*TRADE's page does.
    """
    app: EtradeMockApp = request.app
    key = request.query_params.get("key") or request.query_params.get("oauth_consumer_key", "")
    token = request.query_params.get("token") or request.query_params.get("oauth_token", "")
    try:
        found = app.oauth.authorize(key, token)
    except OAuthProblem as exc:
        return oauth_problem_page(exc.problem, 400)
    assert found.verifier is not None
    if found.callback != "oob":
        sep = "&" if "?" in found.callback else "?"
        query = urlencode({"oauth_token": found.token, "oauth_verifier": found.verifier})
        return RedirectResponse(f"{found.callback}{sep}{query}", status_code=302)
    return HTMLResponse(_AUTHORIZE_PAGE.format(code=html.escape(found.verifier)))


async def access_token(request: Request) -> Response:
    """``/oauth/access_token``: the authorized request token and verifier for an access token."""
    app: EtradeMockApp = request.app
    body = await request.body()
    try:
        signed = app.oauth.verify(
            request.method, str(request.url), request.headers, body, token_kind="request"
        )
        token = app.oauth.exchange(signed)
    except OAuthProblem as exc:
        return oauth_problem_page(exc.problem, exc.status)
    return _form({"oauth_token": token.token, "oauth_token_secret": token.secret})


async def renew_access_token(request: Request) -> Response:
    """``/oauth/renew_access_token``: reactivate an idle token (not past midnight ET)."""
    app: EtradeMockApp = request.app
    body = await request.body()
    try:
        signed = app.oauth.verify(
            request.method, str(request.url), request.headers, body, token_kind="access"
        )
        app.oauth.renew(signed)
    except OAuthProblem as exc:
        return oauth_problem_page(exc.problem, exc.status)
    return Response("Access Token has been renewed", media_type="text/plain")


async def revoke_access_token(request: Request) -> Response:
    """``/oauth/revoke_access_token``: end a token before its midnight."""
    app: EtradeMockApp = request.app
    body = await request.body()
    try:
        signed = app.oauth.verify(
            request.method, str(request.url), request.headers, body, token_kind="access"
        )
        app.oauth.revoke(signed)
    except OAuthProblem as exc:
        return oauth_problem_page(exc.problem, exc.status)
    return Response("Revoked Access Token", media_type="text/plain")


def oauth_routes() -> list[Route]:
    """The OAuth host's routes (GET as E*TRADE documents them, POST as OAuth libraries send them)."""
    both = ["GET", "POST"]
    return [
        Route("/oauth/request_token", request_token, methods=both),
        Route("/oauth/access_token", access_token, methods=both),
        Route("/oauth/renew_access_token", renew_access_token, methods=both),
        Route("/oauth/revoke_access_token", revoke_access_token, methods=both),
        Route("/e/t/etws/authorize", authorize, methods=["GET"]),
    ]


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    consumers: Mapping[str, str] | None = None,
    access_tokens: Mapping[str, str] | None = None,
    rate_limits: Mapping[str, int] | None = None,
    realtime: bool | None = None,
    start: datetime | None = None,
    check_timestamps: bool = True,
    starting_cash: Decimal | float = Decimal(100_000),
) -> EtradeMockApp:
    """Build the E*TRADE mock.

    Args:
        seed: seeds prices, ids and fault decisions.
        faults: fault rules (file path, rules as data, or a plan).
        consumers: known ``{consumer_key: consumer_secret}`` (:data:`DEFAULT_CONSUMERS` by default).
        access_tokens: access tokens valid from the start ``{token: secret}``
            (:data:`DEFAULT_ACCESS_TOKENS` by default; ``{}`` to require a login).
        rate_limits: requests per second per consumer key by module (``accounts``, ``market``,
            ``order``); :data:`PUBLISHED_RATE_LIMITS` are E*TRADE's; None: unlimited.
        realtime: whether simulated time runs with the wall clock; by default it does unless ``start``
            is given (tests pin ``start`` and drive the clock, so idle and midnight expiry are theirs).
        start: simulated time at start (now by default).
        check_timestamps: refuse an ``oauth_timestamp`` more than five minutes from the wall clock.
        starting_cash: the brokerage account's cash.
    """
    if realtime is None:
        realtime = start is None
    if start is None:
        start = datetime.now(UTC).replace(microsecond=0)
    clock = MockClock(start, realtime=realtime)
    venue = SimulatedVenue(seed, clock=clock, starting_cash=starting_cash, corporate_actions=True)
    oauth = OAuthProvider(
        clock,
        consumers if consumers is not None else DEFAULT_CONSUMERS,
        access_tokens if access_tokens is not None else DEFAULT_ACCESS_TOKENS,
        wall=time.time if check_timestamps else None,
    )
    routes = [*oauth_routes(), *account_routes(), *order_routes(), *market_routes()]
    return EtradeMockApp(
        routes,
        venue=venue,
        oauth=oauth,
        rate_limits=rate_limits,
        name="etrade",
        seed=seed,
        faults=faults,
        clock=clock,
        url_keys=URL_KEYS,
    )
