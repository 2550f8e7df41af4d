"""What every scheme shares: the per-system context, the cached token, and the bearer-token flow.

:class:`TokenAuth` is the base of every scheme that obtains a token over the network. It keeps one
token per system, refreshes it ``skew`` seconds before it expires, and does so single-flight: an
:class:`asyncio.Lock` plus an attempt counter means fifty concurrent requests that all find the
token stale cause exactly one refresh, and if that refresh fails they all receive its error rather
than each trying again. A 401 answer causes one refresh and one retry of the request, never more.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import SecretStr

from portico.auth._errors import VaultError
from portico.auth._redaction import known_secrets, redact, reveal
from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.errors import AuthError, ConfigurationError

if TYPE_CHECKING:
    from portico.auth._audit import AuditLog
    from portico.auth._vault import CredentialVault

__all__ = [
    "AuthContext",
    "EmitFn",
    "InteractiveFactor",
    "OAuthToken",
    "TokenAuth",
    "option",
    "require_credential",
]

log = logging.getLogger("portico.auth")

EmitFn = Callable[..., Any]
"""``emit(event, *, system=None, severity="info", **data)``, as :meth:`IntegrationMonitor.emit`."""


class InteractiveFactor(Protocol):
    """Asks a human for a factor portico cannot produce itself (an SMS code, an OAuth 1 verifier).

    Called with the system id and a prompt; returns what the human typed. May be sync or async.
    """

    def __call__(self, system: str, prompt: str) -> str | Awaitable[str]: ...


@dataclass
class AuthContext:
    """What the AuthenticationManager hands each scheme it builds.

    Attributes:
        system_id: the configured system this auth belongs to (named in every error).
        scheme: the scheme name.
        clock: time source (token expiry, HMAC timestamps, TOTP).
        audit: where auth events are recorded.
        vault: where tokens obtained at runtime are persisted (refresh tokens survive restarts).
        transport: the transport for token-endpoint and session calls (tests inject the mock's).
        emit: report to the monitor.
        interactive: the hook for factors a human must supply.
        actor: who acts, for the audit log.
    """

    system_id: str
    scheme: str
    clock: Clock = system_clock
    audit: AuditLog | None = None
    vault: CredentialVault | None = None
    transport: httpx.AsyncBaseTransport | None = None
    emit: EmitFn | None = None
    interactive: InteractiveFactor | None = None
    actor: str = "runtime"

    def record(self, action: str, outcome: str = "success", **detail: Any) -> None:
        """Append an auth event to the audit log and tell the monitor (never with secret values)."""
        if self.audit is not None:
            try:
                self.audit.append(
                    system=self.system_id,
                    actor=self.actor,
                    action=action,
                    outcome=outcome,
                    correlation_id=current_correlation_id(),
                    detail={"scheme": self.scheme, **detail},
                )
            except Exception as exc:  # auditing must not take the integration down; it is logged loudly
                log.error("audit append failed for %s %s: %s", self.system_id, action, type(exc).__name__)
        if self.emit is not None:
            severity = "info" if outcome == "success" else "warning"
            try:
                self.emit(action, system=self.system_id, severity=severity, outcome=outcome, scheme=self.scheme, **detail)
            except Exception:
                log.exception("monitor emit failed for %s", action)

    def http_client(self, *, timeout: float = 30.0, verify: Any = True, **kwargs: Any) -> httpx.AsyncClient:
        """An AsyncClient for auth calls, over the injected transport when there is one."""
        if self.transport is not None:
            kwargs["transport"] = self.transport
        return httpx.AsyncClient(timeout=timeout, verify=verify, **kwargs)

    def error(self, message: str, **kwargs: Any) -> AuthError:
        """An :class:`AuthError` naming the system, with any known secret scrubbed from the message."""
        return AuthError(f"{self.system_id}: {redact(message)}", system=self.system_id, **kwargs)

    async def ask(self, prompt: str) -> str:
        """Ask the interactive-factor hook; an AuthError when there is none."""
        if self.interactive is None:
            raise self.error(f"an interactive factor is required ({prompt}) but no interactive hook is configured")
        self.record("auth.mfa_challenge", prompt=prompt, factor="interactive")
        answer = self.interactive(self.system_id, prompt)
        if asyncio.iscoroutine(answer) or isinstance(answer, Awaitable):
            answer = await answer
        return str(answer).strip()


def require_credential(
    ctx: AuthContext, credentials: Mapping[str, SecretStr | str], *names: str, optional: bool = False
) -> SecretStr | None:
    """The first of ``names`` present in ``credentials`` (registered as a known secret).

    Raises:
        ConfigurationError: none is present and the credential is not optional; names the key path.
    """
    for name in names:
        value = credentials.get(name)
        if value is not None and reveal(value):
            known_secrets.register(value)
            return value if isinstance(value, SecretStr) else SecretStr(str(value))
    if optional:
        return None
    path = f"systems.{ctx.system_id}.authentication.credentials.{names[0]}"
    alternatives = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise ConfigurationError(
        f"{ctx.system_id}: auth scheme {ctx.scheme!r} needs credential {names[0]!r}{alternatives}", path=path
    )


def option(ctx: AuthContext, options: Mapping[str, Any], name: str, default: Any = ..., *, kind: type | None = None) -> Any:
    """Read a scheme option, with a ConfigurationError naming the key path when it is missing or mistyped."""
    path = f"systems.{ctx.system_id}.authentication.options.{name}"
    if name not in options or options[name] is None:
        if default is ...:
            raise ConfigurationError(f"{ctx.system_id}: auth scheme {ctx.scheme!r} needs option {name!r}", path=path)
        return default
    value = options[name]
    if kind is not None and not isinstance(value, kind):
        try:
            value = kind(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"{ctx.system_id}: option {name!r} must be {kind.__name__}, got {value!r}", path=path
            ) from None
    return value


@dataclass(repr=False)
class OAuthToken:
    """An access token with its expiry and optional refresh token. Its repr shows no token value."""

    access_token: SecretStr
    token_type: str = "Bearer"
    expires_at: datetime | None = None
    refresh_token: SecretStr | None = None
    scope: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known_secrets.register(self.access_token, self.refresh_token)

    def __repr__(self) -> str:
        return (
            f"OAuthToken(token_type={self.token_type!r}, expires_at={self.expires_at!r}, "
            f"refresh_token={'yes' if self.refresh_token else 'no'}, scope={self.scope!r})"
        )

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: datetime, previous: OAuthToken | None = None) -> OAuthToken:
        """Build from a token-endpoint answer; keeps the previous refresh token when none is returned."""
        access = data.get("access_token")
        if not access:
            raise ValueError("token response has no access_token")
        expires_in = data.get("expires_in")
        expires_at = now + timedelta(seconds=float(expires_in)) if expires_in not in (None, "") else None
        refresh = data.get("refresh_token")
        refresh_token = SecretStr(str(refresh)) if refresh else (previous.refresh_token if previous else None)
        known = {"access_token", "token_type", "expires_in", "refresh_token", "scope", "expires_at"}
        return cls(
            access_token=SecretStr(str(access)),
            token_type=str(data.get("token_type") or "Bearer"),
            expires_at=expires_at,
            refresh_token=refresh_token,
            scope=data.get("scope"),
            extra={k: v for k, v in data.items() if k not in known and k != "id_token"},
        )

    def fresh(self, now: datetime, skew: float) -> bool:
        """Whether the token is usable for at least ``skew`` more seconds."""
        return self.expires_at is None or now + timedelta(seconds=skew) < self.expires_at

    def to_json(self) -> str:
        """Serialised for the vault (which encrypts it)."""
        return json.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "token_type": self.token_type,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "refresh_token": reveal(self.refresh_token),
                "scope": self.scope,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> OAuthToken:
        """Read back what :meth:`to_json` wrote."""
        data = json.loads(text)
        return cls(
            access_token=SecretStr(data["access_token"]),
            token_type=data.get("token_type") or "Bearer",
            expires_at=datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None,
            refresh_token=SecretStr(data["refresh_token"]) if data.get("refresh_token") else None,
            scope=data.get("scope"),
        )


class TokenAuth(httpx.Auth):
    """Base of the bearer-token schemes: cache, refresh-before-expiry, single-flight, 401-once.

    Subclasses implement :meth:`_obtain`. Async clients only: refreshing needs network I/O, and
    portico's ApiClient is async.

    Args:
        ctx: the system's auth context.
        skew: refresh this many seconds before the token expires.
        persist: keep the token in the vault under ``<system>/oauth_token`` so it survives restarts.
    """

    requires_response_body = False
    _token: OAuthToken | None

    def __init__(self, ctx: AuthContext, *, skew: float = 60.0, persist: bool = True) -> None:
        self.ctx = ctx
        self.skew = skew
        self.persist = persist and ctx.vault is not None
        self._token: OAuthToken | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._attempts = 0
        self._last_error: AuthError | None = None
        self.refresh_count = 0
        """How many token requests this auth made (for tests and the monitor)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(system={self.ctx.system_id!r}, token={self._token!r})"

    @property
    def current_token(self) -> OAuthToken | None:
        """The cached token, fresh or not (``None`` before the first one); its repr shows no secret."""
        return self._token

    @property
    def token_key(self) -> str:
        """The vault name the token is kept under."""
        return f"{self.ctx.system_id}/oauth_token"

    # -- the flow --------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise self.ctx.error(f"auth scheme {self.ctx.scheme!r} refreshes over the network: use an async client")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        self._apply(request, token)
        response = yield request
        if response.status_code == 401:
            self.ctx.record("auth.rejected", outcome="failure", status=401, request=f"{request.method} {request.url.path}")
            token = await self._renew(token, reason="rejected")
            self._apply(request, token)
            yield request

    def _apply(self, request: httpx.Request, token: OAuthToken) -> None:
        kind = "Bearer" if token.token_type.lower() == "bearer" else token.token_type
        request.headers["Authorization"] = f"{kind} {token.access_token.get_secret_value()}"

    # -- the cache -------------------------------------------------------------------------------

    async def token(self) -> OAuthToken:
        """A token valid for at least ``skew`` seconds, refreshing (single-flight) when needed."""
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    # the vault does file I/O and may derive its key: keep it off the event loop
                    await asyncio.to_thread(self._load)
        token = self._token
        if token is not None and token.fresh(self.ctx.clock.now(), self.skew):
            return token
        return await self._renew(token, reason="expired" if token else "initial")

    def _load(self) -> None:
        self._loaded = True
        if not self.persist or self._token is not None or self.ctx.vault is None:
            return
        try:
            stored = self.ctx.vault.get(self.token_key)
        except VaultError:
            return
        try:
            self._token = OAuthToken.from_json(stored.get_secret_value())
        except (ValueError, KeyError):
            log.warning("%s: stored token is unreadable; obtaining a new one", self.ctx.system_id)

    def _save(self, token: OAuthToken) -> None:
        if self.persist and self.ctx.vault is not None:
            try:
                self.ctx.vault.set(self.token_key, token.to_json())
            except VaultError as exc:
                log.warning("%s: could not persist token: %s", self.ctx.system_id, type(exc).__name__)

    def set_token(self, token: OAuthToken) -> None:
        """Install a token obtained elsewhere (a login flow), persisting it."""
        self._token = token
        self._loaded = True
        self._save(token)

    async def _renew(self, seen: OAuthToken | None, *, reason: str) -> OAuthToken:
        attempts_seen = self._attempts
        async with self._lock:
            current = self._token
            if current is not None and current is not seen and current.fresh(self.ctx.clock.now(), self.skew):
                # The token was replaced after the caller's request went out (its 401 or staleness is
                # about the old one): use the new token rather than refreshing again.
                return current
            if self._attempts != attempts_seen:
                # Someone refreshed while we waited: share their result, success or failure.
                if self._last_error is not None:
                    raise self._last_error
                if self._token is not None and self._token is not seen:
                    return self._token
            self.refresh_count += 1
            action = "auth.login" if seen is None else "auth.refresh"
            try:
                token = await self._obtain(seen)
            except AuthError as exc:
                self._last_error = exc
                self.ctx.record(action, outcome="failure", reason=reason, error=exc.message)
                raise
            except Exception as exc:
                err = self.ctx.error(f"{action.split('.')[1]} failed: {type(exc).__name__}: {exc}")
                self._last_error = err
                self.ctx.record(action, outcome="failure", reason=reason, error=err.message)
                raise err from None
            finally:
                # Counted when the attempt ends, so every caller that saw the old state while this
                # attempt was running shares its outcome instead of starting another one.
                self._attempts += 1
            self._last_error = None
            self._token = token
            await asyncio.to_thread(self._save, token)
            self.ctx.record(action, reason=reason, expires_at=token.expires_at.isoformat() if token.expires_at else None)
            return token

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        """Get a new token (initial grant or refresh). Raise AuthError on refusal."""
        raise NotImplementedError
