"""FactSet's OAuth 2.0 client credentials flow with a signed client assertion (``private_key_jwt``).

What FactSet's own ``fds.sdk.utils`` ``ConfidentialClient`` does, as an ``httpx.Auth`` flow on portico's
token cache (:class:`~portico.auth.TokenAuth`: single-flight refresh, one retry on 401):

1. GET the authorization server's metadata at ``well_known_uri`` once; it must name ``issuer`` and
   ``token_endpoint``.
2. Sign an RS256 JWT with the client's private JWK: ``iss = sub = client id``, ``aud = [issuer]``,
   ``nbf = now - 5 s``, ``iat = now``, ``exp = now + 300 s``, a fresh ``jti``, the JWK's ``kid`` in the header.
3. POST ``grant_type=client_credentials`` with ``client_assertion_type`` (jwt-bearer) and the assertion
   to the token endpoint; keep the access token until 30 s before it expires.

The core AuthenticationManager has no ``private_key_jwt`` client authentication (its ``jwt_bearer``
scheme is the RFC 7523 *grant*, with a PEM key, not a client assertion with a JWK); the FactSet plugin
contributes this scheme through ``portico_auth_schemes`` as ``factset_private_key_jwt``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from portico.auth import AuthContext, OAuthToken, TokenAuth, known_secrets
from portico.errors import ConfigurationError

__all__ = [
    "ASSERTION_TYPE",
    "DEFAULT_WELL_KNOWN_URI",
    "REQUIRED_JWK_MEMBERS",
    "SCHEME",
    "FactSetPrivateKeyJwtAuth",
    "factset_private_key_jwt",
    "load_private_jwk",
]

SCHEME = "factset_private_key_jwt"
"""The scheme's name in ``authentication.type``."""
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_WELL_KNOWN_URI = "https://auth.factset.com/.well-known/openid-configuration"
REQUIRED_JWK_MEMBERS = ("kty", "alg", "use", "kid", "n", "e", "d", "p", "q", "dp", "dq", "qi")
"""What FactSet's utilities require of the private JWK (FactSet's developer portal issues all of them)."""
_NOT_BEFORE = 5
_LIFETIME = 300
_EXPIRY_OFFSET = 30.0


def _credential_path(ctx: AuthContext, name: str) -> str:
    return f"systems.{ctx.system_id}.authentication.credentials.{name}"


def load_private_jwk(ctx: AuthContext, value: SecretStr | str | Mapping[str, Any] | None) -> RSAKey:
    """The private RSA key of a JWK given as JSON text (the vault's form) or as a mapping.

    Raises:
        ConfigurationError: missing, not JSON, missing a member FactSet requires, not an RS256 RSA
            private key. The message names the credential, never its value.
    """
    path = _credential_path(ctx, "jwk")
    if value is None:
        raise ConfigurationError(
            f"{ctx.system_id}: auth scheme {ctx.scheme!r} needs credential 'jwk'", path=path
        )
    if isinstance(value, Mapping):
        data: Any = dict(value)
    else:
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigurationError(
                f"{ctx.system_id}: credential 'jwk' is not JSON (give the private JWK FactSet issued)",
                path=path,
            ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{ctx.system_id}: credential 'jwk' must be a JSON object", path=path)
    missing = [m for m in REQUIRED_JWK_MEMBERS if m not in data]
    if missing:
        raise ConfigurationError(
            f"{ctx.system_id}: credential 'jwk' lacks {', '.join(missing)} (a private RSA JWK needs "
            f"{', '.join(REQUIRED_JWK_MEMBERS)})",
            path=path,
        )
    if data["kty"] != "RSA" or data["alg"] != "RS256":
        raise ConfigurationError(
            f"{ctx.system_id}: credential 'jwk' must be an RSA key for RS256 (got kty={data['kty']!r}, "
            f"alg={data['alg']!r})",
            path=path,
        )
    try:
        key = RSAKey.import_key(data)
    except (JoseError, ValueError, TypeError):
        raise ConfigurationError(
            f"{ctx.system_id}: credential 'jwk' is not a valid RSA key", path=path
        ) from None
    if not key.is_private:
        raise ConfigurationError(f"{ctx.system_id}: credential 'jwk' holds no private key", path=path)
    known_secrets.register(*(str(data[m]) for m in ("d", "p", "q", "dp", "dq", "qi")))
    return key


class FactSetPrivateKeyJwtAuth(TokenAuth):
    """Bearer tokens from FactSet's authorization server, obtained with a signed client assertion.

    Credentials: ``client_id`` (the OAuth client registered on FactSet's developer portal) and ``jwk``
    (its private JWK, JSON). Options: ``well_known_uri`` (default FactSet's), ``token_timeout`` (seconds,
    default 30), ``refresh_skew`` (seconds before expiry a token is renewed, default 30 as FactSet's
    utilities do).
    """

    def __init__(
        self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]
    ) -> None:
        super().__init__(ctx, skew=float(options.get("refresh_skew", _EXPIRY_OFFSET)), persist=False)
        client_id = credentials.get("client_id")
        plain_id = client_id.get_secret_value() if isinstance(client_id, SecretStr) else client_id
        if not plain_id:
            raise ConfigurationError(
                f"{ctx.system_id}: auth scheme {ctx.scheme!r} needs credential 'client_id'",
                path=_credential_path(ctx, "client_id"),
            )
        self.client_id = str(plain_id)
        self._key = load_private_jwk(ctx, credentials.get("jwk"))
        self.key_id = str(self._key.kid)
        self.well_known_uri = str(options.get("well_known_uri") or DEFAULT_WELL_KNOWN_URI)
        try:
            self.timeout = float(options.get("token_timeout", 30.0))
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"{ctx.system_id}: option 'token_timeout' must be a number of seconds",
                path=f"systems.{ctx.system_id}.authentication.options.token_timeout",
            ) from None
        self.issuer: str | None = None
        self.token_endpoint: str | None = None
        self.metadata_requests = 0

    def __repr__(self) -> str:
        return f"FactSetPrivateKeyJwtAuth(system={self.ctx.system_id!r}, client_id={self.client_id!r}, kid={self.key_id!r})"

    def assertion(self) -> str:
        """A freshly signed client assertion (a new ``jti`` each time, so it cannot be replayed)."""
        assert self.issuer is not None, "the metadata is read before an assertion is signed"
        now = self.ctx.clock.now().timestamp()
        claims = {
            "sub": self.client_id,
            "iss": self.client_id,
            "aud": [self.issuer],
            "nbf": int(now) - _NOT_BEFORE,
            "iat": int(now),
            "exp": int(now) + _LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode({"alg": "RS256", "kid": self.key_id}, claims, self._key, algorithms=["RS256"])
        known_secrets.register(token)
        return token

    async def _metadata(self, client: httpx.AsyncClient) -> None:
        if self.token_endpoint is not None:
            return
        self.metadata_requests += 1
        try:
            response = await client.get(self.well_known_uri, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise self.ctx.error(f"authorization server metadata unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise self.ctx.error(
                f"authorization server metadata answered HTTP {response.status_code}",
                status_code=response.status_code,
            )
        try:
            meta = response.json()
        except ValueError:
            raise self.ctx.error("authorization server metadata is not JSON") from None
        if not isinstance(meta, dict) or not meta.get("issuer") or not meta.get("token_endpoint"):
            raise self.ctx.error("authorization server metadata must name 'issuer' and 'token_endpoint'")
        self.issuer = str(meta["issuer"])
        self.token_endpoint = str(meta["token_endpoint"])

    async def _obtain(self, current: OAuthToken | None) -> OAuthToken:
        async with self.ctx.http_client(timeout=self.timeout) as client:
            await self._metadata(client)
            assert self.token_endpoint is not None
            form = {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(),
            }
            try:
                response = await client.post(
                    self.token_endpoint, data=form, headers={"Accept": "application/json"}
                )
            except httpx.TimeoutException:
                raise self.ctx.error(f"token request timed out after {self.timeout:g}s") from None
            except httpx.HTTPError as exc:
                raise self.ctx.error(f"token request failed: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            code = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            raise self.ctx.error(
                f"the token endpoint refused the client assertion (HTTP {response.status_code}"
                + (f", {code}" if code else "")
                + (f": {description}" if description else "")
                + ")",
                status_code=response.status_code,
                venue_code=code,
            )
        if not isinstance(body, dict):
            raise self.ctx.error("the token endpoint's answer is not a JSON object")
        try:
            return OAuthToken.from_response(body, self.ctx.clock.now())
        except ValueError as exc:
            raise self.ctx.error(f"unreadable token answer ({exc})") from None


def factset_private_key_jwt(
    ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]
) -> httpx.Auth:
    """The scheme factory the plugin contributes (see :data:`portico.auth.SchemeFactory`)."""
    return FactSetPrivateKeyJwtAuth(ctx, credentials, options)
