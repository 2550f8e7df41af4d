"""E*TRADE's OAuth 1.0a provider as the mock plays it: HMAC-SHA1 signatures checked on every request,
request tokens, the authorize page, access tokens that go inactive after two idle hours and expire at
midnight US Eastern, renew and revoke.

Signature checking reuses authlib's RFC 5849 base-string and HMAC-SHA1 functions, so the mock verifies
exactly what a conforming client signs (the URL it called, its query, a form body, the header).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.request import parse_http_list, parse_keqv_list
from zoneinfo import ZoneInfo

from authlib.common.urls import url_decode
from authlib.oauth1.rfc5849.signature import construct_base_string, hmac_sha1_signature
from authlib.oauth1.rfc5849.util import unescape

from portico.mocks._kit import MockClock

__all__ = [
    "DEFAULT_ACCESS_TOKENS",
    "DEFAULT_CONSUMERS",
    "EASTERN",
    "IDLE_LIMIT",
    "AccessToken",
    "OAuthProblem",
    "OAuthProvider",
    "SignedRequest",
    "next_midnight_eastern",
]

EASTERN = ZoneInfo("America/New_York")
IDLE_LIMIT = timedelta(hours=2)
"""E*TRADE inactivates an access token after two hours without a request."""
TIMESTAMP_WINDOW = 300.0
"""A request's ``oauth_timestamp`` may differ from the server's time by at most five minutes."""

DEFAULT_CONSUMERS = {"etrade-mock-consumer-key": "etrade-mock-consumer-secret"}
"""The consumer key and secret the mock knows unless told others."""
DEFAULT_ACCESS_TOKENS = {"etrade-mock-access-token": "etrade-mock-access-token-secret"}
"""Access tokens the mock issues at start (for the first consumer), so a connector runs without a login."""


def next_midnight_eastern(when: datetime) -> datetime:
    """The first midnight in New York after ``when`` (DST taken into account), as an aware datetime."""
    local = when.astimezone(EASTERN)
    day = local.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=EASTERN)


class OAuthProblem(Exception):
    """A refused OAuth request; ``problem`` is E*TRADE's ``oauth_problem`` value."""

    def __init__(self, problem: str, status: int = 401) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status


@dataclass
class RequestToken:
    token: str
    secret: str
    consumer_key: str
    callback: str
    issued_at: datetime
    verifier: str | None = None


@dataclass
class AccessToken:
    """An access token and its lifecycle on the mock clock."""

    token: str
    secret: str
    consumer_key: str
    issued_at: datetime
    expires_at: datetime
    last_used: datetime
    revoked: bool = False
    renewals: int = 0

    def state(self, now: datetime) -> str:
        """``active``, ``inactive`` (idle two hours: renew it), ``expired`` (past midnight ET) or ``revoked``."""
        if self.revoked:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if now - self.last_used >= IDLE_LIMIT:
            return "inactive"
        return "active"


@dataclass(frozen=True)
class SignedRequest:
    """What a verified request was signed with."""

    consumer_key: str
    token: str | None
    params: Mapping[str, str] = field(default_factory=dict)


def _auth_params(header: str | None) -> list[tuple[str, str]]:
    if not header:
        return []
    if not header.lower().startswith("oauth "):
        raise OAuthProblem("parameter_absent")
    try:
        items = parse_keqv_list(parse_http_list(header[len("oauth ") :])).items()
    except (IndexError, ValueError):
        raise OAuthProblem("parameter_rejected") from None
    return [(unescape(k), unescape(v)) for k, v in items]


class OAuthProvider:
    """Consumers, tokens and signature checks.

    Args:
        clock: the mock clock: token idle time and midnight expiry follow it.
        consumers: known ``{consumer_key: consumer_secret}``.
        access_tokens: access tokens issued at start to the first consumer ``{token: secret}``.
        wall: the time ``oauth_timestamp`` is checked against (clients sign with their own clock,
            which a test's pinned mock clock does not follow); None turns the check off.
    """

    def __init__(
        self,
        clock: MockClock,
        consumers: Mapping[str, str],
        access_tokens: Mapping[str, str],
        *,
        wall: Callable[[], float] | None = time.time,
    ) -> None:
        self.clock = clock
        self.consumers = dict(consumers)
        self.wall = wall
        self.request_tokens: dict[str, RequestToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self._nonces: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()
        first = next(iter(self.consumers), None)
        if first is not None:
            for token, secret in access_tokens.items():
                self._issue(token, secret, first)

    # -- signatures ----------------------------------------------------------------------------

    def verify(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        token_kind: str,
    ) -> SignedRequest:
        """Check the request's signature; ``token_kind`` is ``none``, ``request`` or ``access``.

        Raises:
            OAuthProblem: missing parameters, unknown consumer or token, stale timestamp, reused nonce
                or a signature that does not match.
        """
        query = url.partition("?")[2]
        params: list[tuple[str, str]] = list(url_decode(query)) if query else []
        if "application/x-www-form-urlencoded" in headers.get("content-type", "") and body:
            params.extend(url_decode(body.decode("utf-8", errors="replace")))
        auth = _auth_params(headers.get("authorization"))
        params.extend(auth)
        oauth = {k: v for k, v in params if k.startswith("oauth_")}
        for name in (
            "oauth_consumer_key",
            "oauth_signature",
            "oauth_signature_method",
            "oauth_timestamp",
            "oauth_nonce",
        ):
            if not oauth.get(name):
                raise OAuthProblem("parameter_absent")
        if oauth["oauth_signature_method"] != "HMAC-SHA1":
            raise OAuthProblem("signature_method_rejected")
        consumer_key = oauth["oauth_consumer_key"]
        consumer_secret = self.consumers.get(consumer_key)
        if consumer_secret is None:
            raise OAuthProblem("consumer_key_rejected")
        self._check_timestamp(oauth["oauth_timestamp"])
        token = oauth.get("oauth_token")
        token_secret = ""
        if token_kind == "request":
            found = self.request_tokens.get(token or "")
            if found is None or found.consumer_key != consumer_key:
                raise OAuthProblem("token_rejected")
            token_secret = found.secret
        elif token_kind == "access":
            access = self.access_tokens.get(token or "")
            if access is None or access.consumer_key != consumer_key:
                raise OAuthProblem("token_rejected")
            token_secret = access.secret
        base = construct_base_string(method, url.partition("#")[0], params)
        expected = hmac_sha1_signature(base, consumer_secret, token_secret)
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            raise OAuthProblem("signature_invalid")
        self._check_nonce(consumer_key, oauth["oauth_nonce"], oauth["oauth_timestamp"])
        return SignedRequest(consumer_key=consumer_key, token=token, params=dict(params))

    def _check_timestamp(self, value: str) -> None:
        try:
            stamp = float(value)
        except ValueError:
            raise OAuthProblem("timestamp_refused") from None
        if self.wall is not None and abs(self.wall() - stamp) > TIMESTAMP_WINDOW:
            raise OAuthProblem("timestamp_refused")

    def _check_nonce(self, consumer_key: str, nonce: str, stamp: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._nonces) > 10_000:
                # forget nonces older than the timestamp window: a replay that old is refused by its timestamp
                self._nonces = {k: t for k, t in self._nonces.items() if now - t < TIMESTAMP_WINDOW}
            key = (consumer_key, nonce, stamp)
            if key in self._nonces:
                raise OAuthProblem("nonce_used")
            self._nonces[key] = now

    # -- the three legs ------------------------------------------------------------------------

    def issue_request_token(self, consumer_key: str, callback: str) -> RequestToken:
        """A new request token (valid for five minutes)."""
        if not callback:
            raise OAuthProblem("parameter_absent")
        found = RequestToken(
            token=secrets.token_urlsafe(18),
            secret=secrets.token_urlsafe(18),
            consumer_key=consumer_key,
            callback=callback,
            issued_at=self.clock.now(),
        )
        self.request_tokens[found.token] = found
        return found

    def authorize(self, consumer_key: str, token: str) -> RequestToken:
        """The user accepts on the authorize page: the request token gets a verifier."""
        found = self.request_tokens.get(token)
        if found is None or found.consumer_key != consumer_key:
            raise OAuthProblem("token_rejected")
        if self.clock.now() - found.issued_at > timedelta(minutes=5):
            raise OAuthProblem("token_expired")
        found.verifier = secrets.token_hex(3).upper()[:5]
        return found

    def exchange(self, signed: SignedRequest) -> AccessToken:
        """Trade an authorized request token and its verifier for an access token."""
        found = self.request_tokens.get(signed.token or "")
        if found is None:
            raise OAuthProblem("token_rejected")
        verifier = signed.params.get("oauth_verifier")
        if found.verifier is None or not verifier or not hmac.compare_digest(found.verifier, verifier):
            raise OAuthProblem("verifier_invalid")
        del self.request_tokens[found.token]
        return self._issue(secrets.token_urlsafe(24), secrets.token_urlsafe(24), signed.consumer_key)

    def _issue(self, token: str, secret: str, consumer_key: str) -> AccessToken:
        now = self.clock.now()
        access = AccessToken(
            token=token,
            secret=secret,
            consumer_key=consumer_key,
            issued_at=now,
            expires_at=next_midnight_eastern(now),
            last_used=now,
        )
        self.access_tokens[token] = access
        return access

    # -- using, renewing, revoking ----------------------------------------------------------------

    def use(self, signed: SignedRequest) -> AccessToken:
        """Mark an API call; refuses a token that is inactive, expired or revoked."""
        access = self.access_tokens[signed.token or ""]
        now = self.clock.now()
        state = access.state(now)
        if state == "expired":
            raise OAuthProblem("token_expired")
        if state != "active":
            raise OAuthProblem("token_rejected")
        access.last_used = now
        return access

    def renew(self, signed: SignedRequest) -> AccessToken:
        """Reactivate an inactive token (it still expires at the same midnight)."""
        access = self.access_tokens[signed.token or ""]
        now = self.clock.now()
        state = access.state(now)
        if state == "expired":
            raise OAuthProblem("token_expired")
        if state == "revoked":
            raise OAuthProblem("token_rejected")
        access.last_used = now
        access.renewals += 1
        return access

    def revoke(self, signed: SignedRequest) -> AccessToken:
        """Revoke a token for good."""
        access = self.access_tokens[signed.token or ""]
        if access.revoked:
            raise OAuthProblem("token_rejected")
        access.revoked = True
        return access
