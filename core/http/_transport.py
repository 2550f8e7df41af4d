"""An httpx transport backed by aiohttp.

httpx's default async transport (httpcore on anyio) costs several times aiohttp's per-call latency on
loopback. :class:`AiohttpTransport` keeps the httpx API above it (auth flows, ``httpx.Response``,
``MockTransport`` in tests) and sends the bytes with an aiohttp ``ClientSession``.

What it preserves from httpx's own transport:

* the request exactly as httpx built it (headers, body, streaming bodies) and the response unparsed
  (no decompression, no redirects, no cookies: httpx does those);
* streaming responses: the body is read as the caller iterates it, and closing the response returns the
  connection to the pool;
* httpx's exception types, so the client above maps one set of errors (``ConnectTimeout``,
  ``ReadTimeout``, ``ConnectError``, ``RemoteProtocolError``...) whichever transport it runs on.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

from portico.http._assembly import ASSEMBLY_OK, assemble_response

__all__ = ["AiohttpTransport"]

# httpx has already added these (or deliberately left them out); aiohttp must not add its own.
_DIRECT_REQUEST = callable(getattr(aiohttp.ClientSession, "_request", None))
"""``ClientSession.request`` only wraps ``_request``'s coroutine in a context manager, which the
buffered path (it releases the response itself) does not need: awaiting ``_request`` spares a wrapper
and a frame on every resume (about 5% of the CPU of a small call with 8 in flight)."""

_SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept-Encoding", "Accept", "Content-Type"})


class _AiohttpResponseStream(httpx.AsyncByteStream):
    """The body of an aiohttp response, read as httpx iterates it."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _map_exception(exc, self._request) from exc

    async def aclose(self) -> None:
        # release() returns a fully read connection to the pool and closes a half-read one.
        self._response.release()


def _map_exception(exc: BaseException, request: httpx.Request) -> Exception:
    """The httpx exception equivalent to an aiohttp (or asyncio) one."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        # A reset while sending or reading: the request may have reached the server.
        return httpx.ReadError(message, request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.TransportError(message, request=request)
    return exc if isinstance(exc, Exception) else RuntimeError(message)


async def _stream_body(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk


_EXTENSIONS: dict[tuple[Any, str | None], dict[str, Any]] = {}


def _extensions(response: aiohttp.ClientResponse) -> dict[str, Any]:
    key = (response.version, response.reason)
    extensions = _EXTENSIONS.get(key)
    if extensions is None:
        version = response.version
        extensions = {
            "http_version": b"HTTP/1.1" if version is None else f"HTTP/{version.major}.{version.minor}".encode(),
            "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
        }
        if len(_EXTENSIONS) < 256:  # a handful of (version, reason) pairs exist in practice
            _EXTENSIONS[key] = extensions
    return dict(extensions)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that sends requests through a pooled aiohttp ``ClientSession``.

    Timeouts come from the request's ``timeout`` extension: ``connect`` bounds opening a connection,
    ``read`` each wait for response data, and ``total`` (a key httpx's own transports ignore) the
    whole exchange. Waiting for a free pooled connection is bounded by ``total`` (or by ``pool`` when
    there is no total).

    Args:
        max_connections: the pool size (open connections in total).
        max_connections_per_host: the pool size per host (0 means no per-host limit).
        keepalive_expiry: seconds an idle connection stays in the pool.
        verify: verify TLS certificates (``False`` only for local test servers).
        session: an existing session to use; the transport then does not close it.

    The session is created on first use, inside the running event loop.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_connections_per_host: int = 0,
        keepalive_expiry: float = 15.0,
        verify: bool | ssl.SSLContext = True,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._max_per_host = max_connections_per_host
        self._keepalive = keepalive_expiry
        self._verify = verify
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
        self._yarl_urls: dict[str, URL] = {}
        self._last_spec: Any = None
        self._last_timeout = aiohttp.ClientTimeout()

    accepts_auto_headers_sent = True
    """:meth:`send_buffered` takes ``auto_headers_sent``."""

    handles_total_timeout = True
    """It applies the ``total`` timeout itself, so callers need no timer of their own."""

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._max_connections})"

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_per_host,
                keepalive_timeout=self._keepalive,
                ssl=self._verify if isinstance(self._verify, ssl.SSLContext) else bool(self._verify),
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes Content-Encoding itself
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx owns cookies
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._session = session
            self._owns_session = True
        return session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        spec = request.extensions.get("timeout") or {}
        if spec is self._last_spec:  # the API client passes one spec object on every call
            return self._last_timeout
        key = (spec.get("connect"), spec.get("read"), spec.get("pool"), spec.get("total"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool, total = key
            # aiohttp's ``connect`` (pool wait plus connect) would arm a timer on every call, pooled
            # connection or not; ``sock_connect`` only runs when a connection is opened. The pool wait is
            # bounded by ``total`` when one is set, else by ``pool`` through ``connect``.
            pool_bound = None if total is not None or pool is None else pool + (connect or 0.0)
            timeout = aiohttp.ClientTimeout(total=total, connect=pool_bound, sock_connect=connect, sock_read=read)
            self._timeouts[key] = timeout
        self._last_spec, self._last_timeout = spec, timeout
        return timeout

    async def _start(self, request: httpx.Request, wire: tuple[str, list[tuple[str, str]]] | None = None) -> aiohttp.ClientResponse:
        session, url, headers, body = self._prepare(request, wire)
        try:
            return await session.request(
                request.method,
                url,
                headers=headers,
                data=body,
                # httpx owns the headers: aiohttp adds none of its own (a session given is left as it is)
                skip_auto_headers=_SKIP_AUTO_HEADERS if self._owns_session else None,
                allow_redirects=False,
                timeout=self._timeout(request),
                compress=None,
            )
        except Exception as exc:
            raise _map_exception(exc, request) from exc

    def _prepare(
        self, request: httpx.Request, wire: tuple[str, list[tuple[str, str]]] | None
    ) -> tuple[aiohttp.ClientSession, URL, list[tuple[str, str]], Any]:
        """The session, URL, headers and body to send ``request`` with (a plain call, not a coroutine layer)."""
        if self._closed:
            # A late call (a health check racing shutdown) would otherwise open a fresh session that
            # nothing closes, left for the GC and its "Unclosed client session" finalizer.
            raise httpx.ConnectError("the transport is closed: no new connection is opened", request=request)
        session = self._session
        if session is None or not self._owns_session or session.closed:
            # an owned session is closed only by aclose, which sets _closed (checked above)
            session = self._get_session()
        if wire is None:
            url_text = str(request.url)
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        else:
            url_text, headers = wire
        try:
            body: Any = request.content
        except httpx.RequestNotRead:
            body = _stream_body(request.stream)
            # aiohttp frames a streamed body itself and refuses a Transfer-Encoding header next to it.
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        if body == b"":
            body = None
        url = self._yarl_urls.get(url_text)
        if url is None:
            url = URL(url_text, encoded=True)
            if len(self._yarl_urls) >= 512:
                self._yarl_urls.clear()
            self._yarl_urls[url_text] = url
        return session, url, headers, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response with its body still to be read.

        Besides httpx's ``connect``/``read``/``pool`` timeouts, a ``total`` key in the request's
        ``timeout`` extension bounds the whole exchange, body included.
        """
        response = await self._start(request)
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_AiohttpResponseStream(response, request),
            extensions=_extensions(response),
        )

    async def send_buffered(
        self,
        request: httpx.Request,
        wire: tuple[str, list[tuple[str, str]]] | None = None,
        *,
        auto_headers_sent: bool = False,
    ) -> httpx.Response:
        """Send ``request`` and return the response with its body read (and decoded), connection released.

        The API client's path for ordinary calls: one body read inside aiohttp instead of httpx's
        async iterator chain, which halves the client-side cost of a small call. ``wire`` is the
        request's URL and headers as text, when the caller has them (it must match the request).
        ``auto_headers_sent``: the request carries ``User-Agent``, ``Accept`` and ``Accept-Encoding``
        (the API client's always do), so aiohttp, which adds only those it does not find, need not be
        told which of its own to skip when there is no body (a per-call set it builds otherwise).
        """
        # _start inlined: one coroutine layer fewer to pass through on every resume of the call
        session, url, headers, data = self._prepare(request, wire)
        try:
            response = await (session._request if _DIRECT_REQUEST else session.request)(
                request.method,
                url,
                headers=headers,
                data=data,
                skip_auto_headers=None
                if not self._owns_session or (auto_headers_sent and data is None)
                else _SKIP_AUTO_HEADERS,
                allow_redirects=False,
                # the API client passes one timeout spec object on every call
                timeout=self._last_timeout
                if request.extensions.get("timeout") is self._last_spec
                else self._timeout(request),
                compress=None,
            )
        except Exception as exc:
            raise _map_exception(exc, request) from exc
        try:
            body = await response.read()
        except Exception as exc:
            raise _map_exception(exc, request) from exc
        finally:
            response.release()
        raw_headers = response.raw_headers
        if ASSEMBLY_OK and "Content-Encoding" not in response.headers:  # aiohttp's parsed, case-insensitive view
            return assemble_response(response.status, raw_headers, body, _extensions(response), request)
        result = httpx.Response(
            status_code=response.status,
            headers=raw_headers,
            stream=httpx.ByteStream(body),
            extensions=_extensions(response),
            request=request,
        )
        result.read()  # decodes Content-Encoding
        return result

    async def aclose(self) -> None:
        """Close the session (and its pooled connections) when the transport created it; later calls fail."""
        self._closed = True
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()
