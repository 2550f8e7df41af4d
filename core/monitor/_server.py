"""The runtime's HTTP server: ``/metrics`` (Prometheus), ``/health`` (JSON) and ``/dashboard``.

``/health`` answers 200 while the overall status is healthy or degraded and 503 when it is down, or
unknown because a system was never checked yet (readiness);
``/health/live`` answers 200 as long as the process serves requests (liveness).

Starlette served by uvicorn on 127.0.0.1 by default. The dashboard needs a token (configured, or
generated at start and printed once by ``portico run``): sent as ``Authorization: Bearer``, or once as
``?token=`` which sets an HttpOnly, SameSite=Strict cookie and redirects to the URL without it, so the
token does not stay in the address bar or the history. Every value on the page is escaped (Jinja2
autoescape on the server, ``textContent`` in the browser) and a strict Content-Security-Policy forbids
inline script.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import ipaddress
import json
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from importlib import resources
from typing import Any

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from portico.contributions import PANEL_CELL_KINDS, DashboardPanel, resolve_ref
from portico.monitor._logging import get_logger
from portico.monitor._monitor import IntegrationMonitor
from portico.monitor._probe import runtime_probe
from portico.plugins import PluginManager

__all__ = ["Provider", "RuntimeServer"]

Provider = Callable[[], Iterable[Mapping[str, Any]] | Awaitable[Iterable[Mapping[str, Any]]]]
"""Returns rows for the dashboard (recent job runs, dead-letter items); sync or async."""

_COOKIE = "portico_dashboard"
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_TREND_METRICS = ("p95_ms", "error_rate", "requests")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it resolves who knows where, so it is treated as reachable from outside


class _QuietServer(uvicorn.Server):
    # The runtime owns signal handling; uvicorn must not take SIGINT/SIGTERM from it.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _template_text(name: str) -> str:
    return (resources.files("portico.monitor") / "templates" / name).read_text(encoding="utf-8")


class RuntimeServer:
    """Serves the monitor over HTTP.

    Args:
        monitor: the runtime's monitor.
        runtime_like: the runtime (or anything) offering ``systems`` (system ids listed on the dashboard
            before their first call), ``plugins`` (whose ``portico_dashboard_panels`` make the panels;
            default the built-in services') and what those panels read (its running services); may
            be None.
        host: interface to bind; 127.0.0.1 unless you put a proxy with TLS in front.
        port: TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
        token: the dashboard token; generated when None (read it from :attr:`token`).
        providers: rows for panels by panel key, in place of the panel's own ``read`` (a test's rows,
            an application's own list); a key no panel has is ignored.
        jobs_provider: shorthand for ``providers={"jobs": ...}`` (the recent-runs panel).
        dead_letter_provider: shorthand for ``providers={"dead_letters": ...}`` (the dead-letter panel).
        protect_metrics: require the token on ``/metrics`` too.
        refresh_seconds: how often the server looks for new state to push to open pages (server-sent events).
        allowed_hosts: names the server answers to besides ``localhost``, ``127.0.0.1``, ``::1`` and the
            bound host; a request with any other ``Host`` header is refused (400), so a page whose
            name was rebound to this machine (DNS rebinding) cannot read it.
    """

    def __init__(
        self,
        monitor: IntegrationMonitor,
        runtime_like: Any = None,
        host: str = "127.0.0.1",
        port: int = 8787,
        token: str | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        jobs_provider: Provider | None = None,
        dead_letter_provider: Provider | None = None,
        protect_metrics: bool = False,
        refresh_seconds: float = 2.0,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.monitor = monitor
        self.runtime = runtime_like
        self.host = host
        self.port = port
        self.generated_token = token is None
        self.token = token or secrets.token_urlsafe(24)
        monitor.redactor.add_secret(self.token)
        self._session = hmac.new(
            self.token.encode(), b"portico-dashboard-session", hashlib.sha256
        ).hexdigest()
        monitor.redactor.add_secret(self._session)
        self.providers: dict[str, Provider] = dict(providers or {})
        if jobs_provider is not None:
            self.providers["jobs"] = jobs_provider
        if dead_letter_provider is not None:
            self.providers["dead_letters"] = dead_letter_provider
        self.panels = _panels(runtime_like)
        self.protect_metrics = protect_metrics
        self.refresh_seconds = refresh_seconds
        self._jinja = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        self._jinja.filters["when"] = _when
        self._jinja.filters["panel_column"] = _plain_column
        self._jinja.filters["css_token"] = _css_token
        self._page = self._jinja.from_string(_template_text("dashboard.html"))
        self._static = {
            "app.js": (_template_text("dashboard.js"), "text/javascript; charset=utf-8"),
            "app.css": (_template_text("dashboard.css"), "text/css; charset=utf-8"),
        }
        bound = [] if host in _WILDCARDS else [host]
        self.allowed_hosts: list[str] = list(dict.fromkeys([*_LOOPBACK_NAMES, *bound, *allowed_hosts]))
        self.app = Starlette(
            middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=self.allowed_hosts)],
            routes=[
                Route("/health", self._health),
                Route("/health/live", self._live),
                Route("/metrics", self._metrics),
                Route("/dashboard", self._dashboard),
                Route("/dashboard/state", self._state),
                Route("/dashboard/events", self._events),
                Route("/dashboard/static/{name}", self._static_file),
                Route("/", self._root),
            ]
        )
        if getattr(runtime_like, "systems", None) is not None:
            monitor.add_probe(runtime_probe(runtime_like))
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"RuntimeServer({self.url!r})"

    @property
    def jobs_provider(self) -> Provider | None:
        """The provider of the ``jobs`` panel's rows (``providers["jobs"]``), or None."""
        return self.providers.get("jobs")

    @jobs_provider.setter
    def jobs_provider(self, provider: Provider | None) -> None:
        self._set_provider("jobs", provider)

    @property
    def dead_letter_provider(self) -> Provider | None:
        """The provider of the ``dead_letters`` panel's rows (``providers["dead_letters"]``), or None."""
        return self.providers.get("dead_letters")

    @dead_letter_provider.setter
    def dead_letter_provider(self, provider: Provider | None) -> None:
        self._set_provider("dead_letters", provider)

    def _set_provider(self, key: str, provider: Provider | None) -> None:
        if provider is None:
            self.providers.pop(key, None)
        else:
            self.providers[key] = provider

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL (after :meth:`start` when the port was 0)."""
        return f"http://{self.host}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        """The dashboard URL carrying the token, to open once (print it, never log it)."""
        return f"{self.url}/dashboard?token={self.token}"

    def exposure_warning(self) -> str | None:
        """One line saying what a bind beyond loopback exposes, or None when the bind is loopback only."""
        if _is_loopback(self.host):
            return None
        metrics = "needs the token" if self.protect_metrics else "is open (set monitoring.http.protect_metrics)"
        return (
            f"warning: the HTTP server binds {self.host}, beyond this machine: it speaks plain HTTP (the "
            f"dashboard token crosses the network in clear; put a TLS proxy in front), /health is open and "
            f"/metrics {metrics}; only Host headers in {', '.join(self.allowed_hosts)} are answered, "
            "add this machine's public names to monitoring.http.allowed_hosts"
        )

    async def start(self, sock: socket.socket | None = None) -> None:
        """Bind and serve in the background; returns once the socket accepts connections.

        A bind beyond loopback is logged as a warning (see :meth:`exposure_warning`).

        Args:
            sock: a socket already bound and listening (``portico run`` binds before it connects
                anything, so a port in use fails first); default: bind ``host:port`` here.
        """
        warning = self.exposure_warning()
        if warning is not None:
            get_logger("portico.monitor").warning("http.exposed", host=self.host, detail=warning)
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = _QuietServer(config)
        serving = self._server.serve(sockets=[sock] if sock is not None else None)
        self._task = asyncio.get_running_loop().create_task(serving, name="portico-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise RuntimeError("HTTP server stopped before starting")
            await asyncio.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving (open connections are closed)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> RuntimeServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- auth ------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and hmac.compare_digest(
            header[7:].strip().encode(), self.token.encode()
        ):
            return True
        cookie = request.cookies.get(_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self._session.encode())

    def _unauthorized(self, request: Request) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            body = (
                "<!doctype html><title>portico: token required</title>"
                "<h1>Token required</h1><p>Open the dashboard with the token printed by <code>portico run</code>: "
                "<code>/dashboard?token=...</code></p>"
            )
            return HTMLResponse(body, status_code=401, headers=_SECURITY_HEADERS)
        return JSONResponse({"error": "token required"}, status_code=401, headers=_SECURITY_HEADERS)

    # -- routes ----------------------------------------------------------------------------------

    async def _root(self, _request: Request) -> Response:
        return RedirectResponse("/dashboard", status_code=303)

    async def _live(self, _request: Request) -> Response:
        # Liveness: the process serves requests, whatever the systems it connects to are doing.
        return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})

    async def _health(self, _request: Request) -> Response:
        snapshot = self.monitor.snapshot()
        body = {
            "status": snapshot["status"],
            "generated_at": snapshot["generated_at"],
            "systems": {
                s["system"]: {
                    "status": s["status"],
                    "reason": s["reason"],
                    "checked_at": s["checked_at"],
                    "last_success": s["last_success"],
                    "last_failure": s["last_failure"],
                    "breaker": s["breaker"],
                }
                for s in snapshot["systems"]
            },
            "active_alerts": len(snapshot["alerts"]),
        }
        return JSONResponse(
            # not ready while a system is down or was never checked: an unverified runtime is not healthy
            body,
            status_code=503 if body["status"] in {"down", "unknown"} else 200,
            headers={"Cache-Control": "no-store"},
        )

    async def _metrics(self, request: Request) -> Response:
        if self.protect_metrics and not self._authorized(request):
            return PlainTextResponse("token required\n", status_code=401)
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(self.monitor.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def _dashboard(self, request: Request) -> Response:
        query_token = request.query_params.get("token")
        if query_token is not None:
            if not hmac.compare_digest(query_token.encode(), self.token.encode()):
                return self._unauthorized(request)
            response = RedirectResponse("/dashboard", status_code=303, headers=_SECURITY_HEADERS)
            response.set_cookie(_COOKIE, self._session, httponly=True, samesite="strict", path="/")
            return response
        if not self._authorized(request):
            return self._unauthorized(request)
        state = await self.state()
        html = self._page.render(state=state, refresh_ms=int(self.refresh_seconds * 1000))
        return HTMLResponse(html, headers=_SECURITY_HEADERS)

    async def _state(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized(request)
        return JSONResponse(await self.state(), headers=_SECURITY_HEADERS)

    async def _events(self, request: Request) -> Response:
        """The state as server-sent events: one at once, then one whenever it changes (checked every
        ``refresh_seconds``), and a comment every 15 s so proxies keep the stream open."""
        if not self._authorized(request):
            return self._unauthorized(request)
        interval = max(self.refresh_seconds, 0.05)

        async def stream() -> Any:
            last, quiet = "", 0.0
            yield f"retry: {int(interval * 1000) + 1000}\n\n"
            while not await request.is_disconnected():
                body = json.dumps(await self.state(), separators=(",", ":"), default=str)
                if body != last:
                    last, quiet = body, 0.0
                    yield f"event: state\ndata: {body}\n\n"
                elif quiet >= 15:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(interval)
                quiet += interval

        headers = {**_SECURITY_HEADERS, "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def _static_file(self, request: Request) -> Response:
        entry = self._static.get(request.path_params["name"])
        if entry is None:
            return PlainTextResponse("not found", status_code=404)
        text, media_type = entry
        return Response(text, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})

    # -- state -----------------------------------------------------------------------------------

    async def state(self) -> dict[str, Any]:
        """Everything the dashboard shows, redacted: systems, alerts, trend series, and every panel.

        The panels (the schedule, recent jobs, dead letters, orders, positions...) are what plugins
        contribute through ``portico_dashboard_panels``; each goes under its key.
        """
        snapshot = self.monitor.snapshot()
        series = await asyncio.to_thread(self._series, [s["system"] for s in snapshot["systems"]])
        state: dict[str, Any] = {**snapshot}
        for panel in self.panels:
            provider = self.providers.get(panel.key)
            rows = await (self._rows(provider) if provider is not None else self._panel_rows(panel))
            shape = resolve_ref(panel.shape) if panel.shape is not None else None
            try:
                shaped = shape(rows, state) if shape is not None else [dict(r) for r in rows]
            except Exception as exc:  # a broken panel must not take the dashboard down
                shaped = [{"error": f"{panel.key} failed: {type(exc).__name__}: {exc}"}]
            state[panel.key] = shaped[: panel.limit]
        state.update(
            panels=[p.layout() for p in self.panels],
            series=series,
            deliveries=[
                {"at": None, "alert": None, "kind": None, "channel": None, "result": None, "error": None, **d}
                for d in self.monitor.recent_notifications(12)
            ],
            refresh_ms=int(self.refresh_seconds * 1000),
        )
        return self.monitor.redactor.redact(state)  # type: ignore[no-any-return]

    def _series(self, systems: list[str]) -> dict[str, dict[str, list[list[Any]]]]:
        out: dict[str, dict[str, list[list[Any]]]] = {}
        for system in systems:
            out[system] = {
                metric: [[t.isoformat(), v] for t, v in self.monitor.series(system, metric, limit=120)]
                for metric in _TREND_METRICS
            }
        return out

    async def _panel_rows(self, panel: DashboardPanel) -> list[Mapping[str, Any]]:
        """A panel's rows, read in a worker thread; a read that fails shows as one error row."""
        try:
            result = await asyncio.to_thread(resolve_ref(panel.read), self.runtime)
            if inspect.isawaitable(result):
                result = await result
            return [_as_mapping(r) for r in (result or [])]
        except Exception as exc:  # one failing read must not blank the others, nor the dashboard
            return [{"error": f"{panel.key} failed: {type(exc).__name__}: {exc}"}]

    async def _rows(self, provider: Provider | None) -> list[Mapping[str, Any]]:
        if provider is None:
            return []
        try:
            result = provider()
            if inspect.isawaitable(result):
                result = await result
            return [_as_mapping(r) for r in (result or [])]
        except Exception as exc:  # a broken provider must not take the dashboard down
            return [{"error": f"provider failed: {type(exc).__name__}: {exc}"}]


def _as_mapping(row: Any) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    dump = getattr(row, "model_dump", None)
    if callable(dump):
        return dump(mode="json")  # type: ignore[no-any-return]
    if hasattr(row, "__dict__"):
        return {k: v for k, v in vars(row).items() if not k.startswith("_")}
    return {"value": str(row)}


def _when(value: Any) -> str:
    """A timestamp as the page first shows it (UTC, to the second); the browser rewrites it in local time."""
    from datetime import UTC, datetime

    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plain_column(key: Any) -> dict[str, str]:
    """The column of a panel without a layout: a row key, its title the key in words."""
    return {"field": str(key), "title": str(key).replace("_", " "), "kind": "text", "css": ""}


def _css_token(value: Any) -> str:
    """A value usable in a class name (what the page's script does too): other characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(value if value not in (None, "") else "unknown"))


def _layout_problem(panel: DashboardPanel) -> str | None:
    kinds = [c.kind for c in panel.columns if c.kind not in PANEL_CELL_KINDS]
    if kinds:
        return f"column kind {kinds[0]!r} is not one of {', '.join(sorted(PANEL_CELL_KINDS))}"
    return None


def _panels(runtime: Any) -> list[DashboardPanel]:
    """The panels plugins contribute (the runtime's plugins, else the built-ins), in their order."""
    plugins = getattr(runtime, "plugins", None)
    if not isinstance(plugins, PluginManager):
        plugins = PluginManager(autoload=False)
    by_key: dict[str, DashboardPanel] = {}
    for panel in plugins.contributions("portico_dashboard_panels"):
        problem = _layout_problem(panel) if isinstance(panel, DashboardPanel) else "not a DashboardPanel"
        if problem is None:
            by_key[panel.key] = panel  # a later plugin's panel replaces an earlier one of the same key
        else:
            get_logger("portico.monitor").warning(
                "dashboard_panel.invalid", panel=repr(panel), reason=problem
            )
    return sorted(by_key.values(), key=lambda p: (p.order, p.key))
