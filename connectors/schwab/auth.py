"""Schwab's OAuth 2 authorization code flow, on top of portico's :class:`AuthorizationCodeAuth`.

What Schwab adds to plain OAuth 2, and this scheme handles:

* The callback must be a registered ``https://127.0.0.1[:port]`` URL (``localhost`` is refused), so
  portico cannot catch the redirect on its plain-HTTP loopback listener: the browser lands on the
  callback (a certificate warning, then an error page) and the user pastes that URL back, as
  schwab-py's manual flow does. A plain ``http://127.0.0.1`` redirect (the mock accepts one) uses
  portico's loopback listener instead.
* Access tokens last 30 minutes and are refreshed ``refresh_skew`` (300 s) early, single-flight.
* The refresh token lasts 7 days from the sign-in and a refresh does not extend it. Its sign-in time
  is kept in the vault; :meth:`SchwabAuth.refresh_status` grades it (``ok``, ``expiring`` within
  ``refresh_warning_hours``, ``expired``) and tells the monitor when the grade changes (a warning,
  then a critical alert). Once it has expired, or Schwab refused it, no refresh is sent again: every
  call fails at once with an error saying to run ``portico credentials login`` (no loop of failing
  refreshes).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from portico.auth import AuthContext, AuthorizationCodeAuth, OAuthToken
from portico.auth._base import option
from portico.auth._errors import VaultError
from portico.auth._oauth2 import Opener
from portico.auth._redaction import known_secrets
from portico.errors import AuthError

__all__ = ["REFUSED_REFRESH_CODES", "RefreshStatus", "SchwabAuth"]

REFUSED_REFRESH_CODES = frozenset(
    {"unsupported_token_type", "invalid_client", "invalid_grant", "refresh_token_authentication_error"}
)
"""Token-endpoint errors that mean the refresh token is spent: sign in again, do not retry."""

Grade = Literal["ok", "expiring", "expired", "refused", "signed_out"]


@dataclass(frozen=True)
class RefreshStatus:
    """How long the refresh token has left."""

    grade: Grade
    expires_at: datetime | None
    hours_left: float | None


class SchwabAuth(AuthorizationCodeAuth):
    """Schwab's OAuth 2 authorization code scheme (``schwab_oauth2``).

    Credentials: ``client_id`` (the app key) and ``client_secret`` (the app secret), sent as HTTP Basic.
    Options: ``authorize_url``, ``token_url``, ``redirect_uri`` (the registered callback, default
    ``https://127.0.0.1:8182``), ``refresh_skew`` (default 300 s), ``refresh_token_lifetime`` (seconds,
    default 7 days), ``refresh_warning_hours`` (default 24), ``auto_login`` (sign in without a browser:
    only against a mock, whose authorize endpoint approves at once).
    """

    def __init__(
        self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]
    ) -> None:
        options = {"refresh_skew": 300.0, **options}
        super().__init__(ctx, credentials, options)
        self.redirect_uri = str(option(ctx, options, "redirect_uri", "https://127.0.0.1:8182"))
        if not self.redirect_uri.startswith(("https://127.0.0.1", "http://127.0.0.1")):
            raise ctx.error(
                f"redirect_uri {self.redirect_uri!r} is not allowed: Schwab takes only a registered https://127.0.0.1 "
                "callback (localhost is refused)"
            )
        self.refresh_lifetime = timedelta(
            seconds=float(option(ctx, options, "refresh_token_lifetime", 604_800.0, kind=float))
        )
        self.warning = timedelta(hours=float(option(ctx, options, "refresh_warning_hours", 24.0, kind=float)))
        self.auto_login = bool(option(ctx, options, "auto_login", False))
        host = urlsplit(self.authorize_url).hostname or ""
        if self.auto_login and (host == "schwab.com" or host.endswith((".schwab.com", "schwabapi.com"))):
            raise ctx.error(
                "auto_login signs in without a user and is only for a mock; sign in with `portico credentials login`"
            )
        self._signed_in_at: datetime | None = None
        self._refused = False
        self._reported: Grade | None = None

    # -- the refresh token's term --------------------------------------------------------------

    @property
    def _signed_in_key(self) -> str:
        return f"{self.ctx.system_id}/signed_in_at"

    def _load(self) -> None:
        super()._load()
        if self.ctx.vault is None or self._signed_in_at is not None:
            return
        try:
            stored = self.ctx.vault.get(self._signed_in_key).get_secret_value()
        except VaultError:
            return
        with contextlib.suppress(ValueError):
            self._signed_in_at = datetime.fromisoformat(stored)

    def _mark_signed_in(self, when: datetime) -> None:
        self._signed_in_at = when
        self._refused = False
        self._reported = None
        if self.ctx.vault is not None:
            # without it the term is unknown after a restart; refreshes still work
            with contextlib.suppress(VaultError):
                self.ctx.vault.set(self._signed_in_key, when.isoformat())

    def refresh_status(self) -> RefreshStatus:
        """Grade the refresh token and tell the monitor when the grade changed since the last report."""
        now = self.ctx.clock.now()
        token = self.current_token
        expires_at = self._signed_in_at + self.refresh_lifetime if self._signed_in_at else None
        hours = (expires_at - now).total_seconds() / 3600 if expires_at else None
        grade: Grade
        if token is None or token.refresh_token is None:
            grade = "signed_out"
        elif self._refused:
            grade = "refused"
        elif expires_at is not None and now >= expires_at:
            grade = "expired"
        elif expires_at is not None and now >= expires_at - self.warning:
            grade = "expiring"
        else:
            grade = "ok"
        if grade != self._reported:
            self._reported = grade
            self._report(grade, expires_at, hours)
        return RefreshStatus(grade, expires_at, hours)

    def _report(self, grade: Grade, expires_at: datetime | None, hours: float | None) -> None:
        if self.ctx.emit is None or grade in ("ok", "signed_out"):
            return
        login = f"run `portico credentials login {self.ctx.system_id}`"
        if grade == "expiring":
            event, severity = "auth.refresh_token_expiring", "warning"
            message = f"the Schwab refresh token expires in {hours:.1f} h; {login} before then"
        else:
            event, severity = "auth.refresh_token_expired", "critical"
            message = (
                f"the Schwab refresh token has {'been refused' if grade == 'refused' else 'expired'}; {login}"
            )
        self.ctx.emit(
            event,
            system=self.ctx.system_id,
            severity=severity,
            message=message,
            expires_at=expires_at.isoformat() if expires_at else None,
        )

    def _dead_error(self, why: str) -> AuthError:
        return self.ctx.error(f"{why}; sign in again: run `portico credentials login {self.ctx.system_id}`")

    async def token(self) -> OAuthToken:
        token = await super().token()
        self.refresh_status()
        return token

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        if current is None or current.refresh_token is None:
            if self.auto_login:
                return await self.login()
            raise self._dead_error("not signed in to Schwab")
        status = self.refresh_status()
        if status.grade == "refused":
            raise self._dead_error("Schwab refused the refresh token")
        if status.grade == "expired":
            assert status.expires_at is not None
            raise self._dead_error(
                f"the Schwab refresh token expired at {status.expires_at.isoformat()} (7 days after sign-in)"
            )
        try:
            return await self._refresh(current)
        except AuthError as exc:
            if exc.venue_code not in REFUSED_REFRESH_CODES:
                raise  # a timeout or an outage: the next call may refresh
            self._refused = True
            self.refresh_status()
            raise self._dead_error(f"Schwab refused the refresh token ({exc.venue_code})") from None

    # -- sign-in -------------------------------------------------------------------------------

    async def login(self, opener: Opener | None = None) -> OAuthToken:
        """Sign in: the browser flow, the callback URL pasted back (https) or caught (http loopback).

        With ``auto_login`` (a mock), the authorize endpoint's redirect is read directly.

        Raises:
            AuthError: the user refused, the state did not match, or the code exchange failed.
        """
        if self.auto_login:
            return await self._code_flow(self._follow_redirect)
        if self.redirect_uri.startswith("http://"):
            token = await super().login(opener)
            self._mark_signed_in(self.ctx.clock.now())
            return token

        async def paste(url: str) -> str:
            import webbrowser

            result = (opener or webbrowser.open)(url)
            if isinstance(result, Awaitable):
                await result
            return await self.ctx.ask(
                "after signing in, the browser lands on a page that does not load; paste its full address here"
            )

        return await self._code_flow(paste)

    async def _follow_redirect(self, url: str) -> str:
        async with self.ctx.http_client(timeout=self.timeout) as client:
            response = await client.get(url, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307) or not location:
            raise self.ctx.error(
                f"the authorize endpoint answered HTTP {response.status_code} without a redirect"
            )
        return location

    async def _code_flow(self, redirected: Callable[[str], Awaitable[str]]) -> OAuthToken:
        state = secrets.token_urlsafe(24)
        async with self._client(redirect_uri=self.redirect_uri) as client:
            url, _ = client.create_authorization_url(self.authorize_url, state=state)
        self.ctx.record("auth.login", outcome="started", flow="authorization_code")
        landed = (await redirected(url)).strip()
        params = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
        if params.get("state") != state:
            self.ctx.record("auth.login", outcome="failure", error="state_mismatch")
            raise self.ctx.error(
                "the callback carried the wrong state (possible CSRF, or an old URL); sign in again"
            )
        if "error" in params:
            self.ctx.record("auth.login", outcome="failure", error=params["error"])
            raise self.ctx.error(f"sign-in refused: {params['error']}", venue_code=params["error"])
        code = params.get("code")
        if not code:
            raise self.ctx.error("the callback URL carried no authorization code")
        known_secrets.register(code)

        async def exchange(client: Any) -> Mapping[str, Any]:
            result: Mapping[str, Any] = await client.fetch_token(
                self.token_url, grant_type="authorization_code", code=code, redirect_uri=self.redirect_uri
            )
            return result

        try:
            token = await self._token_request("authorization code exchange", exchange)
        except AuthError as exc:
            self.ctx.record("auth.login", outcome="failure", error=exc.message)
            raise
        self.set_token(token)
        self.refresh_count += 1
        self._mark_signed_in(self.ctx.clock.now())
        self.ctx.record("auth.login", flow="authorization_code")
        return token
