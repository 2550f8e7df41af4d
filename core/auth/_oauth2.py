"""OAuth 2.0 schemes: client credentials, authorization code + PKCE, refresh token, JWT bearer.

Token-endpoint mechanics (client authentication, grant bodies, PKCE challenges, error parsing) are
authlib's :class:`~authlib.integrations.httpx_client.AsyncOAuth2Client`; JWT assertions are signed
with joserfc (authlib's JOSE implementation) over keys loaded by cryptography.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
import webbrowser
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from portico.auth._base import AuthContext, OAuthToken, TokenAuth, option, require_credential
from portico.auth._redaction import known_secrets, redact
from portico.errors import AuthError, ConfigurationError

__all__ = [
    "AuthorizationCodeAuth",
    "ClientCredentialsAuth",
    "JwtBearerAuth",
    "LoopbackRedirect",
    "RefreshTokenAuth",
]

def authlib_httpx() -> Any:
    """authlib's httpx integration module.

    authlib 1.9 warns that plain ``httpx`` support will move to an ``httpx2`` package; portico uses
    httpx, so the warning is silenced here, at the one import site, rather than shown to every user.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import authlib.integrations.httpx_client as module
    return module


Opener = Callable[[str], Any | Awaitable[Any]]
"""Opens the authorization URL for the user (default: the web browser)."""


class _OAuth2Base(TokenAuth):
    """Shared token-endpoint plumbing for the OAuth 2.0 schemes."""

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        super().__init__(
            ctx,
            skew=float(option(ctx, options, "refresh_skew", 60.0, kind=float)),
            persist=bool(option(ctx, options, "persist_token", True)),
        )
        self.token_url = str(option(ctx, options, "token_url"))
        self.scope = option(ctx, options, "scope", None)
        self.audience = option(ctx, options, "audience", None)
        self.auth_method = str(option(ctx, options, "token_endpoint_auth_method", "client_secret_basic"))
        self.timeout = float(option(ctx, options, "token_timeout", 30.0, kind=float))
        self.verify = option(ctx, options, "verify", True)
        self.client_id = require_credential(ctx, credentials, "client_id", optional=True)
        self.client_secret = require_credential(ctx, credentials, "client_secret", optional=True)

    def _client(self, **kwargs: Any) -> Any:
        AsyncOAuth2Client = authlib_httpx().AsyncOAuth2Client

        client_kwargs: dict[str, Any] = {"timeout": self.timeout, "verify": self.verify}
        if self.ctx.transport is not None:
            client_kwargs["transport"] = self.ctx.transport
        return AsyncOAuth2Client(
            client_id=self.client_id.get_secret_value() if self.client_id else None,
            client_secret=self.client_secret.get_secret_value() if self.client_secret else None,
            token_endpoint_auth_method=self.auth_method if self.client_secret else "none",
            scope=self.scope,
            **client_kwargs,
            **kwargs,
        )

    async def _token_request(self, what: str, call: Callable[[Any], Awaitable[Mapping[str, Any]]]) -> OAuthToken:
        """Run one token-endpoint call, turning every failure into an AuthError naming the system."""
        from authlib.integrations.base_client import OAuthError

        try:
            async with self._client() as client:
                data = await call(client)
        except OAuthError as exc:
            raise self.ctx.error(
                f"{what} refused by the token endpoint: {exc.error}"
                + (f": {exc.description}" if exc.description else ""),
                venue_code=exc.error,
            ) from None
        except httpx.TimeoutException:
            raise self.ctx.error(f"{what} timed out after {self.timeout:g}s at the token endpoint") from None
        except httpx.HTTPStatusError as exc:
            raise self.ctx.error(
                f"{what} failed: token endpoint answered HTTP {exc.response.status_code}",
                status_code=exc.response.status_code,
            ) from None
        except httpx.HTTPError as exc:
            raise self.ctx.error(f"{what} failed: {type(exc).__name__}: {redact(str(exc))}") from None
        except ValueError as exc:
            raise self.ctx.error(f"{what} failed: unreadable token response ({exc})") from None
        return OAuthToken.from_response(data, self.ctx.clock.now(), previous=self.current_token)

    def _extra(self) -> dict[str, Any]:
        return {"audience": self.audience} if self.audience else {}

    async def _refresh(self, current: OAuthToken) -> OAuthToken:
        assert current.refresh_token is not None
        refresh = current.refresh_token.get_secret_value()
        return await self._token_request(
            "token refresh", lambda c: c.refresh_token(self.token_url, refresh_token=refresh, **self._extra())
        )

    async def revoke(self, *, revocation_url: str | None = None) -> None:
        """Revoke the refresh token (or access token) at the server (RFC 7009) and forget it locally."""
        url = revocation_url or self._revocation_url
        token = self.current_token
        self._token = None
        if self.persist and self.ctx.vault is not None:
            from portico.auth._errors import SecretNotFound

            with contextlib.suppress(SecretNotFound):
                self.ctx.vault.delete(self.token_key)
        if token is None or not url:
            self.ctx.record("auth.revoke", outcome="local_only")
            return
        value = token.refresh_token or token.access_token
        hint = "refresh_token" if token.refresh_token else "access_token"
        try:
            async with self._client() as client:
                response = await client.revoke_token(url, token=value.get_secret_value(), token_type_hint=hint)
        except httpx.HTTPError as exc:
            self.ctx.record("auth.revoke", outcome="failure", error=type(exc).__name__)
            raise self.ctx.error(f"revocation failed: {type(exc).__name__}") from None
        ok = response.status_code == 200
        self.ctx.record("auth.revoke", outcome="success" if ok else "failure", status=response.status_code)
        if not ok:
            raise self.ctx.error(f"revocation refused: HTTP {response.status_code}", status_code=response.status_code)

    _revocation_url: str | None = None


class ClientCredentialsAuth(_OAuth2Base):
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4); refreshes with a refresh token when given one.

    Credentials: ``client_id``, ``client_secret``. Options: ``token_url`` (required), ``scope``,
    ``audience``, ``refresh_skew`` (seconds, default 60), ``token_endpoint_auth_method``
    (``client_secret_basic`` default, or ``client_secret_post``), ``revocation_url``, ``token_timeout``.
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        super().__init__(ctx, credentials, options)
        require_credential(ctx, credentials, "client_id")
        require_credential(ctx, credentials, "client_secret")
        self._revocation_url = option(ctx, options, "revocation_url", None)

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        if current is not None and current.refresh_token is not None:
            try:
                return await self._refresh(current)
            except AuthError:
                pass  # the refresh token is spent or revoked: the client can always ask afresh
        return await self._token_request(
            "client credentials grant",
            lambda c: c.fetch_token(self.token_url, grant_type="client_credentials", **self._extra()),
        )


class RefreshTokenAuth(_OAuth2Base):
    """Access tokens from a long-lived refresh token (given in config or the vault), rotated on each use.

    When the server rotates the refresh token, the new one replaces the old in the vault at once.
    Credentials: ``refresh_token``, ``client_id`` and, for confidential clients, ``client_secret``.
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        super().__init__(ctx, credentials, options)
        require_credential(ctx, credentials, "client_id")
        self._seed_refresh = require_credential(ctx, credentials, "refresh_token")
        self._revocation_url = option(ctx, options, "revocation_url", None)

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        if current is None or current.refresh_token is None:
            assert self._seed_refresh is not None
            current = OAuthToken(access_token=SecretStr("-"), refresh_token=self._seed_refresh)
        return await self._refresh(current)


class LoopbackRedirect:
    """A one-shot HTTP listener on 127.0.0.1 that catches an OAuth redirect (RFC 8252 §7.3).

    Args:
        path: the redirect path to answer on.
        port: the port (0: any free one).
    """

    def __init__(self, path: str = "/callback", port: int = 0) -> None:
        self.path = path
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._result: asyncio.Future[dict[str, str]] | None = None

    @property
    def redirect_uri(self) -> str:
        """The ``http://127.0.0.1:<port><path>`` URI to register as the redirect."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def __aenter__(self) -> LoopbackRedirect:
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.split()
            target = parts[1] if len(parts) >= 2 else "/"
            url = urlsplit(target)
            if url.path != self.path:
                status, body = "404 Not Found", "not found"
            else:
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                status = "200 OK"
                body = "Sign-in finished; you can close this window and return to portico."
                if "error" in params:
                    body = "Sign-in was refused; see the terminal."
                if self._result is not None and not self._result.done():
                    self._result.set_result(params)
            payload = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def wait(self, timeout: float) -> dict[str, str]:
        """The redirect's query parameters."""
        assert self._result is not None
        return await asyncio.wait_for(asyncio.shield(self._result), timeout)


async def _open(opener: Opener, url: str) -> None:
    result = opener(url)
    if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
        await result


class AuthorizationCodeAuth(_OAuth2Base):
    """OAuth 2.0 authorization code grant with PKCE (RFC 7636, S256), for a user signing in once.

    :meth:`login` opens the authorization URL (the browser by default), catches the redirect on a
    127.0.0.1 loopback listener, checks ``state``, and exchanges the code with the PKCE verifier. The
    token (with its refresh token) is kept in the vault; later runs refresh it without the browser.

    Credentials: ``client_id`` and, for confidential clients, ``client_secret``.
    Options: ``authorize_url``, ``token_url``, ``scope``, ``redirect_path`` (default ``/callback``),
    ``redirect_port`` (default 0: any free port), ``login_timeout`` (seconds, default 300).
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        super().__init__(ctx, credentials, options)
        require_credential(ctx, credentials, "client_id")
        self.authorize_url = str(option(ctx, options, "authorize_url"))
        self.redirect_path = str(option(ctx, options, "redirect_path", "/callback"))
        self.redirect_port = int(option(ctx, options, "redirect_port", 0, kind=int))
        self.login_timeout = float(option(ctx, options, "login_timeout", 300.0, kind=float))
        self._revocation_url = option(ctx, options, "revocation_url", None)

    async def login(self, opener: Opener | None = None) -> OAuthToken:
        """Run the browser sign-in and store the resulting token.

        Args:
            opener: called with the authorization URL; default :func:`webbrowser.open`.

        Raises:
            AuthError: the user refused, the state did not match, or the code exchange failed.
        """
        from authlib.common.security import generate_token

        verifier = generate_token(64)
        state = secrets.token_urlsafe(24)
        known_secrets.register(verifier)
        async with LoopbackRedirect(self.redirect_path, self.redirect_port) as loopback:
            redirect_uri = loopback.redirect_uri
            async with self._client(redirect_uri=redirect_uri, code_challenge_method="S256") as client:
                url, _ = client.create_authorization_url(self.authorize_url, state=state, code_verifier=verifier)
            self.ctx.record("auth.login", outcome="started", flow="authorization_code")
            await _open(opener or webbrowser.open, url)
            try:
                params = await loopback.wait(self.login_timeout)
            except TimeoutError:
                self.ctx.record("auth.login", outcome="failure", error="timeout")
                raise self.ctx.error(f"sign-in not completed within {self.login_timeout:g}s") from None
        if params.get("state") != state:
            self.ctx.record("auth.login", outcome="failure", error="state_mismatch")
            raise self.ctx.error("sign-in redirect carried the wrong state (possible CSRF); try again")
        if "error" in params:
            self.ctx.record("auth.login", outcome="failure", error=params["error"])
            raise self.ctx.error(f"sign-in refused: {params['error']}", venue_code=params["error"])
        code = params.get("code")
        if not code:
            raise self.ctx.error("sign-in redirect carried no authorization code")
        known_secrets.register(code)

        async def exchange(client: Any) -> Mapping[str, Any]:
            client.redirect_uri = redirect_uri
            result: Mapping[str, Any] = await client.fetch_token(
                self.token_url, grant_type="authorization_code", code=code, code_verifier=verifier,
                redirect_uri=redirect_uri,
            )
            return result

        try:
            token = await self._token_request("authorization code exchange", exchange)
        except AuthError as exc:
            self.ctx.record("auth.login", outcome="failure", error=exc.message)
            raise
        self.set_token(token)
        self.refresh_count += 1
        self.ctx.record("auth.login", flow="authorization_code")
        return token

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        if current is None or current.refresh_token is None:
            raise self.ctx.error(
                f"not signed in: run `portico credentials login {self.ctx.system_id}` to authorize"
            )
        return await self._refresh(current)


class JwtBearerAuth(_OAuth2Base):
    """OAuth 2.0 JWT bearer grant (RFC 7523 §2.1): the client signs an assertion with its private key.

    Credentials: ``private_key`` (PEM, RSA or EC), optional ``client_id``.
    Options: ``token_url``, ``issuer`` (default the client id), ``subject`` (default the issuer),
    ``audience`` of the assertion (default the token URL), ``alg`` (``RS256`` default, or ``ES256``),
    ``key_id`` (``kid`` header), ``assertion_lifetime`` (seconds, default 300), ``scope``.
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        super().__init__(ctx, credentials, options)
        pem = require_credential(ctx, credentials, "private_key")
        assert pem is not None
        self.alg = str(option(ctx, options, "alg", "RS256"))
        if self.alg not in {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}:
            raise ConfigurationError(
                f"{ctx.system_id}: unsupported JWT alg {self.alg!r}",
                path=f"systems.{ctx.system_id}.authentication.options.alg",
            )
        from joserfc.jwk import ECKey, RSAKey

        key_cls = ECKey if self.alg.startswith("ES") else RSAKey
        try:
            self._key = key_cls.import_key(pem.get_secret_value())
        except Exception:
            raise ConfigurationError(
                f"{ctx.system_id}: private_key is not a valid {key_cls.__name__[:-3]} PEM key for {self.alg}",
                path=f"systems.{ctx.system_id}.authentication.credentials.private_key",
            ) from None
        issuer = option(ctx, options, "issuer", None) or (self.client_id.get_secret_value() if self.client_id else None)
        if not issuer:
            raise ConfigurationError(
                f"{ctx.system_id}: jwt_bearer needs option 'issuer' or credential 'client_id'",
                path=f"systems.{ctx.system_id}.authentication.options.issuer",
            )
        self.issuer = str(issuer)
        self.subject = str(option(ctx, options, "subject", self.issuer))
        self.assertion_audience = str(option(ctx, options, "assertion_audience", self.token_url))
        self.key_id = option(ctx, options, "key_id", None)
        self.lifetime = int(option(ctx, options, "assertion_lifetime", 300, kind=int))

    def assertion(self) -> str:
        """A freshly signed assertion (new ``jti`` each time, so it cannot be replayed)."""
        from joserfc import jwt

        now = int(self.ctx.clock.now().timestamp())
        claims = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.assertion_audience,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        header: dict[str, Any] = {"alg": self.alg, "typ": "JWT"}
        if self.key_id:
            header["kid"] = self.key_id
        token = jwt.encode(header, claims, self._key, algorithms=[self.alg])
        known_secrets.register(token)
        return token

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        assertion = self.assertion()
        return await self._token_request(
            "JWT bearer grant",
            lambda c: c.fetch_token(
                self.token_url,
                grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
                assertion=assertion,
                **self._extra(),
            ),
        )
