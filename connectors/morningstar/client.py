"""HTTP calls to the Morningstar Data API: functions, the task flow, and the result files.

The service answers data requests with a task: ``POST v1/<function>`` returns ``{id, poll_url, status}``,
``poll_url`` is polled until ``status`` leaves ``pending``, and a successful task names its result files
(pre-signed storage URLs: fetched *without* the bearer token). This client does that through the system's
shared :class:`~portico.http.ApiClient` (throttling, retries, breaker, call records) with these checks:

- the token is a JWT; an expired one is refused before any call (the vendor's tokens expire and must be
  copied again from Analytics Lab), and it goes only to the API's origin or over HTTPS to a trusted
  Morningstar host (the package's documentation shows poll URLs on ``datalab.morningstar.com``): any
  other ``poll_url`` is refused, and result files go through a second client that sends no credentials;
- a result file must be HTTPS (or on the API's own origin, as a mock serves it), and is read only up to
  ``max_result_bytes`` after decompression;
- polling is bounded by ``task_timeout`` (and the task's own ``task_timeout_seconds``) on the context's
  clock, so a fake clock drives it in tests.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from collections.abc import Generator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl
from pydantic import ValidationError

from portico.connectors.morningstar.wire import WireError, WireTask, WireTaskResult
from portico.errors import (
    AuthError,
    ConfigurationError,
    NotFound,
    PayloadRejected,
    PorticoError,
    ReadTimeout,
    VenueRejected,
)

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = ["BearerTokenAuth", "MorningstarClient", "error_for_response", "error_for_task", "token_expiry"]

_CHUNK = 1 << 20


def token_expiry(token: str) -> datetime | None:
    """The ``exp`` of a JWT (read, not verified: the service verifies it), None when it has none.

    Raises:
        ConfigurationError: the value is not a JWT (three base64url parts, a JSON payload).
    """
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise ConfigurationError(
            "the Morningstar token is not a JWT (three dot-separated parts); copy it again from Analytics Lab",
            path="authentication.credentials.token",
        )
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise ConfigurationError(
            "the Morningstar token's payload is not JSON; copy it again from Analytics Lab",
            path="authentication.credentials.token",
        ) from None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return datetime.fromtimestamp(exp, UTC)
    return None


class BearerTokenAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` (used when the runtime provides no auth flow)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerTokenAuth(token=***)"


_CLASS_ERRORS: dict[str, type[PorticoError]] = {
    "BadRequestError": VenueRejected,
    "ResourceNotFoundError": NotFound,
    "AccessDeniedError": AuthError,
}


def _error(error_class: str, message: str, **kwargs: Any) -> PorticoError:
    kind = _CLASS_ERRORS.get(error_class, VenueRejected)
    what = {
        AuthError: "Morningstar denied access",
        NotFound: "Morningstar found nothing",
    }.get(kind, "Morningstar refused the request")
    return kind(f"{what}: {message or error_class or 'no detail'}", venue_code=error_class or None, **kwargs)


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of an answer carrying ``{error_class, error_message}`` (None: the default map)."""
    if response.status_code == 429 or response.status_code >= 500:
        return None  # throttles and outages: the default map (RateLimited with Retry-After, ServerError)
    try:
        body = WireError.model_validate(response.json())
    except (ValueError, ValidationError):
        return None
    if not body.error_class and not body.error_message:
        return None
    if response.status_code in (401, 403) and body.error_class not in _CLASS_ERRORS:
        return AuthError(f"Morningstar denied access: {body.error_message}", venue_code=body.error_class or None,
                         status_code=response.status_code)  # fmt: skip
    return _error(body.error_class, body.error_message, status_code=response.status_code)


def error_for_task(task: WireTask, request: str) -> PorticoError:
    """The typed error of a failed task."""
    return _error(task.error_class or "", task.error_message or "", request=f"{request} (task {task.id})")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class MorningstarClient:
    """Calls to the Morningstar Data API through the system's shared :class:`~portico.http.ApiClient`.

    Args:
        context: the connector's context (its ``base`` URL is ``MD_API``).
        task_timeout: the longest wait for a task, in seconds.
        max_result_bytes: the largest result file accepted (after decompression).
    """

    def __init__(
        self,
        context: ConnectorContext,
        *,
        task_timeout: float,
        max_result_bytes: int,
        token_hosts: tuple[str, ...] = ("morningstar.com",),
        token: str | None = None,
    ) -> None:
        self.context = context
        given = token
        token = given if given is not None else context.secret("token").strip()
        self._expires = token_expiry(token)
        self._check_expiry()
        # a token handed in (the mock's sign-in) replaces the configured one and its auth flow
        auth = BearerTokenAuth(token) if given is not None or context.auth is None else context.auth
        self._api = context.api_client(
            "base", auth=auth, error_mapper=error_for_response, idempotency_header=None
        )
        # result files are pre-signed storage URLs: a client that carries no credentials fetches them
        self._files = context.api_client("base", auth=None, idempotency_header=None)
        self._base = httpx.URL(context.url("base"))
        self.task_timeout = task_timeout
        self.max_result_bytes = max_result_bytes
        self.token_hosts = tuple(h.strip(".").lower() for h in token_hosts if h.strip("."))
        self.polls = 0

    @property
    def token_expires(self) -> datetime | None:
        """When the configured token expires (from its ``exp`` claim)."""
        return self._expires

    def _check_expiry(self) -> None:
        if self._expires is not None and self._expires <= self.context.clock.now():
            raise AuthError(
                f"the Morningstar token expired at {self._expires.isoformat()}; copy a new one from Analytics Lab "
                "(Copy Authentication Token) into the system's credentials",
                system=self.context.system_id,
            )

    def _url(self, path: str) -> str:
        return str(self._base).rstrip("/") + "/" + path.lstrip("/")

    async def get(self, function: str, params: Mapping[str, Any]) -> Any:
        """``GET v1/<function>``; the JSON body."""
        self._check_expiry()
        query = {k: v for k, v in params.items() if v is not None}
        response = await self._api.get(
            self._url(f"v1/{function}"), params=query, endpoint=f"GET v1/{function}"
        )
        return self._json(response, f"GET v1/{function}")

    async def post(self, function: str, body: Mapping[str, Any]) -> Any:
        """``POST v1/<function>`` (a read: retried like one); the JSON body."""
        self._check_expiry()
        response = await self._api.post(
            self._url(f"v1/{function}"), json=dict(body), endpoint=f"POST v1/{function}", retry=True
        )
        return self._json(response, f"POST v1/{function}")

    def _json(self, response: httpx.Response, request: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PayloadRejected(
                f"Morningstar answered {request} with a body that is not JSON",
                system=self.context.system_id,
                request=request,
            ) from None

    def _task(self, body: Any, request: str) -> WireTask:
        try:
            return WireTask.model_validate(body)
        except ValidationError as exc:
            raise PayloadRejected(
                f"Morningstar answered {request} with no valid task: {exc.errors()[0]['msg']}",
                system=self.context.system_id,
                request=request,
            ) from None

    async def run_task(self, function: str, body: Mapping[str, Any]) -> WireTaskResult:
        """Start ``function`` and poll its task to the end; the task's result.

        Raises:
            VenueRejected / NotFound / AuthError: the task failed (by its ``error_class``).
            ReadTimeout: the task was still pending after the timeout.
            PayloadRejected: the service named a poll URL on another origin, or sent no valid task.
        """
        request = f"POST v1/{function}"
        task = self._task(await self.post(function, body), request)
        clock = self.context.clock
        timeout = min(self.task_timeout, float(task.task_timeout_seconds or self.task_timeout))
        started = clock.monotonic()
        started_at = int(clock.now().timestamp())  # the package sends the epoch second it started waiting
        while task.status == "pending":
            if clock.monotonic() - started >= timeout:
                raise ReadTimeout(
                    f"the Morningstar task {task.id} of {function} was still pending after {timeout:g} s",
                    system=self.context.system_id,
                    request=request,
                )
            poll = self._poll_url(task.poll_url, request)
            await clock.sleep(task.next_poll_delay_milliseconds / 1000.0)
            self._check_expiry()
            self.polls += 1
            response = await self._api.get(
                str(poll.copy_with(query=None)),
                params={"task_start_time": started_at},
                endpoint="GET v1/task/{id}",
            )
            task = self._task(self._json(response, "GET v1/task/{id}"), "GET v1/task/{id}")
        if task.status == "failure":
            raise error_for_task(task, request)
        return task.result or WireTaskResult()

    def _poll_url(self, url: str, request: str) -> httpx.URL:
        """A task's poll URL, when the token may go there: the API's own origin, or HTTPS on a token host."""
        poll = httpx.URL(url)
        if _origin(poll) == _origin(self._base):
            return poll
        host = (poll.host or "").lower()
        trusted = any(host == h or host.endswith("." + h) for h in self.token_hosts)
        if not trusted or poll.scheme != "https":
            why = "not HTTPS" if trusted else "not one of connection.token_hosts"
            raise PayloadRejected(
                f"Morningstar named a task poll URL on {poll.scheme}://{host} ({why}); refused so the token is "
                "not sent there",
                system=self.context.system_id,
                request=request,
            )
        return poll

    def _file_url(self, url: str) -> httpx.URL:
        parsed = httpx.URL(url)
        if parsed.scheme != "https" and _origin(parsed) != _origin(self._base):
            raise PayloadRejected(
                f"Morningstar named a result file over {parsed.scheme or 'no scheme'} on another host; only HTTPS "
                "(or the API's own origin) is accepted",
                system=self.context.system_id,
                request="GET result file",
            )
        return parsed

    async def _download(self, url: str) -> bytes:
        response = await self._files.get(str(self._file_url(url)), endpoint="GET result file")
        content = response.content
        if len(content) > self.max_result_bytes:
            raise self._too_large()
        return content

    def _too_large(self) -> PayloadRejected:
        return PayloadRejected(
            f"a Morningstar result file is larger than max_result_bytes ({self.max_result_bytes} bytes); "
            "ask for fewer investments or dates, or raise connection.max_result_bytes",
            system=self.context.system_id,
            request="GET result file",
        )

    async def frame(self, url: str) -> pl.DataFrame:
        """A feather (Arrow IPC) result file as a polars frame; an empty frame for an empty URL."""
        if not url:
            return pl.DataFrame()
        content = await self._download(url)
        try:
            return pl.read_ipc(io.BytesIO(content))
        except Exception as exc:  # polars raises its own ComputeError/ArrowError family
            raise PayloadRejected(
                f"a Morningstar result file is not a feather file ({type(exc).__name__})",
                system=self.context.system_id,
                request="GET result file",
            ) from None

    async def lines(self, url: str) -> list[dict[str, Any]]:
        """A gzipped JSON-lines result page as dicts, decompressed no further than ``max_result_bytes``."""
        content = await self._download(url)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out = io.BytesIO()
        try:
            data = inflater.decompress(content, self.max_result_bytes + 1)
            while True:
                out.write(data)
                if out.tell() > self.max_result_bytes:
                    raise self._too_large()
                if not inflater.unconsumed_tail:
                    break
                data = inflater.decompress(inflater.unconsumed_tail, self.max_result_bytes + 1 - out.tell())
        except (zlib.error, gzip.BadGzipFile):
            raise PayloadRejected(
                "a Morningstar holdings page is not gzip",
                system=self.context.system_id,
                request="GET result file",
            ) from None
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(out.getvalue().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise PayloadRejected(
                    f"line {number} of a Morningstar holdings page is not JSON",
                    system=self.context.system_id,
                    request="GET result file",
                ) from None
            if isinstance(row, dict):
                rows.append(row)
        return rows

    async def aclose(self) -> None:
        """Close both HTTP clients."""
        await self._api.aclose()
        await self._files.aclose()
