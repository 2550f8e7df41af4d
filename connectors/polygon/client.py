"""HTTP calls to Polygon (Massive), ``next_url`` paging, and the reading of its error bodies.

Every answer is JSON parsed with ``parse_float=Decimal`` so prices keep the digits the vendor wrote.
Errors come as ``{"status": "ERROR", "request_id", "error"}`` (400, 401, 429) or
``{"status": "NOT_AUTHORIZED" | "NOT_FOUND", "request_id", "message"}`` (403, 404):
:func:`error_for_response` names the typed error (a plan that is not entitled is
:class:`~portico.errors.NotSupported`, not a credentials problem).

Paging follows ``next_url`` the way the vendor's own client does: only its path and query are kept and
sent to the configured base URL with the key in the ``Authorization`` header, so a ``next_url`` naming
another host never receives the key, and the key never travels in a URL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from portico.errors import (
    AuthError,
    NotFound,
    NotSupported,
    PayloadRejected,
    PorticoError,
    RateLimited,
    VenueRejected,
)

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = [
    "BearerKeyAuth",
    "MinuteRetryAfter",
    "PolygonClient",
    "error_for_response",
    "loads_exact",
    "read_json",
]

_FREE_WINDOW = 60.0  # the free plan counts calls per minute


class BearerKeyAuth(httpx.Auth):
    """The API key as ``Authorization: Bearer`` (used when the runtime provides no auth flow)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request

    def __repr__(self) -> str:
        return "BearerKeyAuth(key=***)"


def read_json(response: httpx.Response, what: str) -> Any:
    """The body of ``response`` as JSON with exact decimals; :class:`PayloadRejected` when it is not JSON."""
    return loads_exact(response.content, what)


def loads_exact(content: bytes, what: str) -> Any:
    """``content`` as JSON with exact decimals; :class:`PayloadRejected` when it is not JSON."""
    try:
        return json.loads(content, parse_float=Decimal)
    except ValueError:
        snippet = content[:60].decode("utf-8", "replace").replace("\n", " ")
        raise PayloadRejected(f"Polygon answered {what} with a body that is not JSON ({snippet!r})") from None


def _body(response: httpx.Response) -> tuple[str, str | None]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.text[:200].strip(), None
    if not isinstance(body, dict):
        return str(body)[:200], None
    message = body.get("error") or body.get("message") or ""
    status = body.get("status")
    return str(message), str(status) if status is not None else None


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of a non-2xx Polygon answer (None: the default status map, for 5xx)."""
    status = response.status_code
    message, venue_status = _body(response)
    if status == 401:
        return AuthError(f"Polygon refused the API key: {message or 'unauthorized'}", venue_code=venue_status)
    if status == 403:
        return NotSupported(
            f"not in this API key's Polygon plan: {message or 'not authorized'}", venue_code=venue_status
        )
    if status == 404:
        return NotFound(f"Polygon: {message or 'not found'}", venue_code=venue_status)
    if status == 429:
        # the vendor sends no Retry-After; the free plan's window is a minute long
        return RateLimited(
            f"Polygon rate limit: {message or 'too many requests'}",
            retry_after=_FREE_WINDOW,
            venue_code=venue_status,
        )
    if 400 <= status < 500:
        return VenueRejected(
            f"Polygon rejected the call: {message or f'HTTP {status}'}", venue_code=venue_status
        )
    return None


class MinuteRetryAfter(httpx.Auth):
    """Wraps the key's auth flow and gives a 429 without ``Retry-After`` the free plan's minute.

    Polygon sends no ``Retry-After``; on the free plan a 429 means the minute's five calls are spent, so the
    shared retry (and the limiter, which holds every caller) waits the window out instead of backing off
    for a second or two into another 429.

    Args:
        inner: the auth flow that adds the API key.
        seconds: the wait a bare 429 asks for.
    """

    def __init__(self, inner: httpx.Auth, seconds: float = _FREE_WINDOW) -> None:
        self._inner = inner
        self._seconds = seconds

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("the Polygon client is async only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._inner.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            if response.status_code == 429 and "retry-after" not in response.headers:
                response.headers["retry-after"] = f"{self._seconds:g}"
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return

    def __repr__(self) -> str:
        return f"MinuteRetryAfter({self._inner!r})"


class PolygonClient:
    """Calls to the vendor through the system's shared :class:`~portico.http.ApiClient`.

    Args:
        context: the connector's context (its ``base`` URL is the API host).
        minute_window: the key is on the free plan: a bare 429 waits out the minute (see
            :class:`MinuteRetryAfter`).
    """

    def __init__(self, context: ConnectorContext, *, minute_window: bool = False) -> None:
        self.context = context
        auth = context.auth if context.auth is not None else BearerKeyAuth(context.secret("api_key"))
        if minute_window:
            auth = MinuteRetryAfter(auth)
        self._api = context.api_client("base", auth=auth, error_mapper=error_for_response)
        self.calls = 0

    @property
    def api(self) -> Any:
        """The underlying API client."""
        return self._api

    async def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        endpoint: str,
        cost: float | None = None,
        retry: bool | None = None,
        decode: Callable[[bytes, str], Any] | None = None,
    ) -> Any:
        """One GET; the JSON body. ``endpoint`` names the call in errors, records and the rate limiter.

        ``decode`` reads the body instead of :func:`read_json` (given the bytes and ``endpoint``).

        Raises:
            AuthError: the key was refused (401).
            NotSupported: the key's plan is not entitled to the data (403).
            NotFound: unknown ticker (404).
            RateLimited: over the plan's calls per minute (429), after the retry budget.
            VenueRejected: a bad parameter (400).
            PayloadRejected: a body that is not JSON.
        """
        query = {k: _text(v) for k, v in (params or {}).items() if v is not None}
        self.calls += 1
        response = await self._api.get(path, params=query, endpoint=endpoint, cost=cost, retry=retry)
        if decode is not None:
            return decode(response.content, endpoint)
        return read_json(response, endpoint)

    async def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        endpoint: str,
        max_pages: int,
        decode: Callable[[bytes, str], Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The first page and then every ``next_url`` page, at most ``max_pages`` in all.

        The caller stops iterating once it has what it needs, so no page beyond it is fetched.

        Raises:
            PayloadRejected: the caller wanted more after ``max_pages`` pages and the vendor has more: a
                partial answer would pass for a complete one, so the call fails and says how to narrow it.
        """
        body = await self.get(path, params, endpoint=endpoint, decode=decode)
        fetched = 1
        while True:
            if not isinstance(body, dict):
                raise PayloadRejected(
                    f"Polygon answered {endpoint} with {type(body).__name__}, not an object"
                )
            yield body
            next_url = body.get("next_url")
            if not next_url:
                return
            if fetched >= max_pages:
                raise PayloadRejected(
                    f"{endpoint} needs more than connection.max_pages={max_pages} pages; narrow the window, "
                    "give a limit, or raise max_pages (each page is one call of the plan's budget)",
                    system=self.context.system_id,
                    request=endpoint,
                )
            parts = urlsplit(str(next_url))
            body = await self.get(parts.path, dict(parse_qsl(parts.query)), endpoint=endpoint, decode=decode)
            fetched += 1

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
