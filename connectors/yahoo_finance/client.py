"""HTTP calls to Yahoo Finance, the cookie and crumb they need, and the reading of Yahoo's error answers.

The chart and search endpoints answer anyone. Quotes and quoteSummary want a session: an ``A3`` cookie
(set by any answer of ``fc.yahoo.com``) and the crumb ``/v1/test/getcrumb`` hands out for that cookie,
sent as the ``crumb`` query parameter. :class:`CrumbSession` is the ``httpx.Auth`` flow doing that dance once
for every concurrent call (under a lock), and again when Yahoo answers 401 ``Invalid Crumb`` (crumbs expire
and Yahoo rotates them). Cookie and crumb never appear in errors, call records or reprs.

Yahoo's throttle answers 429 with the plain text ``Too Many Requests`` and no ``Retry-After``; it maps to
:class:`~portico.errors.RateLimited` and the shared retry policy backs off.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

import httpx

from portico.errors import AuthError, NotFound, PayloadRejected, PorticoError, RateLimited, VenueRejected

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = ["CrumbSession", "YahooFinanceClient", "error_for_response", "yahoo_error"]

_TOO_MANY = "Too Many Requests"
_ENVELOPES = ("chart", "finance", "quoteSummary", "quoteResponse", "timeseries")


def yahoo_error(body: Any) -> tuple[str | None, str | None]:
    """The ``(code, description)`` of Yahoo's error envelope (``{"chart": {"error": {...}}}`` and its kin)."""
    if not isinstance(body, Mapping):
        return None, None
    for key in _ENVELOPES:
        envelope = body.get(key)
        if isinstance(envelope, Mapping) and isinstance(envelope.get("error"), Mapping):
            error = envelope["error"]
            code, description = error.get("code"), error.get("description")
            return (code if isinstance(code, str) else None), (
                description if isinstance(description, str) else None
            )
    return None, None


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _is_invalid_crumb(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    _, description = yahoo_error(_body(response))
    return description is not None and "crumb" in description.lower()


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of one of Yahoo's non-2xx answers (None: the default status map)."""
    status = response.status_code
    if status == 429:
        return RateLimited(
            "Yahoo throttled the call (429 Too Many Requests; its limits are unpublished, lower "
            "connection.requests_per_minute if this repeats)",
            venue_code="429",
        )
    code, description = yahoo_error(_body(response))
    if description is None:
        return None
    if status == 401:
        return AuthError(
            f"Yahoo refused the session: {description} (the cookie and crumb were fetched again and refused again)",
            venue_code=code,
        )
    if status == 404:
        return NotFound(f"Yahoo: {description}", venue_code=code)
    if status in (400, 422):
        return VenueRejected(f"Yahoo refused the call: {description}", venue_code=code)
    return None


def _a3_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        if "A3" in jar and jar["A3"].value:
            return jar["A3"].value
    return None


class CrumbSession(httpx.Auth):
    """Yahoo's session as an auth flow: fetch the ``A3`` cookie and its crumb once, add both to each request,
    and fetch them again once when Yahoo answers ``Invalid Crumb``.

    Args:
        cookie_url: where the cookie comes from (``https://fc.yahoo.com``).
        crumb_url: the crumb endpoint (``https://query1.finance.yahoo.com/v1/test/getcrumb``).
    """

    requires_response_body = True

    def __init__(self, cookie_url: str, crumb_url: str) -> None:
        self._cookie_url = cookie_url
        self._crumb_url = crumb_url
        self._cookie: str | None = None
        self._crumb: str | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """How many times the cookie and crumb were fetched."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("the Yahoo Finance client is async only")

    def _signed(self, request: httpx.Request) -> None:
        assert self._crumb is not None and self._cookie is not None
        request.url = request.url.copy_set_param("crumb", self._crumb)
        request.headers["Cookie"] = f"A3={self._cookie}"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        agent = {"User-Agent": request.headers.get("User-Agent", "portico")}
        signed_with = -1
        for attempt in (1, 2):
            if self._crumb is None or attempt == 2:
                async with self._lock:
                    # another call may have refreshed while this one waited: then its crumb is used
                    if self._crumb is None or self._generation == signed_with:
                        landing = yield httpx.Request("GET", self._cookie_url, headers=agent)
                        cookie = _a3_cookie(landing)
                        if cookie is None:
                            raise AuthError(
                                f"Yahoo set no session cookie (A3) on {self._cookie_url} (HTTP {landing.status_code})"
                            )
                        answer = yield httpx.Request(
                            "GET", self._crumb_url, headers={**agent, "Cookie": f"A3={cookie}"}
                        )
                        text = answer.text.strip()
                        if answer.status_code == 429 or _TOO_MANY in text:
                            return  # the 429 is the call's answer: the shared retry policy backs off
                        if answer.status_code != 200 or not text or "<" in text or "{" in text:
                            raise AuthError(f"Yahoo handed out no crumb (HTTP {answer.status_code})")
                        self._cookie, self._crumb = cookie, text
                        self._generation += 1
                        self.refreshes += 1
            self._signed(request)
            signed_with = self._generation
            response = yield request
            if not _is_invalid_crumb(response):
                return
            # Yahoo rotates crumbs: one fresh cookie and crumb, then the answer stands

    def forget(self) -> None:
        """Drop the cookie and crumb (the next call fetches new ones)."""
        self._cookie = self._crumb = None

    def __repr__(self) -> str:
        return (
            f"CrumbSession(cookie={'***' if self._cookie else None}, crumb={'***' if self._crumb else None})"
        )


class YahooFinanceClient:
    """Calls to Yahoo's endpoints through the system's shared :class:`~portico.http.ApiClient`.

    Args:
        context: the connector's context (URLs ``query1``, ``query2`` and ``cookie``).
    """

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.session = CrumbSession(
            context.url("cookie"), context.url("query1").rstrip("/") + "/v1/test/getcrumb"
        )
        self._open = context.api_client("query2", auth=None, error_mapper=error_for_response)
        self._crumbed = context.api_client("query1", auth=self.session, error_mapper=error_for_response)
        self._query2 = context.url("query2").rstrip("/")

    @staticmethod
    def _json(response: httpx.Response, endpoint: str) -> Any:
        if response.content.strip() == _TOO_MANY.encode():
            raise RateLimited(f"Yahoo throttled {endpoint} (Too Many Requests)", venue_code="429")
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:60].replace("\n", " ")
            raise PayloadRejected(
                f"Yahoo answered {endpoint} with a body that is not JSON ({snippet!r})"
            ) from None

    async def chart(
        self,
        symbol: str,
        params: Mapping[str, str],
        *,
        retry: bool | None = None,
        cost: float | None = None,
        fast: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """``GET /v8/finance/chart/{symbol}`` (no session needed): the JSON body, or what ``fast`` made of its
        bytes when that is not None."""
        endpoint = "GET /v8/finance/chart/{symbol}"
        response = await self._open.get(
            f"/v8/finance/chart/{symbol}", params=dict(params), endpoint=endpoint, retry=retry, cost=cost
        )
        if fast is not None:
            decoded = fast(response.content)
            if decoded is not None:
                return decoded
        return self._json(response, endpoint)

    async def search(self, params: Mapping[str, str]) -> Any:
        """``GET /v1/finance/search`` (no session needed)."""
        endpoint = "GET /v1/finance/search"
        return self._json(
            await self._open.get("/v1/finance/search", params=dict(params), endpoint=endpoint), endpoint
        )

    async def quote(self, params: Mapping[str, str]) -> Any:
        """``GET /v7/finance/quote`` with the session's cookie and crumb."""
        endpoint = "GET /v7/finance/quote"
        return self._json(
            await self._crumbed.get("/v7/finance/quote", params=dict(params), endpoint=endpoint), endpoint
        )

    async def quote_summary(self, symbol: str, params: Mapping[str, str]) -> Any:
        """``GET /v10/finance/quoteSummary/{symbol}`` (on ``query2``) with the session's cookie and crumb."""
        endpoint = "GET /v10/finance/quoteSummary/{symbol}"
        response = await self._crumbed.get(
            f"{self._query2}/v10/finance/quoteSummary/{symbol}", params=dict(params), endpoint=endpoint
        )
        return self._json(response, endpoint)

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self._open.aclose()
        await self._crumbed.aclose()
