"""The resilient API client every connector talks HTTP through.

It is over 600 lines because it is one job: the life of a request (rate limit, breaker, send, classify
the answer or the failure, retry or refuse, record the call), whose steps share one attempt's state and
decide together whether a lost answer may be retried or must surface as an unknown outcome. The parts
that stand alone are already their own modules: retry policy and backoff (:mod:`._retry`), the circuit
breaker (:mod:`._breaker`), rate limiting (:mod:`._ratelimit`), error mapping (:mod:`._error_map`),
request building (:mod:`._requests`), call records (:mod:`._records`) and transports
(:mod:`._transport`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Coroutine, Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

import httpx

from portico._version import __version__
from portico.clock import Clock, SystemClock, system_clock
from portico.context import current_correlation_id
from portico.errors import (
    CircuitOpen,
    ConfigurationError,
    OutcomeUnknown,
    PayloadRejected,
    PorticoError,
    RateLimited,
    ReadTimeout,
    ResponseLost,
    error_context,
)
from portico.http._assembly import ASSEMBLY_OK
from portico.http._breaker import BreakerState, CircuitBreaker
from portico.http._error_map import ErrorMapper, default_error_for, error_for_exception
from portico.http._ratelimit import RateLimiter
from portico.http._records import CallObserver, CallOutcome, CallRecord
from portico.http._requests import RequestFactory, Wire
from portico.http._retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    UNKNOWN_OUTCOME_STATUSES,
    backoff_delay,
    parse_retry_after,
)
from portico.http._timeouts import Timeouts
from portico.policy import RetryPolicy

__all__ = ["ApiClient", "TransportChoice"]

_log = logging.getLogger("portico.http")

TransportChoice = Literal["aiohttp", "httpx"]

_URL_CACHE_SIZE = 512
_CLOSED = BreakerState.CLOSED


def _user_agent() -> str:
    return f"portico/{__version__}"


class ApiClient:
    """An async HTTP client with pooling, timeouts, retries, rate limits, a circuit breaker and observers.

    Each call runs: correlation id -> circuit breaker -> rate limiter -> auth -> transport, once per
    attempt, then classification:

    * 2xx/3xx answers are returned; other answers become typed errors through ``error_mapper`` (or the
      default status map).
    * Timeouts, lost connections, 429 and 502/503/504 are retried with exponential backoff and full
      jitter, honouring ``Retry-After`` (delta-seconds or HTTP-date) up to ``retry.max_retry_after``.
      400/401/403/404/422 and other 4xx never are.
    * POST and PATCH are retried only with an ``idempotency_key`` (or ``retry=True``), except when the
      connection failed before the request left (connect timeout or refusal): that is always safe.
      When such a request was sent and its answer lost (read timeout, reset, 502/504), the call raises
      :class:`~portico.errors.OutcomeUnknown` carrying the idempotency key, never a plain transport error.
    * Errors carry the system, the request (the templated endpoint, or the path without its query
      string, so keys in query strings never reach an error) and the correlation id.

    Args:
        base_url: the API root; paths are joined to it (absolute URLs are used as they are).
        system: the system id, named in errors and call records.
        auth: an ``httpx.Auth`` flow applied to every request (refreshes included).
        transport: an ``httpx.AsyncBaseTransport`` (``httpx.MockTransport``, ``httpx.ASGITransport``...),
            or ``"aiohttp"`` (the default: an :class:`AiohttpTransport`, several times faster on small
            calls) or ``"httpx"`` (httpx's own pooled transport).
        clock: the time source for backoff and Retry-After sleeps and latency.
        retry: the retry policy (3 attempts, 0.5 s base, 30 s cap by default).
        rate_limiter: the system's shared limiter; ``None`` for none.
        breaker: the system's circuit breaker; ``None`` for none.
        timeouts: connect/read/write/pool/total timeouts.
        headers: headers sent with every request.
        observers: called with a :class:`CallRecord` after every attempt.
        error_mapper: the connector's reading of non-2xx answers (``None`` from it: default map).
        correlation_header: send ``X-Correlation-ID`` with the current correlation id.
        idempotency_header: the header that carries ``idempotency_key`` (``None``: the connector puts
            the key in the body itself, e.g. as a client order id).
        rng: the random source for jitter (seed it in tests).
        max_connections: the connection pool size.
        verify: verify TLS certificates (an ``ssl.SSLContext`` carries a client certificate or CA bundle).
    """

    def __init__(
        self,
        base_url: str,
        *,
        system: str,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | TransportChoice | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        timeouts: Timeouts | None = None,
        headers: Mapping[str, str] | None = None,
        observers: Iterable[CallObserver] = (),
        error_mapper: ErrorMapper | None = None,
        correlation_header: bool = True,
        idempotency_header: str | None = "Idempotency-Key",
        rng: random.Random | None = None,
        max_connections: int = 100,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self.system = system
        self.base_url = httpx.URL(base_url)
        self._base = str(self.base_url.copy_with(query=None, fragment=None)).rstrip("/")
        self._auth = auth
        self._clock = clock or system_clock
        self._retry = retry or RetryPolicy()
        self._limiter = rate_limiter
        self._breaker = breaker
        self.timeouts = timeouts or Timeouts()
        self._total = self.timeouts.total
        self._observers: tuple[CallObserver, ...] = tuple(observers)
        self._error_mapper = error_mapper
        self._correlation_header = correlation_header
        self._idempotency_header = idempotency_header
        self._rng = rng or random.Random()
        self._headers = httpx.Headers(
            {"User-Agent": _user_agent(), "Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
        )
        self._headers.update(headers or {})
        self._requests = RequestFactory(self._headers)
        self._owns_transport = not isinstance(transport, httpx.AsyncBaseTransport)
        if transport is None or transport == "aiohttp":
            from portico.http._transport import AiohttpTransport

            self._transport: httpx.AsyncBaseTransport = AiohttpTransport(
                max_connections=max_connections, verify=verify
            )
        elif transport == "httpx":
            self._transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=max_connections), verify=verify
            )
        elif isinstance(transport, httpx.AsyncBaseTransport):
            self._transport = transport
        else:
            raise ConfigurationError(f"unknown transport {transport!r}: give 'aiohttp', 'httpx' or a transport")
        # Transports that apply the total timeout themselves spare the client a timer per call.
        timeout_spec = self.timeouts.httpx_extension()
        if getattr(self._transport, "handles_total_timeout", False):
            timeout_spec["total"] = self._total
            self._total = None
        self._timeout_ext = {"timeout": timeout_spec}
        self._send_buffered = getattr(self._transport, "send_buffered", None)
        self._auto_headers = bool(getattr(self._transport, "accepts_auto_headers_sent", False))
        self.cookies = httpx.Cookies()
        self._urls: dict[str, tuple[httpx.URL, str, bytes | None]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"ApiClient(system={self.system!r}, base_url={self._base!r})"

    # ------------------------------------------------------------------ properties

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        """The transport requests go through."""
        return self._transport

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The rate limiter in use."""
        return self._limiter

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker in use."""
        return self._breaker

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._retry

    @retry_policy.setter
    def retry_policy(self, policy: RetryPolicy) -> None:
        self._retry = policy

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use; assign to change it at run time (``set_throttling_parameters``)."""
        return self._retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self._retry = policy

    def add_observer(self, observer: CallObserver) -> None:
        """Also call ``observer`` after every attempt."""
        self._observers = (*self._observers, observer)

    # ------------------------------------------------------------------ calls

    def get(self, path: str, **kwargs: Any) -> Coroutine[Any, Any, httpx.Response]:
        """``request("GET", path, ...)``: awaited like it (one coroutine layer fewer)."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Coroutine[Any, Any, httpx.Response]:
        """``request("POST", path, ...)``: awaited like it (one coroutine layer fewer)."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Coroutine[Any, Any, httpx.Response]:
        """``request("PUT", path, ...)``: awaited like it (one coroutine layer fewer)."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Coroutine[Any, Any, httpx.Response]:
        """``request("PATCH", path, ...)``: awaited like it (one coroutine layer fewer)."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Coroutine[Any, Any, httpx.Response]:
        """``request("DELETE", path, ...)``: awaited like it (one coroutine layer fewer)."""
        return self.request("DELETE", path, **kwargs)

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` and return its JSON body.

        Raises:
            PayloadRejected: the body is not JSON.
        """
        response = await self.request("GET", path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            endpoint = kwargs.get("endpoint") or f"GET {path.partition('?')[0]}"
            raise PayloadRejected(
                f"the answer is not JSON ({type(exc).__name__})",
                system=self.system,
                request=endpoint,
                correlation_id=current_correlation_id(),
                status_code=response.status_code,
            ) from None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
        cost: float | None = None,
        idempotency_key: str | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send one logical call (with its retries) and return the 2xx/3xx answer, body read.

        Args:
            method: the HTTP method.
            path: the path below ``base_url`` (or an absolute URL).
            params: query parameters.
            json: a JSON body.
            content: a raw body.
            data: a form body.
            headers: extra headers for this call.
            endpoint: the templated endpoint name (``"GET /v2/orders/{id}"``): named in errors and
                records, and looked up for its rate-limit cost.
            cost: the rate-limit cost, overriding the policy's.
            idempotency_key: makes a POST/PATCH retryable; sent in ``idempotency_header`` and carried by
                ``OutcomeUnknown``.
            retry: force retries on (``True``) or off (``False``) regardless of the method.

        Raises:
            PorticoError: the typed error of the last attempt (see the class docstring).
        """
        if self._closed:
            raise ConfigurationError(f"the API client of {self.system} is closed", system=self.system)
        method = method.upper()
        description = endpoint or f"{method} {path.partition('?')[0]}"
        correlation_id = current_correlation_id()
        # The correlation header travels on its own so the request factory can append it to the
        # pre-encoded per-host headers without building a dict of extras (the usual call has none).
        send_id = correlation_id if correlation_id and self._correlation_header else None
        extra: dict[str, str] | None = None
        if headers or (idempotency_key and self._idempotency_header):
            extra = {}
            if idempotency_key and self._idempotency_header:
                extra[self._idempotency_header] = idempotency_key
            if headers:
                extra.update(headers)
        url, cached_text, netloc = self._url(path)
        url_text: str | None = cached_text
        if params is not None and url.query:
            # httpx would replace the path's query string with ``params``; merge them instead.
            url = url.copy_merge_params(params)
            params = None
            url_text = None
            netloc = None
        request, wire = self._requests.build(
            method, url, extra=extra, params=params, json=json, content=content, data=data,
            extensions=self._timeout_ext, url_text=url_text, correlation_id=send_id, netloc=netloc,
        )
        state_changing = method not in IDEMPOTENT_METHODS
        may_retry = (not state_changing or idempotency_key is not None) if retry is None else retry
        limiter = self._limiter
        breaker = self._breaker
        clock = self._clock
        observers = self._observers
        if limiter is not None and cost is None:
            cost = limiter.cost_of(endpoint or description)
        # No auth flow and no client-side total timer: skip two coroutine layers per call.
        direct = self._auth is None and self._total is None
        buffered = self._send_buffered if direct else None
        auto_headers = self._auto_headers
        scan_lowered = ASSEMBLY_OK  # httpx.Headers keeps (name, lowered name, value) triples
        # the real clock read directly: a wrapper call fewer, twice per attempt
        monotonic = time.monotonic if type(clock) is SystemClock else clock.monotonic
        attempt = 0
        while True:
            attempt += 1
            probe = False
            # a closed breaker admits without a call (before_call's first branch)
            if breaker is not None and breaker._state is not _CLOSED:
                try:
                    probe = breaker.before_call()
                except CircuitOpen as exc:
                    self._refuse(exc, method, description, attempt, 0.0, correlation_id, "circuit_open")
            waited = 0.0
            if limiter is not None and not limiter.try_acquire(cost if cost is not None else 1.0):
                try:
                    waited = await limiter.acquire(cost if cost is not None else 1.0)
                except BaseException as exc:
                    if breaker is not None:
                        breaker.release(probe)
                    if isinstance(exc, RateLimited | ConfigurationError):
                        self._refuse(exc, method, description, attempt, waited, correlation_id, "throttled")
                    raise
            started = monotonic()
            try:
                if buffered is not None and not self.cookies.jar._cookies:  # type: ignore[attr-defined]
                    # _send_single inlined for the usual call (aiohttp, no cookies held): a coroutine
                    # layer fewer on every resume
                    if auto_headers:  # the base headers always carry them
                        response = await buffered(request, wire, auto_headers_sent=True)
                    else:
                        response = await buffered(request, wire)
                    if scan_lowered:
                        for _, lowered, _ in response.headers._list:
                            if lowered == b"set-cookie":
                                self.cookies.extract_cookies(response)
                                break
                    else:
                        self._extract_cookies(response)
                elif direct:
                    response = await self._send_single(request, wire)
                else:
                    response = await self._send(request, wire)
            except asyncio.CancelledError:
                if breaker is not None:
                    breaker.release(probe)
                raise
            except Exception as exc:
                delay = self._after_exception(
                    exc, probe, method, description, attempt, started, waited, correlation_id,
                    state_changing, may_retry, idempotency_key,
                )
            else:
                status = response.status_code
                if status < 400:
                    # record_success changes nothing for a non-probe call with no failures counted
                    if breaker is not None and (probe or breaker._failures):
                        breaker.record_success(probe)
                    latency = monotonic() - started
                    if observers:
                        record = CallRecord(
                            self.system, method, description, status, "ok", latency, attempt, waited, correlation_id
                        )
                        for observer in observers:  # _observe, inlined on the success path
                            try:
                                observer(record)
                            except Exception:
                                _log.exception("call observer %r failed", observer)
                    response.elapsed = timedelta(seconds=latency)
                    return response
                delay = await self._after_error_status(
                    response, probe, method, description, attempt, started, waited, correlation_id,
                    state_changing, may_retry, idempotency_key,
                )
            await clock.sleep(delay)

    # ------------------------------------------------------------------ attempt outcomes

    def _after_exception(
        self,
        exc: Exception,
        probe: bool,
        method: str,
        description: str,
        attempt: int,
        started: float,
        waited: float,
        correlation_id: str | None,
        state_changing: bool,
        may_retry: bool,
        idempotency_key: str | None,
    ) -> float:
        """Classify a failed send; return the backoff before the next attempt or raise."""
        breaker = self._breaker
        latency = self._clock.monotonic() - started
        with error_context(system=self.system, request=description, correlation_id=correlation_id):
            if isinstance(exc, PorticoError):
                # Raised by the auth flow (refresh refused...): not the venue's fault, not retryable here.
                if breaker is not None:
                    breaker.release(probe)
                self._record(method, description, None, "failed", latency, attempt, waited, correlation_id, exc)
                raise exc
            error = error_for_exception(exc)
            if isinstance(error, ConfigurationError):
                if breaker is not None:
                    breaker.release(probe)
                self._record(method, description, None, "failed", latency, attempt, waited, correlation_id, error)
                raise error from None
            if breaker is not None:
                breaker.record_failure(probe)
            reached_venue = isinstance(error, ReadTimeout | ResponseLost)
            if reached_venue and state_changing and (not may_retry or attempt >= self._retry.attempts):
                unknown = self._outcome_unknown(error, description, idempotency_key)
                self._record(method, description, None, "unknown", latency, attempt, waited, correlation_id, unknown)
                raise unknown from error
            # A request that never left (connect failure) is safe to repeat whatever its method.
            retry_allowed = may_retry or not reached_venue
            if retry_allowed and attempt < self._retry.attempts:
                self._record(method, description, None, "retry", latency, attempt, waited, correlation_id, error)
                return backoff_delay(self._retry, attempt, self._rng)
            self._record(method, description, None, "failed", latency, attempt, waited, correlation_id, error)
            raise error from None

    async def _after_error_status(
        self,
        response: httpx.Response,
        probe: bool,
        method: str,
        description: str,
        attempt: int,
        started: float,
        waited: float,
        correlation_id: str | None,
        state_changing: bool,
        may_retry: bool,
        idempotency_key: str | None,
    ) -> float:
        """Classify a non-2xx answer; return the delay before the next attempt or raise."""
        status = response.status_code
        breaker = self._breaker
        clock = self._clock
        latency = clock.monotonic() - started
        with error_context(system=self.system, request=description, correlation_id=correlation_id):
            retry_after = parse_retry_after(response.headers.get("retry-after"), clock.now())
            error: PorticoError | None = None
            if self._error_mapper is not None:
                error = self._error_mapper(response)
            if error is None:
                error = default_error_for(response, retry_after=retry_after)
            if isinstance(error, RateLimited) and error.retry_after is None:
                error.retry_after = retry_after
            if error.status_code is None:
                error.status_code = status
            # Only the venue failing counts against the breaker; a 4xx proves it is up and answering.
            if breaker is not None:
                if status >= 500:
                    breaker.record_failure(probe)
                else:
                    breaker.record_success(probe)
            if isinstance(error, RateLimited) and retry_after and self._limiter is not None:
                # Hold every caller sharing the budget, not only this one.
                await self._limiter.block_for(min(retry_after, self._retry.max_retry_after))
            retryable = isinstance(error, RateLimited) or (status in RETRYABLE_STATUSES and error.retryable)
            if state_changing and status in UNKNOWN_OUTCOME_STATUSES and not (
                may_retry and attempt < self._retry.attempts
            ):
                unknown = self._outcome_unknown(error, description, idempotency_key)
                self._record(method, description, status, "unknown", latency, attempt, waited, correlation_id, unknown)
                raise unknown from error
            if retryable and may_retry and attempt < self._retry.attempts:
                if retry_after is None:
                    delay = backoff_delay(self._retry, attempt, self._rng)
                elif retry_after <= self._retry.max_retry_after:
                    delay = retry_after
                else:
                    delay = -1.0  # the venue wants longer than we are allowed to wait
                if delay >= 0:
                    self._record(method, description, status, "retry", latency, attempt, waited, correlation_id, error)
                    return delay
            outcome: CallOutcome = "failed" if retryable or status >= 500 else "rejected"
            self._record(method, description, status, outcome, latency, attempt, waited, correlation_id, error)
            raise error

    def _outcome_unknown(self, error: PorticoError, description: str, idempotency_key: str | None) -> OutcomeUnknown:
        unknown = OutcomeUnknown(
            f"{description} was sent but its outcome is unknown ({error.message}); "
            "look it up before repeating it",
            idempotency_key=idempotency_key,
            status_code=error.status_code,
        )
        unknown.__cause__ = error
        return unknown

    def _refuse(
        self,
        exc: PorticoError,
        method: str,
        description: str,
        attempt: int,
        waited: float,
        correlation_id: str | None,
        outcome: CallOutcome,
    ) -> None:
        with error_context(system=self.system, request=description, correlation_id=correlation_id):
            self._record(method, description, None, outcome, 0.0, attempt, waited, correlation_id, exc)
            raise exc

    def _record(
        self,
        method: str,
        description: str,
        status: int | None,
        outcome: CallOutcome,
        latency: float,
        attempt: int,
        waited: float,
        correlation_id: str | None,
        error: PorticoError | None,
    ) -> None:
        if error is not None:
            # Errors raised before error_context wrapped them (limiter, breaker) get the context here.
            if error.system is None:
                error.system = self.system
            if error.request is None:
                error.request = description
            if error.correlation_id is None:
                error.correlation_id = correlation_id
        if self._observers:
            self._observe(
                CallRecord(self.system, method, description, status, outcome, latency, attempt, waited, correlation_id, error)
            )

    def _observe(self, record: CallRecord) -> None:
        for observer in self._observers:
            try:
                observer(record)
            except Exception:
                _log.exception("call observer %r failed", observer)

    # ------------------------------------------------------------------ sending

    def _url(self, path: str) -> tuple[httpx.URL, str, bytes | None]:
        cached = self._urls.get(path)
        if cached is None:
            if path.startswith(("http://", "https://")):
                url = httpx.URL(path)
            elif path:
                url = httpx.URL(self._base + "/" + path.lstrip("/"))
            else:
                url = httpx.URL(self._base)
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()  # paths carry ids; keep the cache bounded
            cached = self._urls[path] = (url, str(url), url.netloc)
        return cached

    async def _send(self, request: httpx.Request, wire: Wire | None) -> httpx.Response:
        if self._total is None:
            return await self._send_with_auth(request, wire)
        async with asyncio.timeout(self._total):
            return await self._send_with_auth(request, wire)

    async def _send_with_auth(self, request: httpx.Request, wire: Wire | None) -> httpx.Response:
        auth = self._auth
        if auth is None:
            return await self._send_single(request, wire)
        if auth.requires_request_body:
            await request.aread()
        flow = auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                # The flow may have changed the request, so its text form is rebuilt by the transport.
                response = await self._send_single(request, None)
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
        finally:
            await flow.aclose()

    def _extract_cookies(self, response: httpx.Response) -> None:
        # Scan the raw names: ``in response.headers`` would first decode every header to pick an encoding.
        for name, _ in response.headers.raw:
            if name.lower() == b"set-cookie":
                self.cookies.extract_cookies(response)
                break

    async def _send_single(self, request: httpx.Request, wire: Wire | None) -> httpx.Response:
        cookies = self.cookies
        if cookies.jar._cookies and cookies:  # type: ignore[attr-defined]  # the dict first: bool() walks the jar
            cookies.set_cookie_header(request)
            wire = None
        if self._send_buffered is not None:
            response: httpx.Response = await self._send_buffered(request, wire)
        else:
            response = await self._transport.handle_async_request(request)
            response.request = request
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        # Scan the raw names: ``in response.headers`` would first decode every header to pick an encoding.
        for name, _ in response.headers.raw:
            if name.lower() == b"set-cookie":
                cookies.extract_cookies(response)
                break
        return response

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Close the transport (when the client created it) and refuse further calls."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
