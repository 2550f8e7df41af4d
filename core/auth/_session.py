"""Session auth for brokers whose gateway keeps a login session alive (Interactive Brokers Client Portal).

The session is checked (``POST iserver/auth/status``) before use and at most every
``check_interval`` seconds, kept alive with a periodic ``POST tickle``, and re-established with
``POST iserver/reauthenticate`` (or a credentials login with a TOTP second factor, for gateways
that take one) when the gateway reports it unauthenticated or answers 401. Re-authentication is
single-flight, and a 401 causes one re-authentication and one retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from portico.auth._base import AuthContext, option, require_credential
from portico.auth._mfa import TotpGenerator
from portico.errors import AuthError

__all__ = ["SessionAuth"]


class SessionAuth(httpx.Auth):
    """Keeps a gateway session authenticated; adds nothing to requests but the session cookie.

    Options:
        base_url: the gateway's API root (default: derived from the first request, plus ``base_path``).
        base_path: appended to the derived origin (default ``/v1/api``).
        status_path, tickle_path, reauth_path: endpoints (IB defaults).
        login_path: when set, re-authentication posts ``username``/``password`` (and a TOTP code from
            the ``totp_seed`` credential, or from the interactive hook when ``mfa: interactive``) here.
        check_interval: seconds between status checks (default 60).
        tickle_interval: keep-alive period in seconds (default 60; IB times out idle sessions after ~5 min).
        reauth_polls: status polls after re-authenticating before giving up (default 10), ``poll_delay`` apart.
        verify: TLS verification for the gateway (default true; a local IB gateway with a self-signed
            certificate needs a CA bundle path here, or ``false`` explicitly).
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.base_url: str | None = option(ctx, options, "base_url", None)
        self.base_path = str(option(ctx, options, "base_path", "/v1/api"))
        self.status_path = str(option(ctx, options, "status_path", "/iserver/auth/status"))
        self.tickle_path = str(option(ctx, options, "tickle_path", "/tickle"))
        self.reauth_path = str(option(ctx, options, "reauth_path", "/iserver/reauthenticate"))
        self.login_path: str | None = option(ctx, options, "login_path", None)
        self.check_interval = float(option(ctx, options, "check_interval", 60.0, kind=float))
        self.tickle_interval = float(option(ctx, options, "tickle_interval", 60.0, kind=float))
        self.reauth_polls = int(option(ctx, options, "reauth_polls", 10, kind=int))
        self.poll_delay = float(option(ctx, options, "poll_delay", 1.0, kind=float))
        self.verify = option(ctx, options, "verify", True)
        self.mfa = str(option(ctx, options, "mfa", "totp"))
        self._username = require_credential(ctx, credentials, "username", optional=True)
        self._password = require_credential(ctx, credentials, "password", optional=True)
        seed = require_credential(ctx, credentials, "totp_seed", optional=True)
        self._totp = TotpGenerator(seed, clock=ctx.clock) if seed else None
        if self.login_path and (self._username is None or self._password is None):
            require_credential(ctx, credentials, "username")
            require_credential(ctx, credentials, "password")
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()
        self._authenticated = False
        self._checked_at: float | None = None
        self._attempts = 0
        self._last_error: AuthError | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self.reauth_count = 0
        """How many times this auth re-authenticated (for tests and the monitor)."""
        self.last_tickle: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"SessionAuth(system={self.ctx.system_id!r}, authenticated={self._authenticated})"

    # -- plumbing ----------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            if self.base_url is None:
                raise self.ctx.error("session auth has no base_url yet (set option base_url)")
            self._client = self.ctx.http_client(base_url=self.base_url.rstrip("/"), verify=self.verify, timeout=15.0)
        return self._client

    async def aclose(self) -> None:
        """Stop the keep-alive and close the session's connection pool."""
        await self.stop_keepalive()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http().post(path, **kwargs)
        except httpx.HTTPError as exc:
            raise self.ctx.error(f"session call {path} failed: {type(exc).__name__}") from None

    # -- session state -----------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """The gateway's auth status (``authenticated``, ``connected``, ``competing``...)."""
        response = await self._post(self.status_path)
        if response.status_code == 401:
            self._authenticated = False
            return {"authenticated": False, "connected": False}
        if response.status_code >= 400:
            raise self.ctx.error(f"session status check answered HTTP {response.status_code}",
                                 status_code=response.status_code)
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            raise self.ctx.error("session status check returned no JSON") from None
        self._authenticated = bool(data.get("authenticated")) and not bool(data.get("competing"))
        self._checked_at = self.ctx.clock.monotonic()
        return data

    async def tickle(self) -> dict[str, Any]:
        """One keep-alive call; notes whether the gateway still considers the session authenticated."""
        response = await self._post(self.tickle_path)
        if response.status_code == 401:
            self._authenticated = False
            self.ctx.record("auth.keepalive", outcome="failure", status=401)
            return {}
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        auth_status = ((data.get("iserver") or {}).get("authStatus")) or {}
        if auth_status and not auth_status.get("authenticated", True):
            self._authenticated = False
        self.last_tickle = {k: v for k, v in data.items() if k != "session"}
        return data

    async def ensure(self) -> None:
        """Make sure the session is authenticated, re-authenticating (single-flight) when it is not."""
        fresh = (
            self._authenticated
            and self._checked_at is not None
            and self.ctx.clock.monotonic() - self._checked_at < self.check_interval
        )
        if fresh:
            return
        await self._reauthenticate(check_first=True, reason="check")

    async def _reauthenticate(self, *, check_first: bool, reason: str) -> None:
        seen = self._attempts
        async with self._lock:
            if self._attempts != seen:
                if self._last_error is not None:
                    raise self._last_error
                if self._authenticated:
                    return
            try:
                if check_first and (await self.status()).get("authenticated"):
                    self._last_error = None
                    return
                await self._login(reason)
                self._last_error = None
            except AuthError as exc:
                self._last_error = exc
                raise
            finally:
                self._attempts += 1  # at the end: callers that waited on this attempt share its outcome

    async def _login(self, reason: str) -> None:
        self.reauth_count += 1
        if self.login_path:
            assert self._username is not None and self._password is not None
            body: dict[str, Any] = {
                "username": self._username.get_secret_value(),
                "password": self._password.get_secret_value(),
            }
            if self.mfa == "interactive":
                body["otp"] = await self.ctx.ask("enter your second-factor code")
            elif self._totp is not None:
                self.ctx.record("auth.mfa_challenge", factor="totp")
                body["otp"] = self._totp.now()
            response = await self._post(self.login_path, json=body)
        else:
            response = await self._post(self.reauth_path)
        if response.status_code >= 400:
            self.ctx.record("auth.reauthenticate", outcome="failure", reason=reason, status=response.status_code)
            raise self.ctx.error(f"re-authentication refused: HTTP {response.status_code}", status_code=response.status_code)
        for attempt in range(self.reauth_polls):
            if (await self.status()).get("authenticated"):
                self.ctx.record("auth.reauthenticate", reason=reason, polls=attempt + 1)
                return
            await self.ctx.clock.sleep(self.poll_delay)
        self.ctx.record("auth.reauthenticate", outcome="failure", reason=reason, error="still unauthenticated")
        raise self.ctx.error(f"session still unauthenticated after {self.reauth_polls} status checks")

    # -- keep-alive --------------------------------------------------------------------------------

    async def _keepalive_loop(self) -> None:
        while True:
            await self.ctx.clock.sleep(self.tickle_interval)
            try:
                await self.tickle()
                if not self._authenticated:
                    await self._reauthenticate(check_first=True, reason="keepalive")
            except AuthError as exc:
                self.ctx.record("auth.keepalive", outcome="failure", error=exc.message)

    def start_keepalive(self) -> asyncio.Task[None]:
        """Start tickling every ``tickle_interval`` seconds in the background (idempotent)."""
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = asyncio.get_running_loop().create_task(
                self._keepalive_loop(), name=f"portico-keepalive-{self.ctx.system_id}"
            )
        return self._keepalive

    async def stop_keepalive(self) -> None:
        """Stop the keep-alive task."""
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the flow ----------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise self.ctx.error("session auth talks to the gateway: use an async client")
        yield request  # pragma: no cover

    def _bind(self, request: httpx.Request) -> None:
        if self.base_url is None:
            self.base_url = f"{request.url.scheme}://{request.url.netloc.decode()}{self.base_path}"
        if self._client is not None and self._client.cookies:
            cookie = "; ".join(f"{name}={value}" for name, value in self._client.cookies.items())
            request.headers["Cookie"] = cookie

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self._bind(request)
        await self.ensure()
        self._bind(request)
        response = yield request
        if response.status_code == 401:
            self._authenticated = False
            await self._reauthenticate(check_first=False, reason="rejected")
            self._bind(request)
            yield request
