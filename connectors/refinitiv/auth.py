"""LSEG's v1 (STS) password grant as an auth scheme: ``refinitiv_password``.

The platform's v1 token endpoint takes ``grant_type=password`` with the user's name and password and the
app key as ``client_id``, plus ``takeExclusiveSignOnControl``; it answers a ~300 s access token and a
refresh token. Refreshing (``grant_type=refresh_token`` with ``username`` and ``client_id``) *rotates* the
refresh token: the one used is spent. Two platform rules shape this scheme:

* **Session quota**: one concurrent session per user. A login with ``takeExclusiveSignOnControl=false``
  while another session is open is refused with ``Session quota is reached.``; the error says how to fix it.
* **Login-rate protection**: more than 50 logins or refreshes a minute lock the account for a while. The
  shared :class:`~portico.auth.TokenAuth` base already refreshes single-flight and before expiry; on top,
  this scheme counts its own token requests in a sliding minute and refuses locally, past
  ``max_token_requests_per_minute`` (10 by default), rather than let a fault loop trip the platform.

Built by the AuthenticationManager from the plugin's ``portico_auth_schemes`` hook.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from portico.auth import AuthContext, OAuthToken, TokenAuth, known_secrets
from portico.errors import AuthError, ConfigurationError

__all__ = ["SCHEME", "RefinitivPasswordAuth"]

SCHEME = "refinitiv_password"
"""The scheme's name in ``authentication.type``."""

_QUOTA = "Session quota is reached."


def _credential(
    ctx: AuthContext, credentials: Mapping[str, SecretStr | str], name: str, *, secret: bool = True
) -> SecretStr:
    value = credentials.get(name)
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not text:
        raise ConfigurationError(
            f"{ctx.system_id}: auth scheme {SCHEME!r} needs credential {name!r}",
            path=f"systems.{ctx.system_id}.authentication.credentials.{name}",
        )
    value_secret = SecretStr(text)
    if secret:  # the user name is not a secret: masking it would blank it out of every message
        known_secrets.register(value_secret)
    return value_secret


def _option(ctx: AuthContext, options: Mapping[str, Any], name: str, default: Any, kind: type) -> Any:
    value = options.get(name, default)
    if value is None:
        raise ConfigurationError(
            f"{ctx.system_id}: auth scheme {SCHEME!r} needs option {name!r}",
            path=f"systems.{ctx.system_id}.authentication.options.{name}",
        )
    if kind is bool and isinstance(value, str):
        if value.strip().lower() not in {"true", "false"}:
            raise ConfigurationError(
                f"{ctx.system_id}: option {name!r} must be true or false, got {value!r}",
                path=f"systems.{ctx.system_id}.authentication.options.{name}",
            )
        return value.strip().lower() == "true"
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{ctx.system_id}: option {name!r} must be {kind.__name__}, got {value!r}",
            path=f"systems.{ctx.system_id}.authentication.options.{name}",
        ) from None


class RefinitivPasswordAuth(TokenAuth):
    """LSEG v1 password grant with rotating refresh tokens, a session-quota hint and a login-rate guard.

    Credentials: ``app_key``, ``username``, ``password``. Options: ``token_url`` (required),
    ``revocation_url``, ``scope`` (``trapi``), ``take_exclusive_sign_on`` (false), ``refresh_skew``
    (seconds before expiry to refresh, 60), ``max_token_requests_per_minute`` (10), ``token_timeout`` (30 s).
    """

    def __init__(
        self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]
    ) -> None:
        super().__init__(ctx, skew=float(_option(ctx, options, "refresh_skew", 60.0, float)), persist=False)
        self.app_key = _credential(ctx, credentials, "app_key")
        self.username = _credential(ctx, credentials, "username", secret=False)
        self.password = _credential(ctx, credentials, "password")
        self.token_url = str(_option(ctx, options, "token_url", None, str))
        self.revocation_url: str | None = options.get("revocation_url") or None
        self.scope = str(_option(ctx, options, "scope", "trapi", str))
        self.exclusive = bool(_option(ctx, options, "take_exclusive_sign_on", False, bool))
        self.per_minute = int(_option(ctx, options, "max_token_requests_per_minute", 10, int))
        if not 1 <= self.per_minute <= 50:
            raise ConfigurationError(
                f"{ctx.system_id}: max_token_requests_per_minute must be 1-50 (the platform locks out past 50)",
                path=f"systems.{ctx.system_id}.authentication.options.max_token_requests_per_minute",
            )
        self.timeout = float(_option(ctx, options, "token_timeout", 30.0, float))
        self._requests: deque[datetime] = deque()

    def __repr__(self) -> str:
        return f"RefinitivPasswordAuth(system={self.ctx.system_id!r}, token={self._token!r})"

    # -- the guard -------------------------------------------------------------------------------

    def _guard(self, what: str) -> None:
        now = self.ctx.clock.now()
        while self._requests and self._requests[0] <= now - timedelta(seconds=60):
            self._requests.popleft()
        if len(self._requests) >= self.per_minute:
            wait = (self._requests[0] + timedelta(seconds=60) - now).total_seconds()
            raise self.ctx.error(
                f"{what} refused locally: {len(self._requests)} token requests in the last minute already "
                f"(limit {self.per_minute}, LSEG locks the account past 50); retry in {wait:.0f}s"
            )
        self._requests.append(now)

    # -- token requests --------------------------------------------------------------------------

    async def _post(self, what: str, form: dict[str, str]) -> OAuthToken:
        self._guard(what)
        try:
            async with self.ctx.http_client(timeout=self.timeout) as client:
                response = await client.post(
                    self.token_url, data=form, headers={"Accept": "application/json"}
                )
        except httpx.TimeoutException:
            raise self.ctx.error(f"{what} timed out after {self.timeout:g}s at the token endpoint") from None
        except httpx.HTTPError as exc:
            raise self.ctx.error(f"{what} failed: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            code = (
                str(body.get("error") or response.status_code)
                if isinstance(body, dict)
                else str(response.status_code)
            )
            description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
            hint = ""
            if description == _QUOTA:
                hint = (
                    " (another session of this user is open: close it, or set authentication.options."
                    "take_exclusive_sign_on: true to take it over)"
                )
            elif response.status_code == 429:
                hint = (
                    " (the platform's login-rate protection answered; wait a minute before logging in again)"
                )
            raise self.ctx.error(
                f"{what} refused by the token endpoint: HTTP {response.status_code} {code}"
                + (f": {description}" if description else "")
                + hint,
                venue_code=code,
                status_code=response.status_code,
            )
        if not isinstance(body, dict):
            raise self.ctx.error(
                f"{what} failed: the token endpoint answered a body that is not a JSON object"
            )
        try:
            return OAuthToken.from_response(body, self.ctx.clock.now(), previous=None)
        except ValueError as exc:
            raise self.ctx.error(f"{what} failed: unreadable token response ({exc})") from None

    async def _login(self) -> OAuthToken:
        return await self._post(
            "password grant",
            {
                "grant_type": "password",
                "username": self.username.get_secret_value(),
                "password": self.password.get_secret_value(),
                "client_id": self.app_key.get_secret_value(),
                "scope": self.scope,
                "takeExclusiveSignOnControl": "true" if self.exclusive else "false",
            },
        )

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        if current is not None and current.refresh_token is not None:
            try:
                return await self._post(
                    "token refresh",
                    {
                        "grant_type": "refresh_token",
                        "username": self.username.get_secret_value(),
                        "refresh_token": current.refresh_token.get_secret_value(),
                        "client_id": self.app_key.get_secret_value(),
                    },
                )
            except AuthError as exc:
                if exc.venue_code != "invalid_grant":
                    raise
                # the refresh token is spent or the session ended: log in afresh (counted by the guard)
        return await self._login()

    async def revoke(self) -> None:
        """End the session at the platform (frees the user's session quota) and forget the token."""
        token: OAuthToken | None = self.current_token
        self._token = None
        if token is None or not self.revocation_url:
            self.ctx.record("auth.revoke", outcome="local_only")
            return
        outcome = "success"
        async with self.ctx.http_client(timeout=self.timeout) as client:
            for value, hint in ((token.access_token, "access_token"), (token.refresh_token, "refresh_token")):
                if value is None:
                    continue
                form = {"token": value.get_secret_value(), "token_type_hint": hint,
                        "client_id": self.app_key.get_secret_value()}  # fmt: skip
                try:
                    response = await client.post(self.revocation_url, data=form)
                except httpx.HTTPError:
                    outcome = "failure"
                    continue
                if response.status_code != 200:
                    outcome = "failure"
        self.ctx.record("auth.revoke", outcome=outcome)
