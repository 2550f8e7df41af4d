"""The mock's token service: LSEG's v1 (STS) password and refresh grants, v2 client credentials, revocation.

What it enforces, as the platform does:

* v1 ``grant_type=password`` needs a known ``client_id`` (the app key), the user's password and answers
  ``access_token``, ``refresh_token``, ``expires_in`` (a *string*, ``"300"``), ``scope``, ``token_type``.
* ``grant_type=refresh_token`` rotates: the refresh token used is spent, a new one is returned.
* One concurrent session per user (the "session quota"): a second password login with
  ``takeExclusiveSignOnControl=false`` is refused with ``Session quota is reached.``; with ``true`` it
  takes over and the older session's tokens stop working.
* Login-rate protection: more than ``login_limit`` token requests from one user or client in a
  sliding minute are answered 429 until the minute has passed.
* v2 ``grant_type=client_credentials`` with ``client_id`` and ``client_secret`` gives an access token
  without a refresh token.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portico.mocks._kit import MockClock

__all__ = ["DEFAULT_SCOPE", "TokenService", "oauth_error"]

DEFAULT_SCOPE = (
    "trapi.data.historical-pricing.read trapi.data.pricing.read trapi.data.datagrid.read "
    "trapi.streaming.pricing.read trapi.auth.cloud-credentials"
)
"""The scopes the mock grants every session."""


def oauth_error(code: str, description: str) -> dict[str, str]:
    """An OAuth 2.0 error body (RFC 6749 §5.2), as the LSEG token endpoints answer."""
    return {"error": code, "error_description": description}


@dataclass
class _Session:
    user: str
    access: set[str] = field(default_factory=set)
    refresh: str | None = None
    open: bool = True


@dataclass
class TokenService:
    """Accounts, sessions and tokens of the mock platform.

    Attributes:
        clock: the mock's clock (token expiry, the login-rate window).
        users: username to password (v1).
        app_keys: the app keys (``client_id`` of v1) the platform knows.
        clients: v2 service account client id to secret.
        access_lifetime: seconds an access token lives (the platform's ``expires_in``).
        login_limit: token requests per user in a sliding minute before the rate protection trips.
        session_quota: concurrent sessions per user.
    """

    clock: MockClock
    users: dict[str, str]
    app_keys: set[str]
    clients: dict[str, str]
    access_lifetime: int = 300
    login_limit: int = 50
    session_quota: int = 1
    tokens: dict[str, tuple[datetime, _Session]] = field(default_factory=dict)
    refresh_tokens: dict[str, _Session] = field(default_factory=dict)
    sessions: list[_Session] = field(default_factory=list)
    requests: dict[str, deque[datetime]] = field(default_factory=dict)
    grants: list[str] = field(default_factory=list)
    """Every grant type asked for, in order (tests count logins and refreshes)."""

    # -- the rate protection ---------------------------------------------------------------------

    def _throttled(self, who: str) -> bool:
        now = self.clock.now()
        window = self.requests.setdefault(who, deque())
        while window and window[0] <= now - timedelta(seconds=60):
            window.popleft()
        window.append(now)
        return len(window) > self.login_limit

    # -- tokens ----------------------------------------------------------------------------------

    def _issue(self, session: _Session, *, with_refresh: bool) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        session.access.add(access)
        self.tokens[access] = (self.clock.now() + timedelta(seconds=self.access_lifetime), session)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": str(self.access_lifetime),
            "scope": DEFAULT_SCOPE,
            "token_type": "Bearer",
        }
        if with_refresh:
            if session.refresh is not None:
                self.refresh_tokens.pop(session.refresh, None)
            session.refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[session.refresh] = session
            body["refresh_token"] = session.refresh
        return body

    def end(self, session: _Session) -> None:
        """End a session: its tokens stop working and its user's quota is free again."""
        self._close(session)

    def _close(self, session: _Session) -> None:
        session.open = False
        for access in session.access:
            self.tokens.pop(access, None)
        if session.refresh is not None:
            self.refresh_tokens.pop(session.refresh, None)
        if session in self.sessions:
            self.sessions.remove(session)

    def bearer(self, header: str) -> tuple[str | None, str]:
        """The user of a valid ``Authorization: Bearer`` header, or None and the reason it is refused."""
        if not header.startswith("Bearer "):
            return None, "no token"
        found = self.tokens.get(header[7:].strip())
        if found is None:
            return None, "invalid token"
        expires, session = found
        if expires <= self.clock.now():
            return None, "token expired"
        return session.user, ""

    def grant(self, form: dict[str, str], version: int) -> tuple[int, dict[str, Any]]:
        """Answer one token request: ``(status, body)``."""
        kind = form.get("grant_type", "")
        self.grants.append(kind)
        who = form.get("username") or form.get("client_id") or "-"
        if self._throttled(who):
            return 429, oauth_error("too_many_requests", "Too many login attempts in a minute; retry later.")
        if version == 2:
            return self._client_credentials(form)
        if kind == "password":
            return self._password(form)
        if kind == "refresh_token":
            return self._refresh(form)
        return 400, oauth_error("unsupported_grant_type", f"grant_type {kind!r} is not supported")

    def _password(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") not in self.app_keys:
            return 401, oauth_error("invalid_client", "Invalid Application Credential.")
        user = form.get("username", "")
        if not user or self.users.get(user) != form.get("password"):
            return 400, oauth_error("access_denied", "Invalid username or password.")
        mine = [s for s in self.sessions if s.user == user]
        if len(mine) >= self.session_quota:
            if form.get("takeExclusiveSignOnControl", "false").lower() != "true":
                return 401, oauth_error("access_denied", "Session quota is reached.")
            for old in mine:
                self._close(old)
        session = _Session(user)
        self.sessions.append(session)
        return 200, self._issue(session, with_refresh=True)

    def _refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        session = self.refresh_tokens.get(form.get("refresh_token", ""))
        if session is None or not session.open:
            return 400, oauth_error("invalid_grant", "Invalid refresh token.")
        if form.get("username") not in (None, "", session.user):
            return 400, oauth_error("invalid_grant", "Refresh token was issued to another user.")
        if form.get("client_id") not in self.app_keys:
            return 401, oauth_error("invalid_client", "Invalid Application Credential.")
        return 200, self._issue(session, with_refresh=True)

    def _client_credentials(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, oauth_error("unsupported_grant_type", "v2 accepts grant_type=client_credentials only")
        client = form.get("client_id", "")
        if not client or self.clients.get(client) != form.get("client_secret"):
            return 401, oauth_error("invalid_client", "Invalid client credentials.")
        return 200, self._issue(_Session(client), with_refresh=False)

    def revoke(self, form: dict[str, str]) -> None:
        """Forget a token (RFC 7009: unknown tokens are not an error); revoking the refresh token ends the session."""
        token = form.get("token", "")
        session = self.refresh_tokens.get(token)
        if session is not None:
            self._close(session)
            return
        found = self.tokens.pop(token, None)
        if found is not None:
            found[1].access.discard(token)
