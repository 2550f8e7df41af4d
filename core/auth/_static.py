"""Schemes that need no network round trip: none, API key, key pair, HTTP Basic, HMAC signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Generator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from portico.auth._base import AuthContext, option, require_credential
from portico.errors import ConfigurationError

__all__ = ["ApiKeyAuth", "ApiKeyPairAuth", "BasicAuth", "HmacAuth", "NoAuth"]


class NoAuth(httpx.Auth):
    """No HTTP authentication (``none``, and ``tws`` whose login happens on the socket API)."""

    def __init__(self, ctx: AuthContext | None = None) -> None:
        self.ctx = ctx

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request

    def __repr__(self) -> str:
        return "NoAuth()"


class ApiKeyAuth(httpx.Auth):
    """One API key, in a header (default) or, where a vendor demands it, a query parameter.

    Options:
        header: header name (default ``X-API-Key``); ``Authorization`` with ``prefix: "Bearer "`` for bearer keys.
        prefix: text before the key in the header.
        location: ``header`` or ``query``.
        param: query parameter name (default ``apikey``, Alpha Vantage style). Its value is masked by
            :func:`portico.auth.redact_url` wherever the URL is logged.
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self._key = require_credential(ctx, credentials, "api_key", "key", "token")
        self.location = str(option(ctx, options, "location", "header")).lower()
        if self.location not in {"header", "query"}:
            raise ConfigurationError(
                f"{ctx.system_id}: api_key location must be 'header' or 'query', got {self.location!r}",
                path=f"systems.{ctx.system_id}.authentication.options.location",
            )
        self.header = str(option(ctx, options, "header", "X-API-Key"))
        self.prefix = str(option(ctx, options, "prefix", ""))
        self.param = str(option(ctx, options, "param", "apikey"))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        assert self._key is not None
        key = self._key.get_secret_value()
        if self.location == "query":
            request.url = request.url.copy_merge_params({self.param: key})
        else:
            request.headers[self.header] = f"{self.prefix}{key}"
        yield request

    def __repr__(self) -> str:
        where = f"query {self.param!r}" if self.location == "query" else f"header {self.header!r}"
        return f"ApiKeyAuth(system={self.ctx.system_id!r}, {where})"


class ApiKeyPairAuth(httpx.Auth):
    """A key id and a secret in two headers (Alpaca: ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY``)."""

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self._key_id = require_credential(ctx, credentials, "api_key", "key_id", "api_key_id")
        self._secret = require_credential(ctx, credentials, "secret_key", "api_secret", "secret", "api_secret_key")
        self.key_header = str(option(ctx, options, "key_header", "APCA-API-KEY-ID"))
        self.secret_header = str(option(ctx, options, "secret_header", "APCA-API-SECRET-KEY"))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        assert self._key_id is not None and self._secret is not None
        request.headers[self.key_header] = self._key_id.get_secret_value()
        request.headers[self.secret_header] = self._secret.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyPairAuth(system={self.ctx.system_id!r}, headers=({self.key_header!r}, {self.secret_header!r}))"


class BasicAuth(httpx.Auth):
    """HTTP Basic (RFC 7617) from ``username``/``password`` (or ``api_key``/``secret_key``)."""

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        user = require_credential(ctx, credentials, "username", "api_key", "key_id")
        password = require_credential(ctx, credentials, "password", "secret_key", "api_secret")
        assert user is not None and password is not None
        raw = f"{user.get_secret_value()}:{password.get_secret_value()}".encode()
        self._header = SecretStr("Basic " + base64.b64encode(raw).decode("ascii"))
        from portico.auth._redaction import known_secrets

        known_secrets.register(self._header, self._header.get_secret_value()[6:])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"BasicAuth(system={self.ctx.system_id!r})"


def hmac_string_to_sign(method: str, path_and_query: str, timestamp: str, body: bytes) -> str:
    """The canonical string HMAC signs: method, path with query, timestamp and the body's SHA-256, one per line."""
    return "\n".join([method.upper(), path_and_query, timestamp, hashlib.sha256(body).hexdigest()])


class HmacAuth(httpx.Auth):
    """HMAC-SHA256 request signing over method, path+query, timestamp and body hash.

    Headers (names configurable): ``X-Portico-Key`` (key id), ``X-Portico-Timestamp`` (Unix seconds),
    ``X-Portico-Signature`` (hex, or base64 with ``encoding: base64``). Clock-skew tolerant: when the
    server refuses a request with 401 and its ``Date`` header shows our clock is off by more than
    ``max_skew`` seconds, the offset is learnt and the request is re-signed and retried once.

    Options:
        key_header, timestamp_header, signature_header: header names.
        encoding: ``hex`` (default) or ``base64``.
        max_skew: seconds of disagreement that trigger re-synchronising (default 5).
        server_time_header: the response header carrying the server's time, an HTTP date or Unix
            seconds (default ``Date``).
        secret_encoding: ``raw`` (default) or ``base64`` when the vendor hands out base64 secrets.
    """

    requires_request_body = True
    requires_response_body = False

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self._key_id = require_credential(ctx, credentials, "api_key", "key_id", "api_key_id")
        secret = require_credential(ctx, credentials, "secret_key", "api_secret", "secret", "api_secret_key")
        assert secret is not None
        if str(option(ctx, options, "secret_encoding", "raw")) == "base64":
            self._secret = base64.b64decode(secret.get_secret_value())
        else:
            self._secret = secret.get_secret_value().encode()
        self.key_header = str(option(ctx, options, "key_header", "X-Portico-Key"))
        self.timestamp_header = str(option(ctx, options, "timestamp_header", "X-Portico-Timestamp"))
        self.signature_header = str(option(ctx, options, "signature_header", "X-Portico-Signature"))
        self.encoding = str(option(ctx, options, "encoding", "hex"))
        self.max_skew = float(option(ctx, options, "max_skew", 5.0, kind=float))
        self.server_time_header = str(option(ctx, options, "server_time_header", "Date"))
        self.offset = 0.0
        """Seconds to add to our clock to match the server's (learnt from a refused request)."""

    def __repr__(self) -> str:
        return f"HmacAuth(system={self.ctx.system_id!r}, offset={self.offset:g}s)"

    def _server_time(self, response: httpx.Response) -> datetime | None:
        value = response.headers.get(self.server_time_header)
        if not value:
            return None
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            pass
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None

    def sign(self, request: httpx.Request) -> None:
        """Add the key, timestamp and signature headers to ``request``."""
        assert self._key_id is not None
        now = self.ctx.clock.now() + timedelta(seconds=self.offset)
        timestamp = str(int(now.timestamp()))
        path = request.url.raw_path.decode("ascii")
        message = hmac_string_to_sign(request.method, path, timestamp, request.content)
        digest = hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).digest()
        signature = base64.b64encode(digest).decode() if self.encoding == "base64" else digest.hex()
        request.headers[self.key_header] = self._key_id.get_secret_value()
        request.headers[self.timestamp_header] = timestamp
        request.headers[self.signature_header] = signature

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        response = yield request
        if response.status_code != 401:
            return
        server_now = self._server_time(response)
        if server_now is None:
            return
        drift = (server_now - self.ctx.clock.now()).total_seconds() - self.offset
        if abs(drift) <= self.max_skew:
            return  # the clocks agree: the refusal is about the key, and retrying would not help
        self.offset += drift
        self.ctx.record("auth.clock_skew", outcome="adjusted", offset_seconds=round(self.offset, 3))
        self.sign(request)
        yield request
