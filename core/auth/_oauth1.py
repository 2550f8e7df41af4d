"""OAuth 1.0a (RFC 5849), three-legged, as E*TRADE uses it; signing and the token dance are authlib's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from portico.auth._base import AuthContext, option, require_credential
from portico.auth._errors import SecretNotFound, VaultError
from portico.auth._oauth2 import LoopbackRedirect, Opener, _open, authlib_httpx
from portico.auth._redaction import known_secrets, redact
from portico.errors import ConfigurationError

__all__ = ["OAuth1Scheme"]


class OAuth1Scheme(httpx.Auth):
    """Signs every request with OAuth 1.0a HMAC-SHA1 using the consumer and access-token secrets.

    Credentials: ``consumer_key``, ``consumer_secret`` and, once authorized, ``token``/``token_secret``
    (or they are read from the vault entry ``<system>/oauth1_token`` that :meth:`login` writes).
    Options: ``request_token_url``, ``authorize_url``, ``access_token_url``, ``callback``
    (``oob`` for an out-of-band verifier typed by the user, or ``loopback`` for a 127.0.0.1 redirect),
    ``signature_type`` (``HEADER`` default, ``QUERY``, ``BODY``).
    """

    requires_request_body = True

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        consumer_key = require_credential(ctx, credentials, "consumer_key", "client_id")
        consumer_secret = require_credential(ctx, credentials, "consumer_secret", "client_secret")
        assert consumer_key is not None and consumer_secret is not None
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._token = require_credential(ctx, credentials, "token", "access_token", optional=True)
        self._token_secret = require_credential(ctx, credentials, "token_secret", "access_token_secret", optional=True)
        self.request_token_url = option(ctx, options, "request_token_url", None)
        self.authorize_url = option(ctx, options, "authorize_url", None)
        self.access_token_url = option(ctx, options, "access_token_url", None)
        self.callback = str(option(ctx, options, "callback", "oob"))
        self.signature_type = str(option(ctx, options, "signature_type", "HEADER")).upper()
        self.timeout = float(option(ctx, options, "token_timeout", 30.0, kind=float))
        if self._token is None and ctx.vault is not None:
            self._load()

    def __repr__(self) -> str:
        return f"OAuth1Scheme(system={self.ctx.system_id!r}, authorized={self._token is not None})"

    @property
    def token_key(self) -> str:
        """The vault name the access token is kept under."""
        return f"{self.ctx.system_id}/oauth1_token"

    @property
    def authorized(self) -> bool:
        """Whether an access token is available."""
        return self._token is not None and self._token_secret is not None

    def _load(self) -> None:
        assert self.ctx.vault is not None
        try:
            data = json.loads(self.ctx.vault.get(self.token_key).get_secret_value())
        except (VaultError, ValueError):
            return
        self._token = SecretStr(data["token"])
        self._token_secret = SecretStr(data["token_secret"])
        known_secrets.register(self._token, self._token_secret)

    def _signer(self) -> Any:
        return authlib_httpx().OAuth1Auth(
            client_id=self._consumer_key.get_secret_value(),
            client_secret=self._consumer_secret.get_secret_value(),
            token=self._token.get_secret_value() if self._token else None,
            token_secret=self._token_secret.get_secret_value() if self._token_secret else None,
            signature_type=self.signature_type,
        )

    def sign(self, request: httpx.Request) -> httpx.Request:
        """``request`` signed, its body kept.

        authlib signs a JSON or XML body without it (RFC 5849 covers form bodies only) and then drops it
        from the request it builds; the body the caller gave is sent under the signed headers.
        """
        signed: httpx.Request = next(self._signer().auth_flow(request))
        if not request.content or signed.content == request.content:
            return signed
        headers = httpx.Headers(signed.headers)
        headers["Content-Length"] = str(len(request.content))
        rebuilt = httpx.Request(request.method, signed.url, headers=headers, content=request.content)
        rebuilt.extensions = request.extensions
        return rebuilt

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.authorized:
            raise self.ctx.error(f"not authorized: run `portico credentials login {self.ctx.system_id}`")
        yield self.sign(request)

    def _client(self, **kwargs: Any) -> Any:
        AsyncOAuth1Client = authlib_httpx().AsyncOAuth1Client

        extra: dict[str, Any] = {"timeout": self.timeout}
        if self.ctx.transport is not None:
            extra["transport"] = self.ctx.transport
        return AsyncOAuth1Client(
            self._consumer_key.get_secret_value(),
            self._consumer_secret.get_secret_value(),
            signature_type=self.signature_type,
            **extra,
            **kwargs,
        )

    async def login(self, opener: Opener | None = None) -> None:
        """The three legs: request token, user authorization, access token; the result goes to the vault.

        With ``callback: oob`` the verifier comes from the interactive-factor hook (the user types the
        code the venue shows); with ``callback: loopback`` it is caught on a 127.0.0.1 redirect.

        Raises:
            AuthError: a leg was refused.
        """
        import webbrowser

        from authlib.integrations.base_client import OAuthError

        for name in ("request_token_url", "authorize_url", "access_token_url"):
            if not getattr(self, name):
                raise ConfigurationError(
                    f"{self.ctx.system_id}: OAuth 1 login needs option {name!r}",
                    path=f"systems.{self.ctx.system_id}.authentication.options.{name}",
                )
        opener = opener or webbrowser.open
        self.ctx.record("auth.login", outcome="started", flow="oauth1")
        try:
            if self.callback == "loopback":
                loopback = LoopbackRedirect()
                async with loopback, self._client(redirect_uri=loopback.redirect_uri) as client:
                    request_token = await client.fetch_request_token(self.request_token_url)
                    known_secrets.register(request_token.get("oauth_token_secret"))
                    url = client.create_authorization_url(self.authorize_url, request_token["oauth_token"])
                    await _open(opener, url)
                    params = await loopback.wait(300)
                    verifier = params.get("oauth_verifier", "")
                    token = await client.fetch_access_token(self.access_token_url, verifier=verifier)
            else:
                async with self._client(redirect_uri="oob") as client:
                    request_token = await client.fetch_request_token(self.request_token_url)
                    known_secrets.register(request_token.get("oauth_token_secret"))
                    url = client.create_authorization_url(self.authorize_url, request_token["oauth_token"])
                    await _open(opener, url)
                    verifier = await self.ctx.ask(f"enter the verification code shown after authorizing at {url}")
                    token = await client.fetch_access_token(self.access_token_url, verifier=verifier)
        except OAuthError as exc:
            self.ctx.record("auth.login", outcome="failure", error=str(exc.error))
            raise self.ctx.error(f"OAuth 1 login refused: {exc.error}") from None
        except httpx.HTTPStatusError as exc:
            body = redact(exc.response.text[:200])
            self.ctx.record("auth.login", outcome="failure", status=exc.response.status_code)
            raise self.ctx.error(f"OAuth 1 login refused: HTTP {exc.response.status_code}: {body}",
                                 status_code=exc.response.status_code) from None
        except httpx.HTTPError as exc:
            self.ctx.record("auth.login", outcome="failure", error=type(exc).__name__)
            raise self.ctx.error(f"OAuth 1 login failed: {type(exc).__name__}") from None
        self._token = SecretStr(token["oauth_token"])
        self._token_secret = SecretStr(token["oauth_token_secret"])
        known_secrets.register(self._token, self._token_secret)
        if self.ctx.vault is not None:
            self.ctx.vault.set(
                self.token_key,
                json.dumps({"token": token["oauth_token"], "token_secret": token["oauth_token_secret"]}),
            )
        self.ctx.record("auth.login", flow="oauth1")

    def revoke(self) -> None:
        """Forget the access token locally (and in the vault)."""
        self._token = self._token_secret = None
        if self.ctx.vault is not None:
            with contextlib.suppress(SecretNotFound):
                self.ctx.vault.delete(self.token_key)
        self.ctx.record("auth.revoke", flow="oauth1")
