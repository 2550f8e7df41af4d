"""Serving a mock over real TCP (uvicorn in a background thread), and finding a mock by name."""

from __future__ import annotations

import asyncio
import importlib
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import uvicorn

from portico.errors import ConfigurationError
from portico.mocks._descriptor import MockServer
from portico.sdk import MockSpec

__all__ = ["MockServer", "RunningMock", "build_mock_app", "mock_transport", "mock_urls", "resolve_mock", "start_mock"]

ASGIApp = Callable[..., Any]


def _import(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ConfigurationError(f"mock app {path!r} must be 'module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"mock app {path!r} cannot be imported: {exc}") from None
    try:
        factory: Callable[..., Any] = getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(f"mock app {path!r}: module {module_name!r} has no {attr!r}") from None
    return factory


def resolve_mock(target: str | MockSpec | MockServer | Any) -> tuple[Callable[..., Any] | Any, dict[str, str], str]:
    """Find a mock: by installed plugin name (``alpaca``), ``module:callable`` path, spec, server
    description, factory or ASGI app. Returns (factory or app, url keys, name)."""
    if isinstance(target, str) and ":" not in target:
        from portico.plugins import PluginManager

        mocks = PluginManager().mocks
        if target not in mocks:
            installed = ", ".join(sorted(mocks)) or "none"
            raise ConfigurationError(f"no mock named {target!r}; installed mocks: {installed}")
        found = mocks[target]
        factory, keys, _ = resolve_mock(found)
        return factory, keys, target
    if isinstance(target, str):
        return _import(target), {"base": ""}, target.partition(":")[0].rsplit(".", 1)[-1]
    if isinstance(target, MockSpec):
        return _import(target.app), dict(target.url_keys or {"base": ""}), target.app.partition(":")[0].rsplit(".", 1)[-1]
    if isinstance(target, MockServer):
        factory = _import(target.app) if isinstance(target.app, str) else target.app
        return factory, dict(target.url_keys), target.name
    declared: Mapping[str, str] | None = getattr(target, "url_keys", None)
    return target, dict(declared) if declared else {"base": ""}, getattr(target, "name", "mock")


def build_mock_app(target: str | MockSpec | MockServer | Any, *, seed: int = 0, faults: Any = None, **options: Any) -> Any:
    """The ASGI app of a mock, built from a name, spec, factory or app (apps are used as they are)."""
    factory, _, _ = resolve_mock(target)
    if _is_app(factory):
        if faults is not None and hasattr(factory, "faults"):
            from portico.mocks._kit._faults import load_faults

            factory.faults = load_faults(faults, seed=seed)
        return factory
    return factory(seed=seed, faults=faults, **options)


def _is_app(obj: Any) -> bool:
    from starlette.applications import Starlette

    return isinstance(obj, Starlette) or (callable(obj) and getattr(obj, "__asgi__", False))


def mock_transport(app: Any) -> httpx.AsyncBaseTransport:
    """An httpx transport that serves requests from ``app`` in-process (no socket)."""
    return httpx.ASGITransport(app=app)


def _url(scheme: str, host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}{path}"


def mock_urls(url_keys: Mapping[str, str], host: str, port: int) -> dict[str, str]:
    """Full base URLs for ``url_keys``.

    A key's value is a path on the mock. The scheme is ``ws`` when the path is written ``ws:/path``
    or the key names a stream (``stream``, ``ws``, ``data_stream``...), ``http`` otherwise.
    """
    urls: dict[str, str] = {}
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    for key, value in url_keys.items():
        scheme = "http"
        path = value
        if value.startswith("ws:"):
            scheme, path = "ws", value[3:]
        elif value.startswith("http:"):
            path = value[5:]
        elif key in ("stream", "ws") or key.endswith(("_stream", "_ws")):
            scheme = "ws"
        urls[key] = _url(scheme, host, port, path)
    return urls


class RunningMock:
    """A mock served by uvicorn on a real socket in a background thread.

    Use it as a context manager (sync or async) or call :meth:`stop` / :meth:`stop_sync`.

    Attributes:
        app: the ASGI app (its ``venue``, ``journal``, ``faults`` and ``clock`` are there to inspect).
        name: the mock's name.
        host: the bound host.
        port: the bound port.
        urls: full base URLs keyed like the connector's ``MockSpec.url_keys``.
    """

    def __init__(self, app: Any, name: str, url_keys: Mapping[str, str], server: uvicorn.Server, thread: threading.Thread, host: str, port: int) -> None:
        self.app = app
        self.name = name
        self.host = host
        self.port = port
        self.urls = mock_urls(url_keys, host, port)
        self._server = server
        self._thread = thread

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the mock."""
        return _url("http", "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host, self.port, "")

    def url(self, key: str) -> str:
        """The URL named ``key``; a clear error naming the known keys."""
        try:
            return self.urls[key]
        except KeyError:
            raise KeyError(f"mock {self.name!r} has no URL {key!r} (it has {sorted(self.urls)})") from None

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def stop_sync(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop serving without blocking the event loop."""
        await asyncio.to_thread(self.stop_sync, timeout)

    def __enter__(self) -> RunningMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_sync()

    async def __aenter__(self) -> RunningMock:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<RunningMock {self.name} {self.base_url}>"


def start_mock(
    name_or_spec_or_app: str | MockSpec | MockServer | Any,
    *,
    seed: int = 0,
    faults: Any = None,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout: float = 15.0,
    **options: Any,
) -> RunningMock:
    """Serve a mock over TCP in a background thread; returns once it accepts connections.

    Args:
        name_or_spec_or_app: an installed mock's name (``"alpaca"``), a ``module:callable`` path, a
            :class:`~portico.sdk.MockSpec`, a :class:`MockServer`, a factory, or an ASGI app.
        seed: seed for the mock's data and faults.
        faults: fault rules: a YAML/JSON file path, rules as data, or a ``FaultPlan``.
        host: interface to bind.
        port: port to bind; 0 picks a free one.
        log_level: uvicorn's log level.
        startup_timeout: seconds to wait for the socket to be ready.
        **options: extra keyword arguments for the mock's factory.

    Raises:
        ConfigurationError: unknown mock, or the server did not start (port in use...).
    """
    factory, url_keys, name = resolve_mock(name_or_spec_or_app)
    app = build_mock_app(factory, seed=seed, faults=faults, **options)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is IPPROTO_TCP,
    # and without it every answer waits out the peer's delayed ACK (~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"mock {name!r} cannot listen on {host}:{port}: {exc.strerror}") from None
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        ws=_websocket_protocol(),
        http=_http_protocol(),
        ws_ping_interval=None,
        access_log=False,
        # nothing in a mock reads the client address X-Forwarded-For would rewrite, and the middleware
        # doing it was a layer of every request
        proxy_headers=False,
        # a client that vanished mid-close must not hold the shutdown
        timeout_graceful_shutdown=1,
    )
    # uvicorn listens for signals only from the main thread, so Ctrl-C stays with the caller
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(server.serve(sockets=[sock]))
        except BaseException as exc:
            failure.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=f"portico-mock-{name}", daemon=True)
    thread.start()
    waited = 0.0
    while not server.started:
        if not thread.is_alive():
            reason = failure[0] if failure else "the server exited"
            raise ConfigurationError(f"mock {name!r} did not start: {reason}")
        if waited >= startup_timeout:
            server.should_exit = True
            raise ConfigurationError(f"mock {name!r} did not start within {startup_timeout:g}s")
        threading.Event().wait(0.01)
        waited += 0.01
    running = RunningMock(app, name, url_keys, server, thread, host, bound_port)
    # servers a mock runs beside its HTTP app (IB's TWS socket server) list their URLs on the app
    running.urls.update(getattr(app, "extra_urls", None) or {})
    return running


class _OneWriteTransport:
    """A connection's transport that sends a response's status line and headers together with the
    first piece of its body, as one write.

    uvicorn writes the head of a response as soon as the app starts it and the body after it: two
    sends and two segments for every small answer, and a client woken twice to read one. Held heads
    go out with the next write, or at the end of the loop's current iteration when none comes (a
    streamed body, a WebSocket handshake), so nothing waits and the order of bytes stays.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif data[:5] == b"HTTP/" and data[-4:] == b"\r\n\r\n":
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def writelines(self, lines: Any) -> None:
        self._flush()
        self._transport.writelines(lines)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None  # a reset sends nothing more
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _http_protocol() -> Any:
    """uvicorn's httptools protocol on a :class:`_OneWriteTransport` ("auto" when it is not there)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class OneWriteHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]

    return OneWriteHttpToolsProtocol


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed (several times the requests per second), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _websocket_protocol() -> Any:
    """uvicorn's sans-I/O WebSocket protocol with permessage-deflate (vendors' streams compress) that
    compresses each message on its own (``server_no_context_takeover``, which RFC 7692 lets a server
    answer to any offer) and sends a message equal to the previous one from its compressed bytes.

    A stream mock repeats one frame many times a second; at uvicorn's defaults every send deflated
    30 kB again, most of a mock stream's CPU, so a benchmark on it measured the mock's compression.
    """
    try:
        module = importlib.import_module("uvicorn.protocols.websockets.websockets_sansio_impl")
    except ImportError:
        return "websockets"
    from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
    from websockets.frames import CTRL_OPCODES, Frame, Opcode
    from websockets.server import ServerProtocol

    class RepeatDeflate(PerMessageDeflate):
        _last: tuple[bytes, Any] | None = None

        def encode(self, frame: Frame) -> Frame:
            whole = frame.fin and frame.opcode is not Opcode.CONT and frame.opcode not in CTRL_OPCODES
            if not (whole and self.local_no_context_takeover):
                return super().encode(frame)
            last = self._last
            if last is not None and last[0] == frame.data:
                return Frame(frame.opcode, last[1], True, True, frame.rsv2, frame.rsv3)
            encoded = super().encode(frame)
            self._last = (bytes(frame.data), encoded.data)
            return encoded

    class RepeatDeflateFactory(ServerPerMessageDeflateFactory):
        def process_request_params(self, params: Any, accepted_extensions: Any) -> Any:
            response, made = super().process_request_params(params, accepted_extensions)
            extension = RepeatDeflate(
                made.remote_no_context_takeover,
                made.local_no_context_takeover,
                made.remote_max_window_bits,
                made.local_max_window_bits,
                made.compress_settings,
            )
            return response, extension

    base: Any = module.WebSocketsSansIOProtocol

    class MockWebSocketProtocol(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made: Any = getattr(self, "conn", None)
            if self.config.ws_per_message_deflate and isinstance(made, ServerProtocol):
                # uvicorn's own settings, plus a fresh compressor per message
                deflate = RepeatDeflateFactory(
                    server_no_context_takeover=True,
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
                self.conn = ServerProtocol(
                    extensions=[deflate], max_size=self.config.ws_max_size, logger=made.logger
                )

    return MockWebSocketProtocol
