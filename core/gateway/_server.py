"""The gateway: the ``/v1`` API, the login page, and the monitor's pages behind the same login.

One ASGI application, served by uvicorn:

- ``/v1/...``: the REST and WebSocket API (:func:`portico.gateway._api.build_app`);
- ``/login``: a form for people, opening the same 8-hour session as ``POST /v1/auth/login``;
- ``/dashboard...``: the monitor's dashboard, reached only with a gateway session (or an API token)
  that may read systems; the gateway then presents the monitor's own token to it, which no one else
  is shown;
- everything else (``/health``, ``/metrics``): the monitor's app as it is.

It refuses to bind beyond loopback unless TLS is configured and users exist, and CORS is closed unless
``gateway.cors_origins`` names origins.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import socket
import uuid
from collections.abc import Generator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

import uvicorn
from pydantic import BaseModel
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portico.errors import ConfigurationError, PorticoError
from portico.gateway._api import SESSION_COOKIE, build_app
from portico.gateway._config import GatewayConfig
from portico.gateway._events import EventLog
from portico.gateway._idempotency import IdempotencyStore
from portico.gateway._models import JobRun, OrderOut
from portico.gateway._problems import Problem
from portico.gateway._security import Principal, SecurityStore
from portico.gateway._webhooks import WebhookVerifier
from portico.monitor import get_logger

__all__ = ["Gateway", "is_loopback"]

_log = get_logger("portico.gateway")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (a name other than ``localhost`` counts as beyond)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _QuietServer(uvicorn.Server):
    # The runtime owns signal handling; uvicorn must not take SIGINT/SIGTERM from it.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _StreamChannel:
    """An alert channel that puts every alert notification on the gateway's event stream."""

    type: ClassVar[str] = "gateway"

    def __init__(self, events: EventLog) -> None:
        self.name = "gateway-stream"
        self.events = events

    async def send(self, notification: Any) -> None:
        alert = notification.alert
        self.events.append(
            "alerts",
            alert.system,
            {
                "kind": notification.kind,
                "rule": alert.rule,
                "severity": alert.severity,
                "summary": alert.summary,
                "subject": alert.subject,
                "started_at": alert.started_at.isoformat(),
                "resolved_at": None if alert.resolved_at is None else alert.resolved_at.isoformat(),
            },
        )


class Gateway:
    """portico as a service over HTTP.

    Args:
        integration: the running :class:`~portico.runtime.AsyncIntegration`.
        config: the gateway settings; default the configuration's ``gateway`` section.
        monitor_server: the monitor's :class:`~portico.monitor.RuntimeServer` (not started): its pages
            are served behind the gateway's login.
        host: the interface to serve on (checked against TLS and users at :meth:`start`).
        port: the TCP port; 0 picks a free one.
        allowed_hosts: ``Host`` names answered besides loopback and ``host`` (DNS rebinding defence).
    """

    def __init__(
        self,
        integration: Any,
        config: GatewayConfig | None = None,
        *,
        monitor_server: Any = None,
        host: str = "127.0.0.1",
        port: int = 8787,
        allowed_hosts: list[str] | None = None,
    ) -> None:
        self.integration = integration
        if config is None:
            config = GatewayConfig.model_validate(getattr(integration.config, "gateway", None) or {})
        self.config = config
        self.host = host
        self.port = port
        db, clock = integration.db, integration.clock
        self.security = SecurityStore(config, db, clock)
        self.events = EventLog(db, clock)
        self.idempotency = IdempotencyStore(db, clock)
        self.webhooks = WebhookVerifier(config.webhooks, db, clock)
        self.job_runs: dict[str, JobRun] = {}
        self._job_tasks: set[asyncio.Task[None]] = set()
        self.monitor_server = monitor_server
        self.tls = bool(config.tls_certfile and config.tls_keyfile)
        for secret in [u.password_hash for u in config.users.values()] + [
            w.secret for w in config.webhooks.values()
        ]:
            self.monitor_redactor_add(secret.get_secret_value())
        self.api = build_app(self)
        api: ASGIApp = self.api
        if config.cors_origins:
            api = CORSMiddleware(
                api,
                allow_origins=list(config.cors_origins),
                allow_credentials=True,
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-CSRF-Token"],
            )
        bound = [] if host in {"0.0.0.0", "::", ""} else [host]
        self.allowed_hosts = list(dict.fromkeys([*_LOOPBACK_NAMES, *bound, *(allowed_hosts or [])]))
        self._api_app: ASGIApp = TrustedHostMiddleware(api, allowed_hosts=self.allowed_hosts)
        self._unsubscribe: Any = None
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Gateway({self.url!r}, users={len(self.config.users)})"

    # -- wiring ------------------------------------------------------------------------------------

    def monitor_redactor_add(self, secret: str) -> None:
        """Mask ``secret`` in every log line and error from now on."""
        with contextlib.suppress(Exception):
            self.integration.monitor.redactor.add_secret(secret)

    def attach(self) -> None:
        """Put order events and alerts on the event stream (call once the runtime has started)."""
        if self._unsubscribe is not None:
            return

        def on_update(update: Any) -> None:
            record = update.record
            self.events.append(
                "orders",
                record.system,
                {
                    "event": update.event,
                    "source": update.source,
                    "previous_status": None
                    if update.previous_status is None
                    else str(update.previous_status.value),
                    "order": OrderOut.of(record).model_dump(mode="json"),
                },
            )

        self._unsubscribe = self.integration.trading.on_order_event(on_update)
        with contextlib.suppress(Exception):
            self.integration.monitor.add_channel(_StreamChannel(self.events))

    def detach(self) -> None:
        """Stop putting runtime events on the stream."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def same_origins(self) -> set[str]:
        """Origins a browser's WebSocket may come from with the session cookie."""
        scheme = "https" if self.tls else "http"
        return {f"{scheme}://{h}:{self.port}" for h in self.allowed_hosts} | set(self.config.cors_origins)

    async def subscribe_market_data(self, system: str, symbols: list[str], data_type: str) -> str:
        """Subscribe to live market data; every update goes on the stream (topic ``market_data``)."""

        def deliver(item: Any) -> None:
            data = item.model_dump(mode="json") if isinstance(item, BaseModel) else {"value": str(item)}
            self.events.append("market_data", system, data)

        sub_id: str = await self.integration.subscribe_market_data(system, symbols, data_type, deliver)
        return sub_id

    def start_job_run(self, job_id: str, p: Principal) -> JobRun:
        """Run a job in the background; its status is kept under the returned ticket."""
        ticket = uuid.uuid4().hex
        run = JobRun(
            ticket=ticket, job_id=job_id, status="running", status_url=f"/v1/jobs/{job_id}/runs/{ticket}"
        )
        self.job_runs[ticket] = run

        async def go() -> None:
            try:
                result = await self.integration.run_job_now(job_id)
            except PorticoError as exc:
                self.job_runs[ticket] = run.model_copy(update={"status": "failed", "error": exc.message})
                self.integration.audit.append(
                    None, p.actor, "gateway.jobs.run", "failed", detail={"job": job_id}
                )
                return
            except Exception as exc:
                _log.error("gateway.job_failed", job=job_id, error=type(exc).__name__)
                self.job_runs[ticket] = run.model_copy(
                    update={"status": "failed", "error": type(exc).__name__}
                )
                return
            import json

            safe = (
                json.loads(json.dumps(result, default=str))
                if isinstance(result, dict)
                else {"result": str(result)}
            )
            failed = str(safe.get("status", "")).lower() in {"failed", "error"}
            update: dict[str, Any] = {"status": "failed" if failed else "succeeded", "result": safe}
            if failed:
                update["error"] = str(safe.get("error") or "the job failed")
            self.job_runs[ticket] = run.model_copy(update=update)
            outcome = "failed" if failed else "success"
            self.integration.audit.append(None, p.actor, "gateway.jobs.run", outcome, detail={"job": job_id})

        task = asyncio.get_running_loop().create_task(go(), name=f"portico-gateway-job-{job_id}")
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)
        return run

    async def handle_webhook(self, system: str, delivery: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Act on a verified delivery: an ``order_update`` refreshes the order from the venue (the pushed
        body is a hint, the venue is the truth); every delivery goes on the stream (topic ``webhooks``)."""
        outcome: dict[str, Any] = {}
        kind = payload.get("type")
        if (
            kind == "order_update"
            and isinstance(payload.get("order_id"), str)
            and system in self.integration.systems
        ):
            trading = self.integration.trading
            try:
                record = trading.get_order(payload["order_id"], system_id=system)
            except PorticoError:
                outcome["order"] = None
            else:
                record = await trading.refresh(system, record.id)
                outcome["order"] = {"id": record.id, "status": record.status.value}
        self.events.append(
            "webhooks",
            system,
            {"delivery": delivery, "type": kind if isinstance(kind, str) else None, **outcome},
        )
        return outcome

    async def login(self, username: str, password: str, client: str) -> tuple[str, float, str]:
        """Check a login (rate limited); returns the session id, its expiry and its CSRF token.

        Raises:
            Problem: 429 when too many attempts failed, 401 when the name or password is wrong.
        """
        audit = self.integration.audit
        keys = (f"user:{username}", f"addr:{client}")
        wait = self.security.limiter.retry_after(*keys)
        if wait is not None:
            audit.append(None, f"user:{username}", "gateway.login", "rate_limited", detail={"client": client})
            raise Problem(
                429,
                "Too many login attempts",
                "try again later",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        ok = await asyncio.to_thread(self.security.check_password, username, password)
        if not ok:
            self.security.limiter.failed(*keys)
            audit.append(None, f"user:{username}", "gateway.login", "failure", detail={"client": client})
            raise Problem(401, "Unauthorized", "wrong user name or password")
        self.security.limiter.succeeded(keys[0])
        # the session id is never logged (no access log; errors never carry it), so it is not added to the
        # redactor: one secret per login would grow its list without bound in a long-running process
        session_id, expires = self.security.open_session(username)
        audit.append(None, f"user:{username}", "gateway.login", "success", detail={"client": client})
        found = self.security.session_principal(session_id)
        return session_id, expires, (found.csrf or "") if found else ""

    def set_session_cookie(self, response: Response, session_id: str, expires: float) -> None:
        """Put the session on ``response`` (HttpOnly, SameSite=Strict, Secure under TLS)."""
        max_age = max(1, int(expires - self.security.clock.now().timestamp()))
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            httponly=True,
            samesite="strict",
            secure=self.tls,
            path="/",
            max_age=max_age,
        )

    # -- the outer application ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        path: str = scope.get("path", "")
        if path == "/v1" or path.startswith("/v1/"):
            await self._api_app(scope, receive, send)
        elif path == "/login" and scope["type"] == "http":
            await TrustedHostMiddleware(self._login_page, allowed_hosts=self.allowed_hosts)(
                scope, receive, send
            )
        elif self.monitor_server is not None and (path == "/" or path.startswith("/dashboard")):
            await self._dashboard(scope, receive, send)
        elif self.monitor_server is not None:
            await self.monitor_server.app(scope, receive, send)
        else:
            await JSONResponse({"title": "Not found", "status": 404}, status_code=404)(scope, receive, send)

    def _dashboard_principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        found: Principal | None = None
        if header.lower().startswith("bearer "):
            found = self.security.token_principal(header[7:].strip())
        elif request.cookies.get(SESSION_COOKIE):
            found = self.security.session_principal(request.cookies[SESSION_COOKIE])
        return found if found is not None and found.can_any("systems", "read") else None

    async def _dashboard(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope)
        if request.url.path.startswith("/dashboard/static/"):
            await self.monitor_server.app(scope, receive, send)
            return
        if self._dashboard_principal(request) is None:
            if "text/html" in request.headers.get("accept", "") and request.method == "GET":
                response: Response = RedirectResponse("/login", status_code=303, headers=_PAGE_HEADERS)
            else:
                response = JSONResponse(
                    {"title": "Unauthorized", "status": 401},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            await response(scope, receive, send)
            return
        # the monitor sees its own token, never the caller's credentials, and never a ?token= guess
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"authorization", b"cookie")]
        headers.append((b"authorization", f"Bearer {self.monitor_server.token}".encode()))
        pairs = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
        query = urlencode([(k, v) for k, v in pairs if k != "token"])
        inner = dict(scope, headers=headers, query_string=query.encode())
        await self.monitor_server.app(inner, receive, send)

    async def _login_page(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response: Response
        if request.method == "POST":
            form = await request.form()
            username, password = str(form.get("username", ""))[:128], str(form.get("password", ""))[:1024]
            try:
                session_id, expires, _csrf = await self.login(
                    username, password, request.client.host if request.client else "?"
                )
            except Problem as exc:
                response = HTMLResponse(
                    _login_html(exc.detail or exc.title),
                    status_code=exc.status,
                    headers={**_PAGE_HEADERS, **exc.headers},
                )
            else:
                response = RedirectResponse("/dashboard", status_code=303, headers=_PAGE_HEADERS)
                self.set_session_cookie(response, session_id, expires)
        elif request.method == "GET":
            response = HTMLResponse(_login_html(None), headers=_PAGE_HEADERS)
        else:
            response = HTMLResponse("method not allowed", status_code=405, headers=_PAGE_HEADERS)
        await response(scope, receive, send)

    # -- serving -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL (after :meth:`start` when the port was 0)."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def check_exposure(self) -> None:
        """Refuse a bind beyond loopback without TLS and users.

        Raises:
            ConfigurationError: the bind is public and TLS or users are missing.
        """
        if is_loopback(self.host):
            return
        missing = [
            what
            for what, ok in (
                ("TLS (gateway.tls_certfile and tls_keyfile)", self.tls),
                ("users (gateway.users)", bool(self.config.users)),
            )
            if not ok
        ]
        if missing:
            raise ConfigurationError(
                f"refusing to serve the gateway on {self.host}, beyond this machine, without {' and '.join(missing)}; "
                "bind 127.0.0.1 or configure them",
                path="gateway",
            )

    async def start(self, sock: socket.socket | None = None) -> None:
        """Serve in the background; returns once the socket accepts connections.

        Raises:
            ConfigurationError: a public bind without TLS and users (see :meth:`check_exposure`).
        """
        self.check_exposure()
        self.attach()
        options: dict[str, Any] = {}
        if self.tls:
            options = {"ssl_certfile": self.config.tls_certfile, "ssl_keyfile": self.config.tls_keyfile}
        config = uvicorn.Config(
            self,
            host=self.host,
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            **options,
        )
        self._server = _QuietServer(config)
        serving = self._server.serve(sockets=[sock] if sock is not None else None)
        self._task = asyncio.get_running_loop().create_task(serving, name="portico-gateway")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the gateway stopped before starting")
            await asyncio.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving and stop putting events on the stream."""
        self.detach()
        for task in list(self._job_tasks):
            task.cancel()
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def _login_html(error: str | None) -> str:
    message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>portico: sign in</title>"
        f"<h1>portico</h1>{message}"
        '<form method="post" action="/login">'
        '<label>User <input name="username" autocomplete="username" required maxlength="128"></label> '
        '<label>Password <input name="password" type="password" autocomplete="current-password" required></label> '
        "<button>Sign in</button></form></html>"
    )
