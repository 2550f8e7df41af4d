"""``etrade_oauth1``: the shared OAuth 1.0a scheme with E*TRADE's token lifecycle on top.

It signs exactly as :class:`portico.auth.OAuth1Scheme` does (authlib, HMAC-SHA1, header), and adds:

* **renew before idle**: a call made when the token has sat unused for nearly two hours first calls
  ``/oauth/renew_access_token`` (one renew for any number of concurrent calls);
* **one renew on ``token_rejected``**: a token the venue inactivated anyway is renewed once and the
  call re-signed and sent once more; never more (no loop);
* **midnight US Eastern**: the expiry is known from the issue time (DST included); an alert goes out
  ``alert_before`` ahead of it, and after it no call is sent at all: an :class:`~portico.errors.AuthError`
  asks for ``portico credentials login <system>``;
* **E*TRADE's authorize URL** (``?key=<consumer key>&token=<request token>``) in the three-legged login.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import webbrowser
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client import OAuthError
from pydantic import SecretStr

from portico.auth import AuthContext, LoopbackRedirect, OAuth1Scheme, known_secrets
from portico.connectors.etrade.lifecycle import EASTERN, TokenLifecycle, TokenState
from portico.connectors.etrade.spec import SCHEME_NAME
from portico.errors import AuthError, ConfigurationError, ConnectionFailed

__all__ = ["SCHEME_NAME", "EtradeOAuth1Scheme", "oauth_problem"]

_PROBLEM = re.compile(r"oauth_problem=([a-z_]+)")


def oauth_problem(response: httpx.Response) -> str | None:
    """E*TRADE's ``oauth_problem`` value from a refusal page or header, if it names one."""
    header = response.headers.get("www-authenticate", "")
    found = _PROBLEM.search(header) or _PROBLEM.search(response.text[:4000] if response.content else "")
    return found.group(1) if found else None


def _seconds(options: Mapping[str, Any], name: str, default: float) -> timedelta:
    raw = options.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"auth option {name!r} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"auth option {name!r} must not be negative")
    return timedelta(seconds=value)


class EtradeOAuth1Scheme(OAuth1Scheme):
    """OAuth 1.0a for E*TRADE with renew, idle and midnight-expiry handling.

    Options (besides :class:`~portico.auth.OAuth1Scheme`'s): ``renew_url``, ``revoke_url``,
    ``renew_margin`` (seconds before the two-hour idle limit to renew, 600), ``expiry_alert_before``
    (seconds before midnight ET to alert, 1800).
    """

    def __init__(
        self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]
    ) -> None:
        self.issued_at: datetime | None = None
        super().__init__(ctx, credentials, options)
        self.renew_url: str | None = options.get("renew_url")
        self.revoke_url: str | None = options.get("revoke_url")
        self.lifecycle = TokenLifecycle(
            renew_margin=_seconds(options, "renew_margin", 600),
            alert_before=_seconds(options, "expiry_alert_before", 1800),
        )
        if self.issued_at is not None:
            self.lifecycle.start(self.issued_at, ctx.clock.now())
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"EtradeOAuth1Scheme(system={self.ctx.system_id!r}, authorized={self.authorized})"

    def _load(self) -> None:
        super()._load()
        assert self.ctx.vault is not None
        with contextlib.suppress(Exception):
            data = json.loads(self.ctx.vault.get(self.token_key).get_secret_value())
            if data.get("issued_at"):
                self.issued_at = datetime.fromisoformat(data["issued_at"])

    # -- errors --------------------------------------------------------------------------------

    def relogin_error(self) -> AuthError:
        """The error every call gets once the token is past its midnight (or the venue ended it)."""
        expiry = self.lifecycle.expires_at
        when = f" at {expiry.astimezone(EASTERN).isoformat()}" if expiry is not None else ""
        return self.ctx.error(
            f"the E*TRADE access token expired{when} (midnight US Eastern); "
            f"run `portico credentials login {self.ctx.system_id}` for a new one",
            venue_code="token_expired",
        )

    def _emit(self, event: str, **detail: Any) -> None:
        if self.ctx.emit is not None:
            with contextlib.suppress(Exception):
                self.ctx.emit(event, system=self.ctx.system_id, **detail)

    # -- the signing flow ----------------------------------------------------------------------

    def _before_send(self, now: datetime) -> TokenState:
        if not self.authorized:
            raise self.ctx.error(f"not authorized: run `portico credentials login {self.ctx.system_id}`")
        if self.lifecycle.state(now) is TokenState.UNKNOWN:
            # a token from config or an older vault entry: it was issued today at the latest
            self.lifecycle.start(now)
        state = self.lifecycle.state(now)
        if state is TokenState.EXPIRED:
            self.ctx.record("auth.relogin_required", outcome="failure", flow="oauth1")
            raise self.relogin_error()
        if self.lifecycle.alert_due(now):
            assert self.lifecycle.expires_at is not None
            self._emit(
                "auth.token_expiring",
                severity="warning",
                expires_at=self.lifecycle.expires_at.isoformat(),
                message=f"E*TRADE token expires at midnight US Eastern; run `portico credentials login {self.ctx.system_id}`",
            )
        return state

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        now = self.ctx.clock.now()
        if self._before_send(now) is TokenState.RENEW_DUE:
            await self.renew_if_due()
        response = yield self.sign(request)
        if response.status_code == 401:
            problem = oauth_problem(response)
            if problem == "token_expired":
                self.lifecycle.mark_expired()
                self.ctx.record("auth.relogin_required", outcome="failure", flow="oauth1")
                return
            if problem == "token_rejected":
                # inactive despite our bookkeeping (another process, a clock apart): one renew, one resend
                await self.renew(force=True)
                response = yield self.sign(request)
        if response.status_code < 400:
            self.lifecycle.touch(self.ctx.clock.now())

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise ConfigurationError("the E*TRADE auth scheme is async: use it with portico's ApiClient")

    # -- renew and revoke ----------------------------------------------------------------------

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def renew_if_due(self) -> bool:
        """Renew when the idle limit is near; True when a renew was sent. Safe to call on a schedule."""
        now = self.ctx.clock.now()
        if self.lifecycle.state(now) is not TokenState.RENEW_DUE:
            return False
        return await self.renew()

    async def renew(self, *, force: bool = False) -> bool:
        """``GET /oauth/renew_access_token`` once; concurrent callers share the one call.

        Raises:
            AuthError: the venue refused (a new login is needed; the message says how).
            ConnectionFailed: the renew call did not get through (nothing changed; retryable).
        """
        seen = self.lifecycle.last_activity
        async with self._guard():
            if self.lifecycle.last_activity != seen:
                return False  # renewed (or used) by another call meanwhile
            if not force and self.lifecycle.state(self.ctx.clock.now()) is not TokenState.RENEW_DUE:
                return False
            if not self.renew_url:
                raise ConfigurationError(
                    f"{self.ctx.system_id}: auth option 'renew_url' is required to renew E*TRADE tokens",
                    path=f"systems.{self.ctx.system_id}.authentication.options.renew_url",
                )
            response = await self._signed_get(self.renew_url, "renew")
            if response.status_code == 200:
                self.lifecycle.renewed(self.ctx.clock.now())
                self.ctx.record("auth.renew", flow="oauth1", renewals=self.lifecycle.renewals)
                return True
            problem = oauth_problem(response)
            self.ctx.record("auth.renew", outcome="failure", status=response.status_code, problem=problem)
            if problem == "token_expired":
                self.lifecycle.mark_expired()
                raise self.relogin_error()
            raise self.ctx.error(
                f"E*TRADE refused to renew the access token (HTTP {response.status_code}"
                f"{', oauth_problem=' + problem if problem else ''}); "
                f"run `portico credentials login {self.ctx.system_id}`",
                status_code=response.status_code,
                venue_code=problem,
            )

    async def revoke_remote(self) -> None:
        """``GET /oauth/revoke_access_token``, then forget the token locally."""
        if self.revoke_url and self.authorized:
            response = await self._signed_get(self.revoke_url, "revoke")
            if response.status_code != 200:
                raise self.ctx.error(f"E*TRADE refused to revoke the token (HTTP {response.status_code})")
        self.revoke()
        self.lifecycle = TokenLifecycle(
            renew_margin=self.lifecycle.renew_margin, alert_before=self.lifecycle.alert_before
        )

    async def _signed_get(self, url: str, what: str) -> httpx.Response:
        try:
            async with self.ctx.http_client(timeout=self.timeout) as client:
                return await client.send(self.sign(client.build_request("GET", url)))
        except httpx.HTTPError as exc:
            raise ConnectionFailed(
                f"{self.ctx.system_id}: the E*TRADE {what} call failed ({type(exc).__name__})",
                system=self.ctx.system_id,
            ) from None

    # -- login ---------------------------------------------------------------------------------

    def authorize_link(self, request_token: str) -> str:
        """E*TRADE's authorize page for a request token: ``?key=<consumer key>&token=<request token>``."""
        assert self.authorize_url is not None
        query = urlencode({"key": self._consumer_key.get_secret_value(), "token": request_token})
        return f"{self.authorize_url}{'&' if '?' in self.authorize_url else '?'}{query}"

    async def login(self, opener: Callable[[str], Any] | None = None) -> None:
        """The three legs with E*TRADE's authorize URL; the token and its issue time go to the vault.

        Raises:
            AuthError: a leg was refused.
            ConfigurationError: an OAuth URL option is missing.
        """
        for name in ("request_token_url", "authorize_url", "access_token_url"):
            if not getattr(self, name):
                raise ConfigurationError(
                    f"{self.ctx.system_id}: OAuth 1 login needs option {name!r}",
                    path=f"systems.{self.ctx.system_id}.authentication.options.{name}",
                )
        opener = opener or webbrowser.open
        self.ctx.record("auth.login", outcome="started", flow="oauth1")
        loopback = LoopbackRedirect() if self.callback == "loopback" else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if loopback is not None:
                    await stack.enter_async_context(loopback)
                redirect = loopback.redirect_uri if loopback is not None else "oob"
                client = await stack.enter_async_context(self._client(redirect_uri=redirect))
                request_token = await client.fetch_request_token(self.request_token_url)
                known_secrets.register(request_token.get("oauth_token_secret"))
                url = self.authorize_link(request_token["oauth_token"])
                opened = opener(url)
                if inspect.isawaitable(opened):
                    await opened
                if loopback is not None:
                    verifier = (await loopback.wait(300)).get("oauth_verifier", "")
                else:
                    verifier = await self.ctx.ask(
                        f"enter the verification code shown after authorizing at {url}"
                    )
                token = await client.fetch_access_token(self.access_token_url, verifier=verifier)
        except OAuthError as exc:
            self.ctx.record("auth.login", outcome="failure", error=str(exc.error))
            raise self.ctx.error(f"E*TRADE login refused: {exc.error}") from None
        except httpx.HTTPStatusError as exc:
            problem = oauth_problem(exc.response)
            self.ctx.record("auth.login", outcome="failure", status=exc.response.status_code, problem=problem)
            raise self.ctx.error(
                f"E*TRADE login refused: HTTP {exc.response.status_code}{' oauth_problem=' + problem if problem else ''}",
                status_code=exc.response.status_code,
            ) from None
        except httpx.HTTPError as exc:
            self.ctx.record("auth.login", outcome="failure", error=type(exc).__name__)
            raise self.ctx.error(f"E*TRADE login failed: {type(exc).__name__}") from None
        self._token = SecretStr(token["oauth_token"])
        self._token_secret = SecretStr(token["oauth_token_secret"])
        known_secrets.register(self._token, self._token_secret)
        now = self.ctx.clock.now()
        self.issued_at = now
        self.lifecycle.start(now)
        if self.ctx.vault is not None:
            self.ctx.vault.set(
                self.token_key,
                json.dumps(
                    {
                        "token": token["oauth_token"],
                        "token_secret": token["oauth_token_secret"],
                        "issued_at": now.isoformat(),
                    }
                ),
            )
        self.ctx.record(
            "auth.login",
            flow="oauth1",
            expires_at=self.lifecycle.expires_at.isoformat() if self.lifecycle.expires_at else None,
        )
