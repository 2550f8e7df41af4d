"""HTTP calls to Alpha Vantage's ``/query``, and the reading of its in-body errors.

Alpha Vantage answers every call with HTTP 200, errors included: ``Error Message`` for invalid calls,
``Information`` for the daily quota and premium-only functions, ``Note`` for the per-minute throttle.
:class:`InBodyStatus` (an ``httpx.Auth`` flow wrapped around the key's own) gives such answers the status
they mean (429 with ``Retry-After``, 403, 400, 401), so the shared :class:`~portico.http.ApiClient` retries,
throttles and breaks on them as on any vendor's, and :func:`error_for_response` names the typed error.
The API key travels as the ``apikey`` query parameter (the vendor demands it); errors and call records name
the endpoint (``GET /query TIME_SERIES_DAILY``), never the URL, and any key echoed in a message is masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Generator, Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from portico.clock import Clock, system_clock
from portico.errors import AuthError, NotSupported, PayloadRejected, PorticoError, RateLimited, VenueRejected

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = [
    "AlphaVantageClient",
    "InBodyStatus",
    "QueryKeyAuth",
    "classify_body",
    "error_for_response",
    "seconds_to_quota_reset",
]

_EASTERN = ZoneInfo("America/New_York")
_SMALL = 4096  # data bodies are large; error bodies are a single short sentence
_ECHOED_KEY = re.compile(r"(API key as )\S+", re.IGNORECASE)
_STATUS_HEADER = "x-portico-av-kind"


def seconds_to_quota_reset(now: datetime) -> float:
    """Seconds until the daily quota resets (midnight US/Eastern)."""
    local = now.astimezone(_EASTERN)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), _EASTERN)
    return max(1.0, (midnight - local).total_seconds())


def classify_body(body: Any) -> tuple[str, str] | None:
    """The kind of in-body error and its message, or None for a data body.

    Kinds: ``invalid`` (Error Message), ``auth`` (missing or invalid key), ``premium`` (premium-only
    function), ``day`` (daily quota), ``minute`` (per-minute or per-second throttle), ``information``
    (any other Information), ``empty`` (``{}``).
    """
    if not isinstance(body, dict):
        return None
    if not body:
        return "empty", "Alpha Vantage returned an empty body"
    if "Error Message" in body:
        message = str(body["Error Message"])
        return ("auth" if "apikey" in message.lower() else "invalid"), message
    for key in ("Note", "Information"):
        if key not in body or len(body) > 2:
            continue
        message = str(body[key])
        text = message.lower()
        if any(word in text for word in ("frequency", "per minute", "per second", "sparingly")):
            return "minute", message
        if (
            "premium endpoint" in text
            or "premium feature" in text
            or ("premium plans" in text and "unlock" in text)
        ):
            return "premium", message
        if "per day" in text:
            return "day", message
        if key == "Note":
            return "minute", message
        return "information", message
    return None


_STATUS = {"invalid": 400, "auth": 401, "premium": 403, "day": 429, "minute": 429, "information": 400}


class InBodyStatus(httpx.Auth):
    """Wraps the key's auth flow and gives Alpha Vantage's in-body errors the HTTP status they mean.

    Args:
        inner: the auth flow that adds the API key.
        clock: the time source (for the daily quota's ``Retry-After``).
    """

    requires_response_body = True

    def __init__(self, inner: httpx.Auth | None, clock: Clock = system_clock) -> None:
        self._inner = inner
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("the Alpha Vantage client is async only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._inner is None:
            response = yield request
        else:
            flow = self._inner.async_auth_flow(request)
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    break
        self._restatus(response)

    def _restatus(self, response: httpx.Response) -> None:
        if response.status_code != 200 or len(response.content) > _SMALL:
            return
        try:
            body = json.loads(response.content)
        except ValueError:
            return  # not JSON: the connector reports PayloadRejected
        found = classify_body(body)
        if found is None or found[0] == "empty":
            return
        kind = found[0]
        # The vendor says 200; the status is what the answer means, so the shared retry, limiter and
        # breaker treat it as they treat any vendor's 429 or 403.
        response.status_code = _STATUS[kind]
        response.headers[_STATUS_HEADER] = kind
        if kind == "minute":
            response.headers["retry-after"] = "60"
        elif kind == "day":
            response.headers["retry-after"] = str(int(seconds_to_quota_reset(self._clock.now())))

    def __repr__(self) -> str:
        return f"InBodyStatus({self._inner!r})"


class QueryKeyAuth(httpx.Auth):
    """The API key as the ``apikey`` query parameter (used when the runtime provides no auth flow)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params({"apikey": self._key})
        yield request

    def __repr__(self) -> str:
        return "QueryKeyAuth(apikey=***)"


def _masked(message: str) -> str:
    return _ECHOED_KEY.sub(r"\1***", message)


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of an answer :class:`InBodyStatus` re-statused (None: the default status map)."""
    kind = response.headers.get(_STATUS_HEADER)
    if kind is None:
        return None
    try:
        found = classify_body(json.loads(response.content))
    except ValueError:
        found = None
    message = _masked(found[1]) if found else "Alpha Vantage refused the call"
    if kind == "minute":
        return RateLimited(
            f"Alpha Vantage throttled the call: {message}", retry_after=60.0, venue_code="Note"
        )
    if kind == "day":
        retry = float(response.headers.get("retry-after", "0") or 0) or None
        return RateLimited(
            f"Alpha Vantage daily quota exhausted: {message}", retry_after=retry, venue_code="Information"
        )
    if kind == "premium":
        return NotSupported(f"premium-only for this API key's plan: {message}", venue_code="Information")
    if kind == "auth":
        return AuthError(f"Alpha Vantage refused the API key: {message}", venue_code="Error Message")
    if kind == "information":
        return VenueRejected(f"Alpha Vantage: {message}", venue_code="Information")
    return VenueRejected(f"Alpha Vantage rejected the call: {message}", venue_code="Error Message")


class AlphaVantageClient:
    """Calls to ``/query`` through the system's shared :class:`~portico.http.ApiClient`.

    Args:
        context: the connector's context (its ``base`` URL is the ``/query`` endpoint).
    """

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        inner = context.auth
        if inner is None:
            inner = QueryKeyAuth(context.secret("api_key"))
        self._api = context.api_client(
            "base", auth=InBodyStatus(inner, context.clock), error_mapper=error_for_response
        )
        self.calls = 0
        self._spent_until: datetime | None = None

    @property
    def api(self) -> Any:
        """The underlying API client."""
        return self._api

    async def query(
        self,
        function: str,
        params: Mapping[str, str | None] | None = None,
        *,
        cost: float | None = None,
        retry: bool | None = None,
    ) -> Any:
        """One call to ``function``; the JSON body (dict), or the text for ``datatype=csv``.

        ``cost`` and ``retry`` pass to the API client (a health check has taken its budget already and
        must not retry a throttle for a minute).

        Raises:
            RateLimited: the per-minute throttle outlasted the retry budget, or the daily quota is spent.
            NotSupported: the function is premium-only for this key's plan.
            VenueRejected: an invalid call (unknown symbol, bad parameter).
            PayloadRejected: an empty or non-JSON body.
        """
        query = {"function": function, **{k: v for k, v in (params or {}).items() if v is not None}}
        now = self.context.clock.now()
        if self._spent_until is not None and now < self._spent_until:
            # the vendor said the day's quota is spent: asking again before it resets only wastes a call
            raise RateLimited(
                "Alpha Vantage daily quota exhausted (known from an earlier answer); it resets at midnight US/Eastern",
                retry_after=(self._spent_until - now).total_seconds(),
                system=self.context.system_id,
                request=f"GET /query {function}",
                venue_code="Information",
            )
        self.calls += 1
        try:
            response = await self._api.get(
                "", params=query, endpoint=f"GET /query {function}", cost=cost, retry=retry
            )
        except RateLimited as exc:
            if exc.venue_code == "Information" and exc.retry_after:
                self._spent_until = now + timedelta(seconds=exc.retry_after)
            raise
        if query.get("datatype") == "csv" and not response.content.lstrip().startswith(b"{"):
            return response.text
        try:
            body = response.json()
        except ValueError:
            snippet = response.text[:60].replace("\n", " ")
            raise PayloadRejected(
                f"Alpha Vantage answered {function} with a body that is not JSON ({snippet!r})",
                system=self.context.system_id,
                request=f"GET /query {function}",
            ) from None
        if not isinstance(body, dict) or not body:
            raise PayloadRejected(
                f"Alpha Vantage answered {function} with an empty body",
                system=self.context.system_id,
                request=f"GET /query {function}",
            )
        return body

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()
