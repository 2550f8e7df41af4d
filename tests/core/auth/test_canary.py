"""Canary test: plant unique secrets, run every auth flow including failures with all logging captured,
then search every log line, printed output, exception string/repr/dict, repr, audit entry, monitor
event and the raw bytes of the audit database and the vault for them."""

from __future__ import annotations

import base64
import inspect
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from portico.auth import AuditLog, AuthenticationManager, CredentialVault
from portico.clock import FakeClock
from portico.errors import AuthError, ConfigurationError
from portico.mocks import RunningMock
from portico.store import Database

TAG = secrets.token_hex(4)
CANARIES = {
    name: f"CANARY{name.upper()}{TAG}"
    for name in ("apikey", "secret", "clientsecret", "consumersecret", "hmacsecret", "password", "passphrase",
                 "totp")
}
TOTP_SEED = base64.b32encode(CANARIES["totp"].encode()).decode().rstrip("=")


async def _fails(
    kind: type[Exception], match: str, action: Awaitable[Any] | Callable[[], Any], errors: list[BaseException]
) -> None:
    """Run one failure flow: it must raise exactly ``kind`` (not a subclass, not a neighbour), saying ``match``."""
    with pytest.raises(Exception) as info:  # the exact type is asserted just below
        result = action() if callable(action) else action
        if inspect.isawaitable(result):
            await result
    assert type(info.value) is kind, f"expected {kind.__name__}, got {type(info.value).__name__}: {info.value}"
    assert re.search(match, str(info.value)), f"{kind.__name__} does not say {match!r}: {info.value}"
    errors.append(info.value)


async def _run_every_flow(
    mock: RunningMock, admin: httpx.AsyncClient, manager: AuthenticationManager, clock: FakeClock,
    errors: list[BaseException], reprs: list[str],
) -> None:
    c = CANARIES
    base = mock.base_url
    state = mock.app.state.oauth
    state.api_keys[c["apikey"]] = c["secret"]
    state.hmac_keys["canary-hmac"] = c["hmacsecret"]
    state.consumers["canary-consumer"] = c["consumersecret"]
    await admin.post("/__mock__/oauth/clients", json={"client_id": "canary-client", "client_secret": c["clientsecret"]})

    async def call(auth: httpx.Auth, method: str, path: str, *, status: int = 200, **kwargs: Any) -> None:
        """A flow that completes with an HTTP answer (200, or the venue's own 401 for a bad key)."""
        reprs.append(repr(auth))
        async with httpx.AsyncClient(base_url=base, auth=auth, timeout=5) as client:
            response = await client.request(method, path, **kwargs)
            reprs.append(repr(response) + response.text)
            assert response.status_code == status, (path, response.status_code, response.text[:200])

    async def refused(auth: httpx.Auth, method: str, path: str, match: str, **kwargs: Any) -> None:
        """A flow whose auth step fails: exactly AuthError, saying why."""
        reprs.append(repr(auth))
        async with httpx.AsyncClient(base_url=base, auth=auth, timeout=5) as client:
            await _fails(AuthError, match, client.request(method, path, **kwargs), errors)

    good_pair = {"api_key": c["apikey"], "secret_key": c["secret"]}
    bad_pair = {"api_key": c["apikey"], "secret_key": c["secret"] + "x"}
    for creds, status in ((good_pair, 200), (bad_pair, 401)):
        await call(manager.build("alpaca", "api_key_pair", creds, {}), "GET", "/apikey/echo", status=status)
        await call(manager.build("alpaca", "basic", creds, {}), "GET", "/apikey/echo", status=status)
    await call(manager.build("av", "api_key", {"api_key": c["apikey"]}, {"location": "query"}), "GET", "/apikey/echo?function=X")
    await call(manager.build("av", "api_key", {"api_key": c["apikey"] + "x"}, {}), "GET", "/apikey/echo", status=401)
    for secret, status in ((c["hmacsecret"], 200), (c["hmacsecret"] + "x", 401)):
        await call(manager.build("ex", "hmac", {"api_key": "canary-hmac", "secret_key": secret}, {}), "POST", "/hmac/echo",
                   status=status, json={})

    cc = {"client_id": "canary-client", "client_secret": c["clientsecret"]}
    cc_auth = manager.build("acme", "oauth2_client_credentials", cc, {"token_url": f"{base}/token"})
    await call(cc_auth, "GET", "/api/me")
    clock.advance(7200)
    await call(cc_auth, "GET", "/api/me")
    await admin.post("/__mock__/oauth/faults", json={"invalid_grant": True})
    clock.advance(7200)
    await refused(cc_auth, "GET", "/api/me", "invalid_grant")
    await admin.post("/__mock__/oauth/faults", json={"invalid_grant": None, "token_status": 500})
    await refused(manager.build("acme2", "oauth2_client_credentials", cc, {"token_url": f"{base}/token"}), "GET", "/api/me",
                  "HTTP 500")
    await admin.post("/__mock__/oauth/faults", json={"token_status": None})
    wrong = manager.build("acme3", "oauth2_client_credentials", {**cc, "client_secret": c["clientsecret"] + "x"},
                          {"token_url": f"{base}/token"})
    await refused(wrong, "GET", "/api/me", "invalid_client")
    await refused(manager.build("acme4", "oauth2_client_credentials", cc, {"token_url": "http://127.0.0.1:9/token"}),
                  "GET", "/api/me", "ConnectError")

    code = manager.build("broker", "oauth2_authorization_code", cc,
                         {"authorize_url": f"{base}/authorize", "token_url": f"{base}/token", "revocation_url": f"{base}/revoke"})

    async def browser(url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=True) as b:
            await b.get(url)

    await code.login(browser)  # type: ignore[attr-defined]
    first = code.current_token.refresh_token.get_secret_value()  # type: ignore[attr-defined]
    clock.advance(7200)
    await call(code, "GET", "/api/me")
    await admin.post("/token", data={"grant_type": "refresh_token", "refresh_token": first},
                     auth=("canary-client", c["clientsecret"]))  # reuse: the grant is revoked
    await refused(code, "GET", "/api/me", "refresh token revoked")
    await code.revoke()  # type: ignore[attr-defined]  # revoking a revoked grant succeeds (RFC 7009)
    await admin.post("/__mock__/oauth/faults", json={"deny_authorization": True})
    await _fails(AuthError, "access_denied", code.login(browser), errors)  # type: ignore[attr-defined]
    await admin.post("/__mock__/oauth/faults", json={"deny_authorization": None})

    key = RSAKey.generate_key(2048)
    await admin.post("/__mock__/oauth/clients", json={"client_id": "canary-jwt", "jwk": key.as_dict(private=False)})
    pem = key.as_pem(private=True).decode()
    jwt_opts = {"token_url": f"{base}/token", "issuer": "canary-jwt"}
    # The flows above moved the fake clock hours ahead; the mock checks assertion times against real time.
    on_time = AuthenticationManager(vault=manager.vault, audit=manager.audit, emit=manager.emit,
                                    clock=FakeClock(datetime.now(UTC).replace(microsecond=0)))
    await call(on_time.build("gcp", "jwt_bearer", {"private_key": pem}, jwt_opts), "GET", "/api/me")
    await refused(manager.build("gcp", "jwt_bearer", {"private_key": pem}, jwt_opts), "GET", "/api/me", "clock skew")
    other = RSAKey.generate_key(2048).as_pem(private=True).decode()
    await refused(on_time.build("gcp_other", "jwt_bearer", {"private_key": other}, jwt_opts), "GET", "/api/me",
                  "signature is invalid")

    o1 = {"consumer_key": "canary-consumer", "consumer_secret": c["consumersecret"]}
    opts = {"request_token_url": f"{base}/oauth1/request_token", "authorize_url": f"{base}/oauth1/authorize",
            "access_token_url": f"{base}/oauth1/access_token", "callback": "loopback"}
    oauth1 = manager.build("etrade", "oauth1", o1, opts)
    await oauth1.login(browser)  # type: ignore[attr-defined]
    await call(oauth1, "GET", "/oauth1/echo?x=1")
    bad1 = manager.build("etrade2", "oauth1", {**o1, "consumer_secret": c["consumersecret"] + "x"}, opts)
    await _fails(AuthError, "etrade2", bad1.login(browser), errors)  # type: ignore[attr-defined]

    from portico.mocks import start_mock

    from .test_session_mtls import Gateway

    gateway = start_mock(Gateway(clock=clock).app())
    try:
        # the gateway knows another password than the canary: its login refuses this one
        login = manager.build("ib", "session", {"username": "trader", "password": c["password"], "totp_seed": TOTP_SEED},
                              {"login_path": "/login", "base_url": f"{gateway.base_url}/v1/api"})
        await refused(login, "GET", f"{gateway.base_url}/v1/api/portfolio/accounts", "re-authentication refused: HTTP 401")
        await login.aclose()  # type: ignore[attr-defined]
    finally:
        gateway.stop_sync()
    session = manager.build("ib", "session", {"username": "u", "password": c["password"], "totp_seed": TOTP_SEED},
                            {"login_path": "/nowhere", "base_url": f"{base}/v1/api"})
    await refused(session, "GET", "/v1/api/portfolio/accounts", "session status check answered HTTP 404")
    await session.aclose()  # type: ignore[attr-defined]
    await _fails(ConfigurationError, "mtls|certificate",
                 lambda: manager.build("bank", "mtls", {"certificate": c["secret"], "private_key": c["password"]}, {}),
                 errors)
    await _fails(ConfigurationError, "needs credential",
                 lambda: manager.build("x", "api_key_pair", {"api_key": c["apikey"]}, {}), errors)


async def test_no_canary_secret_appears_anywhere(
    oauth_mock: RunningMock, admin: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], portico_home: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    vault = CredentialVault(tmp_path / "vault.bin", CANARIES["passphrase"], log2_n=10)
    audit = AuditLog(Database(), clock)
    events: list[Any] = []
    manager = AuthenticationManager(vault=vault, audit=audit, clock=clock,
                                    emit=lambda event, **data: events.append((event, data)))
    vault.set("alpaca/api_key", CANARIES["apikey"])
    vault.get("alpaca/api_key")
    errors: list[BaseException] = []
    reprs: list[str] = [repr(vault), repr(manager), repr(audit)]
    await _run_every_flow(oauth_mock, admin, manager, clock, errors, reprs)

    assert len(errors) == 13  # every failure flow ran, and raised what it should
    issued = [t for t in oauth_mock.app.state.oauth.access_tokens] + list(oauth_mock.app.state.oauth.refresh_tokens)
    issued += [t for t in oauth_mock.app.state.oauth.oauth1_tokens]
    issued += [r.secret for r in oauth_mock.app.state.oauth.oauth1_tokens.values()]
    issued += [r.verifier for r in oauth_mock.app.state.oauth.oauth1_tokens.values() if r.verifier]
    issued += list(oauth_mock.app.state.oauth.codes)  # authorization codes
    assert len(issued) > 6

    texts = [caplog.text, *(r.getMessage() for r in caplog.records), *capsys.readouterr()]
    for exc in errors:
        texts += [str(exc), repr(exc), str(getattr(exc, "to_dict", lambda: "")()), str(exc.__cause__), str(exc.__context__)]
    texts += reprs
    texts += [repr(e) for e in audit.entries()]
    texts += [repr(events)]
    texts += [repr(manager.built)]
    blobs = [p.read_bytes() for p in portico_home.iterdir() if p.is_file()] + [(tmp_path / "vault.bin").read_bytes()]
    haystack = "\n".join(texts)
    raw = b"\n".join(blobs)
    assert audit.verify() is None
    needles = [*list(CANARIES.values()), TOTP_SEED, *issued]
    needles += [base64.b64encode(f"{CANARIES['apikey']}:{CANARIES['secret']}".encode()).decode()]
    leaks = [n for n in needles if n in haystack or n.encode() in raw]

    assert not leaks, f"secrets leaked: {[n[:10] + '...' for n in leaks]}"
    assert "***" in caplog.text  # the httpx URL line with the query-string key was scrubbed, not dropped
