"""The mock authorization server: a real OAuth 2.0 / OAuth 1.0a / HMAC server for tests and demos.

Endpoints (all under the app root)::

    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
    GET  /.well-known/jwks.json                    the server's public signing keys (RFC 7517)
    GET  /authorize                                authorization code + PKCE (auto-approve by default)
    POST /authorize                                the consent form's answer (when auto-approve is off)
    POST /token                                    authorization_code, client_credentials, refresh_token,
                                                   urn:ietf:params:oauth:grant-type:jwt-bearer
    POST /revoke                                   RFC 7009
    POST /introspect                               RFC 7662
    GET  /api/me                                   a protected resource (Bearer)
    POST /oauth1/request_token, GET /oauth1/authorize, POST /oauth1/access_token, ANY /oauth1/echo
    ANY  /hmac/echo                                verifies portico's HMAC request signature
    ANY  /apikey/echo                              checks an API key (header, query, key pair, Basic)
    /__mock__/oauth/...                            admin: clients, consumers, HMAC keys, faults, state,
                                                   token expiry (plus the kit's /__mock__ faults, journal, clock)

Refresh tokens rotate on every use; presenting a spent refresh token is treated as theft (RFC 6819
§5.2.2.3, OAuth 2.1 §6.1): the whole token family, access tokens included, is revoked.

Faults (``faults=`` mapping, or ``POST /__mock__/oauth/faults``): ``token_delay`` (seconds the token endpoint
stalls), ``invalid_grant`` (the next N grant requests fail with ``invalid_grant``; ``true`` = all),
``expire_tokens`` (every access token is expired), ``revoke_tokens`` (every token is revoked),
``clock_skew`` (seconds the server clock runs ahead), ``token_ttl`` (access-token lifetime),
``auto_approve`` (default true), ``deny_authorization`` (the user refuses consent),
``token_status`` (an HTTP status the token endpoint answers with, e.g. 503).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from portico.mocks._kit import MockApp, MockClock

__all__ = ["AUTH_FAULTS", "DEFAULT_CLIENTS", "MockAuthServer", "create_app"]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

DEFAULT_CLIENTS: dict[str, dict[str, Any]] = {
    "portico-client": {"client_secret": "portico-client-secret"},
    "portico-public": {"client_secret": None},
}
"""Clients every fresh server knows (more are registered with ``POST /__mock__/oauth/clients``)."""

DEFAULT_CONSUMERS = {"portico-consumer": "portico-consumer-secret"}
DEFAULT_HMAC_KEYS = {"portico-hmac-key": "portico-hmac-secret"}
DEFAULT_API_KEYS = {"portico-api-key": "portico-api-secret"}


@dataclass
class _Client:
    client_id: str
    client_secret: str | None
    public_key: Any = None  # a joserfc key that verifies this client's JWT-bearer assertions


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    scope: str | None
    expires: float
    used: bool = False


@dataclass
class _Refresh:
    client_id: str
    family: str
    scope: str | None
    used: bool = False
    revoked: bool = False


@dataclass
class _Access:
    client_id: str
    family: str | None
    scope: str | None
    subject: str
    issued: float
    expires: float
    revoked: bool = False


@dataclass
class _OAuth1Token:
    consumer: str
    secret: str
    kind: str  # "request" or "access"
    callback: str | None = None
    verifier: str | None = None
    used: bool = False


@dataclass
class MockAuthServer:
    """The server's state: clients, codes, tokens and auth faults; time comes from the kit's clock."""

    seed: int = 0
    faults: dict[str, Any] = field(default_factory=dict)
    clock: Any = None
    clients: dict[str, _Client] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    refresh_tokens: dict[str, _Refresh] = field(default_factory=dict)
    access_tokens: dict[str, _Access] = field(default_factory=dict)
    consumers: dict[str, str] = field(default_factory=dict)
    oauth1_tokens: dict[str, _OAuth1Token] = field(default_factory=dict)
    hmac_keys: dict[str, str] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)
    grants: dict[str, int] = field(default_factory=dict)
    seen_jti: set[str] = field(default_factory=set)
    seen_nonces: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = MockClock(datetime.now(UTC), realtime=True)
        self.rng = random.Random(self.seed)
        self.signing_key = RSAKey.generate_key(2048, parameters={"kid": f"mock-{self.seed}", "use": "sig"})
        for client_id, cfg in DEFAULT_CLIENTS.items():
            self.clients[client_id] = _Client(client_id, cfg["client_secret"])
        self.consumers.update(DEFAULT_CONSUMERS)
        self.hmac_keys.update(DEFAULT_HMAC_KEYS)
        self.api_keys.update(DEFAULT_API_KEYS)

    # -- helpers -----------------------------------------------------------------------------------

    def now(self) -> float:
        """The server clock (Unix seconds), including any injected skew."""
        return self.clock.now().timestamp() + float(self.faults.get("clock_skew", 0) or 0)

    def token(self, prefix: str, nbytes: int = 24) -> str:
        """A deterministic (per seed) opaque token."""
        return prefix + self.rng.randbytes(nbytes).hex()

    def issue(self, client_id: str, scope: str | None, *, subject: str, family: str | None, refresh: bool) -> dict[str, Any]:
        """Issue an access token (a JWT signed with the server key) and, optionally, a refresh token."""
        now = self.now()
        ttl = float(self.faults.get("token_ttl", 3600))
        jti = self.token("", 12)
        claims = {
            "iss": "portico-mock-oauth",
            "sub": subject,
            "client_id": client_id,
            "scope": scope or "",
            "iat": int(now),
            "exp": int(now + ttl),
            "jti": jti,
        }
        access = jwt.encode({"alg": "RS256", "kid": self.signing_key.kid}, claims, self.signing_key)
        self.access_tokens[access] = _Access(client_id, family, scope, subject, now, now + ttl)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": int(ttl)}
        if scope:
            body["scope"] = scope
        if refresh:
            family = family or self.token("fam_", 8)
            rt = self.token("rt_")
            self.refresh_tokens[rt] = _Refresh(client_id, family, scope)
            self.access_tokens[access].family = family
            body["refresh_token"] = rt
        return body

    def revoke_family(self, family: str) -> None:
        """Revoke every refresh and access token of one grant."""
        for refresh in self.refresh_tokens.values():
            if refresh.family == family:
                refresh.revoked = True
        for access in self.access_tokens.values():
            if access.family == family:
                access.revoked = True

    def access_status(self, token: str) -> tuple[_Access | None, str | None]:
        """The access token's record and, when it is not usable, why."""
        record = self.access_tokens.get(token)
        if record is None:
            return None, "unknown token"
        if record.revoked or self.faults.get("revoke_tokens"):
            return record, "token revoked"
        if record.expires <= self.now() or self.faults.get("expire_tokens"):
            return record, "token expired"
        return record, None

    def take_invalid_grant(self) -> bool:
        """Whether this grant request must fail with ``invalid_grant`` (consumes one from a count)."""
        fault = self.faults.get("invalid_grant")
        if fault is True:
            return True
        if isinstance(fault, int) and not isinstance(fault, bool) and fault > 0:
            self.faults["invalid_grant"] = fault - 1
            return True
        return False


def _oauth_error(error: str, description: str, status: int = 400, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


async def _form(request: Request) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body (every OAuth endpoint takes that encoding)."""
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _client_auth(state: MockAuthServer, request: Request, form: Mapping[str, str]) -> tuple[_Client | None, str | None]:
    """Authenticate the client by HTTP Basic or ``client_secret_post``; public clients give only an id."""
    header = request.headers.get("authorization", "")
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    if header.lower().startswith("basic "):
        try:
            from urllib.parse import unquote

            raw = base64.b64decode(header[6:]).decode()
            cid, _, pw = raw.partition(":")
            client_id, secret = unquote(cid), unquote(pw)
        except ValueError:
            return None, "malformed Basic credentials"
    if not client_id:
        return None, "client authentication required"
    client = state.clients.get(client_id)
    if client is None:
        return None, "unknown client"
    if client.client_secret is not None and (
        secret is None or not hmac.compare_digest(secret, client.client_secret)
    ):
        return None, "client authentication failed"
    return client, None


AUTH_FAULTS = frozenset(
    {
        "token_delay",
        "invalid_grant",
        "expire_tokens",
        "revoke_tokens",
        "clock_skew",
        "token_ttl",
        "auto_approve",
        "deny_authorization",
        "token_status",
        "hmac_tolerance",
    }
)
"""The auth-specific fault names (see the module docstring)."""


def _split_faults(faults: Any) -> tuple[dict[str, Any], Any]:
    """Separate auth faults (a mapping of :data:`AUTH_FAULTS`) from the kit's fault rules."""
    if isinstance(faults, Mapping) and (set(faults) & AUTH_FAULTS or set(faults) <= {"auth", "faults"}):
        auth = {k: v for k, v in faults.items() if k in AUTH_FAULTS}
        auth.update(faults.get("auth") or {})
        unknown = set(faults) - AUTH_FAULTS - {"auth", "faults"}
        if unknown:
            raise ValueError(f"unknown oauth mock faults {sorted(unknown)}; known: {sorted(AUTH_FAULTS)}")
        return auth, faults.get("faults")
    return {}, faults


def create_app(seed: int = 0, faults: Any = None, *, clock: MockClock | None = None) -> MockApp:
    """Build the mock authorization server.

    Args:
        seed: seeds token values, so runs are reproducible.
        faults: auth faults as a mapping (``{"invalid_grant": 1, "clock_skew": 300}``), optionally with
            the kit's rules under ``faults``; or kit fault rules alone (a file path, a list of rules).
        clock: the server's clock; default a real-time :class:`~portico.mocks.MockClock` (OAuth 1
            timestamps and JWT assertions are checked against it).

    Returns:
        a :class:`~portico.mocks.MockApp`; its auth state is ``app.state.oauth`` (a :class:`MockAuthServer`).
    """
    auth_faults, kit_faults = _split_faults(faults)
    clock = clock or MockClock(datetime.now(UTC), realtime=True)
    state = MockAuthServer(seed=seed, faults=auth_faults, clock=clock)

    async def metadata(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "issuer": "portico-mock-oauth",
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "revocation_endpoint": f"{base}/revoke",
                "introspection_endpoint": f"{base}/introspect",
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", JWT_BEARER],
                "code_challenge_methods_supported": ["S256", "plain"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(KeySet([state.signing_key]).as_dict(private=False))

    # -- authorization code + PKCE -----------------------------------------------------------------

    def _authorize_redirect(params: Mapping[str, str], approve: bool) -> Response:
        redirect_uri = params["redirect_uri"]
        query: dict[str, str] = {}
        if approve:
            code = state.token("code_", 16)
            state.codes[code] = _Code(
                client_id=params["client_id"],
                redirect_uri=redirect_uri,
                challenge=params.get("code_challenge"),
                method=params.get("code_challenge_method") or ("plain" if params.get("code_challenge") else None),
                scope=params.get("scope"),
                expires=state.now() + 600,
            )
            query["code"] = code
        else:
            query["error"] = "access_denied"
        if params.get("state"):
            query["state"] = params["state"]
        parts = urlsplit(redirect_uri)
        joined = f"{parts.query}&{urlencode(query)}" if parts.query else urlencode(query)
        return RedirectResponse(urlunsplit(parts._replace(query=joined)), status_code=302)

    def _check_authorize(params: Mapping[str, str]) -> Response | None:
        client = state.clients.get(params.get("client_id", ""))
        if client is None:
            return PlainTextResponse("unknown client_id", status_code=400)
        redirect_uri = params.get("redirect_uri", "")
        host = urlsplit(redirect_uri).hostname
        # Loopback redirects on any port are allowed (RFC 8252 §7.3); that is what portico's CLI login uses.
        if host not in {"127.0.0.1", "localhost", "::1"} and not redirect_uri.startswith("https://"):
            return PlainTextResponse("redirect_uri must be https or loopback", status_code=400)
        if params.get("response_type") != "code":
            return _authorize_redirect_error(params, "unsupported_response_type")
        if client.client_secret is None and not params.get("code_challenge"):
            return _authorize_redirect_error(params, "invalid_request")  # public clients must use PKCE
        if params.get("code_challenge_method") not in (None, "", "S256", "plain"):
            return _authorize_redirect_error(params, "invalid_request")
        return None

    def _authorize_redirect_error(params: Mapping[str, str], error: str) -> Response:
        query = {"error": error, **({"state": params["state"]} if params.get("state") else {})}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await _form(request))
        problem = _check_authorize(params)
        if problem is not None:
            return problem
        if request.method == "POST":
            approve = params.get("decision") == "approve"
            return _authorize_redirect(params, approve)
        if state.faults.get("deny_authorization"):
            return _authorize_redirect(params, False)
        if state.faults.get("auto_approve", True):
            return _authorize_redirect(params, True)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        page = (
            "<!doctype html><title>Authorize</title><form method=post>"
            f"<p>Allow <b>{html.escape(params['client_id'])}</b> access ({html.escape(params.get('scope', ''))})?</p>"
            f"{hidden}<button name=decision value=approve>Approve</button>"
            "<button name=decision value=deny>Deny</button></form>"
        )
        return HTMLResponse(page)

    # -- token endpoint ----------------------------------------------------------------------------

    async def token(request: Request) -> Response:
        delay = float(state.faults.get("token_delay", 0) or 0)
        if delay:
            await asyncio.sleep(delay)
        form = await _form(request)
        grant = form.get("grant_type", "")
        state.grants[grant] = state.grants.get(grant, 0) + 1
        response = await _token(request, form, grant)
        return response

    async def _token(request: Request, form: Mapping[str, str], grant: str) -> Response:
        forced = state.faults.get("token_status")
        if forced:
            return PlainTextResponse("token endpoint unavailable", status_code=int(forced))
        if grant == JWT_BEARER:
            return _jwt_bearer(request, form)
        client, problem = _client_auth(state, request, form)
        if client is None:
            return _oauth_error("invalid_client", problem or "client authentication failed", 401,
                                **{"WWW-Authenticate": 'Basic realm="mock"'})
        if state.take_invalid_grant():
            return _oauth_error("invalid_grant", "grant refused (injected fault)")
        if grant == "client_credentials":
            if client.client_secret is None:
                return _oauth_error("unauthorized_client", "public clients cannot use client_credentials")
            return JSONResponse(
                state.issue(client.client_id, form.get("scope"), subject=client.client_id, family=None, refresh=False),
                headers={"Cache-Control": "no-store"},
            )
        if grant == "authorization_code":
            return _authorization_code(client, form)
        if grant == "refresh_token":
            return _refresh(client, form)
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _authorization_code(client: _Client, form: Mapping[str, str]) -> Response:
        code = state.codes.get(form.get("code", ""))
        if code is None or code.client_id != client.client_id:
            return _oauth_error("invalid_grant", "unknown authorization code")
        if code.used:
            return _oauth_error("invalid_grant", "authorization code already used")
        code.used = True
        if code.expires <= state.now():
            return _oauth_error("invalid_grant", "authorization code expired")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        if code.challenge:
            verifier = form.get("code_verifier", "")
            if not verifier:
                return _oauth_error("invalid_grant", "code_verifier required (PKCE)")
            if code.method == "S256":
                digest = hashlib.sha256(verifier.encode("ascii")).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                computed = verifier
            if not hmac.compare_digest(computed, code.challenge):
                return _oauth_error("invalid_grant", "PKCE verification failed")
        return JSONResponse(
            state.issue(client.client_id, code.scope, subject="mock-user", family=None, refresh=True),
            headers={"Cache-Control": "no-store"},
        )

    def _refresh(client: _Client, form: Mapping[str, str]) -> Response:
        presented = form.get("refresh_token", "")
        record = state.refresh_tokens.get(presented)
        if record is None or record.client_id != client.client_id:
            return _oauth_error("invalid_grant", "unknown refresh token")
        if record.revoked:
            return _oauth_error("invalid_grant", "refresh token revoked")
        if record.used:
            state.revoke_family(record.family)
            return _oauth_error("invalid_grant", "refresh token reuse detected; the grant is revoked")
        record.used = True
        return JSONResponse(
            state.issue(client.client_id, form.get("scope") or record.scope, subject="mock-user",
                        family=record.family, refresh=True),
            headers={"Cache-Control": "no-store"},
        )

    def _jwt_bearer(request: Request, form: Mapping[str, str]) -> Response:
        assertion = form.get("assertion", "")
        # The issuer names the key to verify with, so it is read before the signature is checked.
        try:
            payload_b64 = assertion.split(".")[1]
            claims_unverified = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
            if not isinstance(claims_unverified, dict):
                raise ValueError("claims are not an object")
        except (IndexError, ValueError):
            return _oauth_error("invalid_grant", "malformed assertion")
        issuer = str(claims_unverified.get("iss", ""))
        client = state.clients.get(issuer)
        if client is None or client.public_key is None:
            return _oauth_error("invalid_grant", "no key registered for the assertion's issuer")
        algorithms = ["ES256", "ES384"] if isinstance(client.public_key, ECKey) else ["RS256", "RS384", "RS512", "PS256"]
        try:
            claims = jwt.decode(assertion, client.public_key, algorithms=algorithms).claims
        except (JoseError, ValueError):
            return _oauth_error("invalid_grant", "assertion signature is invalid")
        now = state.now()
        token_url = str(request.url).split("?")[0]
        if claims.get("aud") not in (token_url, [token_url]) and token_url not in (claims.get("aud") or []):
            return _oauth_error("invalid_grant", "assertion audience is not this token endpoint")
        if float(claims.get("exp", 0)) < now - 30:
            return _oauth_error("invalid_grant", "assertion expired")
        if float(claims.get("iat", now)) > now + 60:
            return _oauth_error("invalid_grant", "assertion issued in the future (clock skew)")
        jti = str(claims.get("jti") or "")
        if not jti or jti in state.seen_jti:
            return _oauth_error("invalid_grant", "assertion replayed (jti already seen)")
        state.seen_jti.add(jti)
        if state.take_invalid_grant():
            return _oauth_error("invalid_grant", "grant refused (injected fault)")
        return JSONResponse(
            state.issue(client.client_id, form.get("scope"), subject=str(claims.get("sub")), family=None, refresh=False),
            headers={"Cache-Control": "no-store"},
        )

    # -- revocation and introspection ----------------------------------------------------------------

    async def revoke(request: Request) -> Response:
        form = await _form(request)
        client, problem = _client_auth(state, request, form)
        if client is None:
            return _oauth_error("invalid_client", problem or "client authentication failed", 401)
        value = form.get("token", "")
        refresh = state.refresh_tokens.get(value)
        if refresh is not None and refresh.client_id == client.client_id:
            state.revoke_family(refresh.family)
        access = state.access_tokens.get(value)
        if access is not None and access.client_id == client.client_id:
            access.revoked = True
        return Response(status_code=200)  # RFC 7009 §2.2: 200 even for unknown tokens

    async def introspect(request: Request) -> Response:
        form = await _form(request)
        client, problem = _client_auth(state, request, form)
        if client is None:
            return _oauth_error("invalid_client", problem or "client authentication failed", 401)
        value = form.get("token", "")
        record, why = state.access_status(value)
        if record is not None and why is None:
            return JSONResponse(
                {
                    "active": True,
                    "token_type": "access_token",
                    "client_id": record.client_id,
                    "scope": record.scope or "",
                    "sub": record.subject,
                    "iat": int(record.issued),
                    "exp": int(record.expires),
                    "iss": "portico-mock-oauth",
                }
            )
        refresh = state.refresh_tokens.get(value)
        if refresh is not None and not refresh.revoked and not refresh.used:
            return JSONResponse(
                {"active": True, "token_type": "refresh_token", "client_id": refresh.client_id, "scope": refresh.scope or ""}
            )
        return JSONResponse({"active": False})

    async def me(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _oauth_error("invalid_request", "bearer token required", 401, **{"WWW-Authenticate": 'Bearer realm="mock"'})
        record, why = state.access_status(header[7:].strip())
        if record is None or why is not None:
            return _oauth_error(
                "invalid_token", why or "invalid token", 401,
                **{"WWW-Authenticate": f'Bearer realm="mock", error="invalid_token", error_description="{why}"'},
            )
        return JSONResponse({"client_id": record.client_id, "sub": record.subject, "scope": record.scope or ""})

    # -- OAuth 1.0a ---------------------------------------------------------------------------------

    async def _oauth1_verify(request: Request, token_kind: str | None) -> tuple[Any, Response | None]:
        from authlib.oauth1.rfc5849 import signature
        from authlib.oauth1.rfc5849.wrapper import OAuth1Request

        body = (await request.body()).decode() if request.method in {"POST", "PUT", "PATCH"} else None
        content_type = request.headers.get("content-type", "")
        try:
            req = OAuth1Request(
                request.method, str(request.url),
                body if "application/x-www-form-urlencoded" in content_type else None,
                dict(request.headers.items()) | {"Authorization": request.headers.get("authorization", "")},
            )
        except Exception as exc:
            return None, PlainTextResponse(f"oauth_problem=parameter_rejected ({type(exc).__name__})", status_code=400)
        consumer_secret = state.consumers.get(req.client_id or "")
        if consumer_secret is None:
            return None, PlainTextResponse("oauth_problem=consumer_key_unknown", status_code=401)
        ts = req.timestamp
        try:
            if abs(float(ts or 0) - state.now()) > 300:
                return None, PlainTextResponse("oauth_problem=timestamp_refused", status_code=401)
        except ValueError:
            return None, PlainTextResponse("oauth_problem=timestamp_refused", status_code=401)
        nonce = req.oauth_params.get("oauth_nonce", "")
        if not nonce or nonce in state.seen_nonces:
            return None, PlainTextResponse("oauth_problem=nonce_used", status_code=401)
        token_record: _OAuth1Token | None = None
        if token_kind is not None:
            token_record = state.oauth1_tokens.get(req.token or "")
            if token_record is None or token_record.kind != token_kind or token_record.used:
                return None, PlainTextResponse("oauth_problem=token_rejected", status_code=401)
        req.client = type("C", (), {"get_client_secret": lambda self: consumer_secret})()
        req.credential = (
            type("T", (), {"get_oauth_token_secret": lambda self: token_record.secret})() if token_record else None
        )
        if req.signature_method != "HMAC-SHA1" or not signature.verify_hmac_sha1(req):
            return None, PlainTextResponse("oauth_problem=signature_invalid", status_code=401)
        state.seen_nonces.add(nonce)
        return (req, token_record), None

    async def oauth1_request_token(request: Request) -> Response:
        verified, problem = await _oauth1_verify(request, None)
        if problem is not None:
            return problem
        req, _ = verified
        token_value = state.token("rq_", 12)
        secret = state.token("rqs_", 12)
        state.oauth1_tokens[token_value] = _OAuth1Token(req.client_id, secret, "request", callback=req.redirect_uri or "oob")
        return PlainTextResponse(
            urlencode({"oauth_token": token_value, "oauth_token_secret": secret, "oauth_callback_confirmed": "true"}),
            media_type="application/x-www-form-urlencoded",
        )

    async def oauth1_authorize(request: Request) -> Response:
        token_value = request.query_params.get("oauth_token", "")
        record = state.oauth1_tokens.get(token_value)
        if record is None or record.kind != "request":
            return PlainTextResponse("unknown request token", status_code=400)
        record.verifier = state.token("", 4)
        if record.callback and record.callback != "oob":
            sep = "&" if "?" in record.callback else "?"
            return RedirectResponse(
                f"{record.callback}{sep}{urlencode({'oauth_token': token_value, 'oauth_verifier': record.verifier})}",
                status_code=302,
            )
        # Out-of-band (E*TRADE style): the user reads the verifier off the page and types it in.
        return HTMLResponse(f"<p>Your verification code: <code id=verifier>{record.verifier}</code></p>")

    async def oauth1_access_token(request: Request) -> Response:
        verified, problem = await _oauth1_verify(request, "request")
        if problem is not None:
            return problem
        req, record = verified
        if not record.verifier or req.oauth_params.get("oauth_verifier") != record.verifier:
            return PlainTextResponse("oauth_problem=verifier_invalid", status_code=401)
        record.used = True
        token_value = state.token("ac_", 12)
        secret = state.token("acs_", 12)
        state.oauth1_tokens[token_value] = _OAuth1Token(record.consumer, secret, "access")
        return PlainTextResponse(
            urlencode({"oauth_token": token_value, "oauth_token_secret": secret}),
            media_type="application/x-www-form-urlencoded",
        )

    async def oauth1_echo(request: Request) -> Response:
        verified, problem = await _oauth1_verify(request, "access")
        if problem is not None:
            return problem
        req, _ = verified
        return JSONResponse({"ok": True, "consumer": req.client_id, "method": request.method,
                             "query": dict(request.query_params)})

    # -- HMAC echo ----------------------------------------------------------------------------------

    async def hmac_echo(request: Request) -> Response:
        now = state.now()
        time_headers = {"X-Server-Time": f"{now:.3f}", "Server-Date": formatdate(now, usegmt=True)}
        key_id = request.headers.get("x-portico-key", "")
        stamp = request.headers.get("x-portico-timestamp", "")
        given = request.headers.get("x-portico-signature", "")
        secret = state.hmac_keys.get(key_id)
        body = await request.body()
        if secret is None:
            return JSONResponse({"error": "unknown key"}, status_code=401, headers=time_headers)
        try:
            skew = abs(float(stamp) - now)
        except ValueError:
            return JSONResponse({"error": "bad timestamp"}, status_code=401, headers=time_headers)
        tolerance = float(state.faults.get("hmac_tolerance", 30))
        if skew > tolerance:
            return JSONResponse({"error": "timestamp outside tolerance", "skew": round(skew, 1)},
                                status_code=401, headers=time_headers)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = "\n".join([request.method, path, stamp, hashlib.sha256(body).hexdigest()])
        expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            return JSONResponse({"error": "signature mismatch"}, status_code=401, headers=time_headers)
        return JSONResponse({"ok": True, "method": request.method, "path": path, "body_sha256": hashlib.sha256(body).hexdigest()},
                            headers=time_headers)

    # -- API keys -----------------------------------------------------------------------------------

    async def apikey_echo(request: Request) -> Response:
        """Accepts a key in ``X-API-Key``, ``Authorization: Bearer``, the ``apikey`` query parameter,
        the Alpaca key-pair headers, or HTTP Basic (key:secret); says which one it saw."""
        headers = request.headers
        bearer = headers.get("authorization", "")
        candidates: list[tuple[str, str, str | None]] = []
        if headers.get("x-api-key"):
            candidates.append(("header", headers["x-api-key"], None))
        if bearer.lower().startswith("bearer "):
            candidates.append(("bearer", bearer[7:].strip(), None))
        if request.query_params.get("apikey"):
            candidates.append(("query", request.query_params["apikey"], None))
        if headers.get("apca-api-key-id"):
            candidates.append(("key_pair", headers["apca-api-key-id"], headers.get("apca-api-secret-key", "")))
        if bearer.lower().startswith("basic "):
            try:
                basic_key, _, basic_secret = base64.b64decode(bearer[6:]).decode().partition(":")
            except ValueError:
                basic_key, basic_secret = "", ""
            candidates.append(("basic", basic_key, basic_secret))
        if not candidates:
            return JSONResponse({"message": "no API key"}, status_code=401)
        method, presented, secret = candidates[0]
        expected = state.api_keys.get(presented)
        if expected is None or (secret is not None and not hmac.compare_digest(secret, expected)):
            return JSONResponse({"message": "invalid API key"}, status_code=401)
        return JSONResponse({"ok": True, "method": method})

    # -- admin ---------------------------------------------------------------------------------------

    async def admin_clients(request: Request) -> Response:
        data = await request.json()
        client_id = str(data["client_id"])
        key = None
        if data.get("public_key_pem"):
            pem = data["public_key_pem"]
            key = ECKey.import_key(pem) if "EC" in data.get("kty", "") else RSAKey.import_key(pem)
        elif data.get("jwk"):
            jwk = data["jwk"]
            key = ECKey.import_key(jwk) if jwk.get("kty") == "EC" else RSAKey.import_key(jwk)
        state.clients[client_id] = _Client(client_id, data.get("client_secret"), key)
        return JSONResponse({"client_id": client_id}, status_code=201)

    async def admin_consumers(request: Request) -> Response:
        data = await request.json()
        state.consumers[str(data["consumer_key"])] = str(data["consumer_secret"])
        return JSONResponse({"consumer_key": data["consumer_key"]}, status_code=201)

    async def admin_hmac_keys(request: Request) -> Response:
        data = await request.json()
        state.hmac_keys[str(data["key_id"])] = str(data["secret"])
        return JSONResponse({"key_id": data["key_id"]}, status_code=201)

    async def admin_faults(request: Request) -> Response:
        if request.method == "POST":
            data = await request.json()
            for name, value in data.items():
                if value is None:
                    state.faults.pop(name, None)
                else:
                    state.faults[name] = value
        elif request.method == "DELETE":
            state.faults.clear()
        return JSONResponse(state.faults)

    async def admin_state(request: Request) -> Response:
        return JSONResponse(
            {
                "grants": state.grants,
                "active_access_tokens": sum(1 for t in state.access_tokens if state.access_status(t)[1] is None),
                "refresh_tokens": {
                    "active": sum(1 for r in state.refresh_tokens.values() if not r.used and not r.revoked),
                    "used": sum(1 for r in state.refresh_tokens.values() if r.used),
                    "revoked": sum(1 for r in state.refresh_tokens.values() if r.revoked),
                },
                "server_time": state.now(),
            }
        )

    async def admin_expire(request: Request) -> Response:
        for record in state.access_tokens.values():
            record.expires = min(record.expires, state.now() - 1)
        return JSONResponse({"expired": len(state.access_tokens)})

    routes = [
        Route("/.well-known/oauth-authorization-server", metadata),
        Route("/.well-known/jwks.json", jwks),
        Route("/authorize", authorize, methods=["GET", "POST"]),
        Route("/token", token, methods=["POST"]),
        Route("/revoke", revoke, methods=["POST"]),
        Route("/introspect", introspect, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/oauth1/request_token", oauth1_request_token, methods=["POST", "GET"]),
        Route("/oauth1/authorize", oauth1_authorize, methods=["GET"]),
        Route("/oauth1/access_token", oauth1_access_token, methods=["POST", "GET"]),
        Route("/oauth1/echo", oauth1_echo, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/apikey/echo", apikey_echo, methods=["GET", "POST"]),
        Route("/hmac/echo", hmac_echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/__mock__/oauth/clients", admin_clients, methods=["POST"]),
        Route("/__mock__/oauth/consumers", admin_consumers, methods=["POST"]),
        Route("/__mock__/oauth/hmac_keys", admin_hmac_keys, methods=["POST"]),
        Route("/__mock__/oauth/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/__mock__/oauth/state", admin_state, methods=["GET"]),
        Route("/__mock__/oauth/tokens/expire", admin_expire, methods=["POST"]),
    ]
    app = MockApp(routes, name="oauth", seed=seed, faults=kit_faults, clock=clock)
    app.state.oauth = state
    return app
