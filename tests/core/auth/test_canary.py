"""Canary test: plant unique secrets, run every auth flow including failures with all logging captured,
then search every log line, printed output, exception string/repr/dict, repr, audit entry, monitor
event and the raw bytes of the audit database and the vault for them."""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from portico.auth import AuditLog, AuthenticationManager, CredentialVault
from portico.clock import FakeClock
from portico.mocks import RunningMock
from portico.store import Database

TAG = secrets.token_hex(4)
CANARIES = {
    name: f"CANARY{name.upper()}{TAG}"
    for name in ("apikey", "secret", "clientsecret", "consumersecret", "hmacsecret", "password", "passphrase",
                 "totp")
}
TOTP_SEED = base64.b32encode(CANARIES["totp"].encode()).decode().rstrip("=")


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

    async def call(auth: httpx.Auth, method: str, path: str, **kwargs: Any) -> None:
        reprs.append(repr(auth))
        async with httpx.AsyncClient(base_url=base, auth=auth, timeout=5) as client:
            try:
                response = await client.request(method, path, **kwargs)
                reprs.append(repr(response) + response.text)
            except Exception as exc:
                errors.append(exc)

    good_pair = {"api_key": c["apikey"], "secret_key": c["secret"]}
    bad_pair = {"api_key": c["apikey"], "secret_key": c["secret"] + "x"}
    for creds in (good_pair, bad_pair):
        await call(manager.build("alpaca", "api_key_pair", creds, {}), "GET", "/apikey/echo")
        await call(manager.build("alpaca", "basic", creds, {}), "GET", "/apikey/echo")
    await call(manager.build("av", "api_key", {"api_key": c["apikey"]}, {"location": "query"}), "GET", "/apikey/echo?function=X")
    await call(manager.build("av", "api_key", {"api_key": c["apikey"] + "x"}, {}), "GET", "/apikey/echo")
    for secret in (c["hmacsecret"], c["hmacsecret"] + "x"):
        await call(manager.build("ex", "hmac", {"api_key": "canary-hmac", "secret_key": secret}, {}), "POST", "/hmac/echo", json={})

    cc = {"client_id": "canary-client", "client_secret": c["clientsecret"]}
    cc_auth = manager.build("acme", "oauth2_client_credentials", cc, {"token_url": f"{base}/token"})
    await call(cc_auth, "GET", "/api/me")
    clock.advance(7200)
    await call(cc_auth, "GET", "/api/me")
    await admin.post("/__mock__/oauth/faults", json={"invalid_grant": True})
    clock.advance(7200)
    await call(cc_auth, "GET", "/api/me")
    await admin.post("/__mock__/oauth/faults", json={"invalid_grant": None, "token_status": 500})
    await call(manager.build("acme2", "oauth2_client_credentials", cc, {"token_url": f"{base}/token"}), "GET", "/api/me")
    await admin.post("/__mock__/oauth/faults", json={"token_status": None})
    wrong = manager.build("acme3", "oauth2_client_credentials", {**cc, "client_secret": c["clientsecret"] + "x"},
                          {"token_url": f"{base}/token"})
    await call(wrong, "GET", "/api/me")
    await call(manager.build("acme4", "oauth2_client_credentials", cc, {"token_url": "http://127.0.0.1:9/token"}),
               "GET", "/api/me")

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
    await call(code, "GET", "/api/me")
    try:
        await code.revoke()  # type: ignore[attr-defined]
    except Exception as exc:
        errors.append(exc)
    try:
        await admin.post("/__mock__/oauth/faults", json={"deny_authorization": True})
        await code.login(browser)  # type: ignore[attr-defined]
    except Exception as exc:
        errors.append(exc)
    await admin.post("/__mock__/oauth/faults", json={"deny_authorization": None})

    key = RSAKey.generate_key(2048)
    await admin.post("/__mock__/oauth/clients", json={"client_id": "canary-jwt", "jwk": key.as_dict(private=False)})
    pem = key.as_pem(private=True).decode()
    await call(manager.build("gcp", "jwt_bearer", {"private_key": pem}, {"token_url": f"{base}/token", "issuer": "canary-jwt"}),
               "GET", "/api/me")
    other = RSAKey.generate_key(2048).as_pem(private=True).decode()
    await call(manager.build("gcp", "jwt_bearer", {"private_key": other}, {"token_url": f"{base}/token", "issuer": "canary-jwt"}),
               "GET", "/api/me")

    o1 = {"consumer_key": "canary-consumer", "consumer_secret": c["consumersecret"]}
    opts = {"request_token_url": f"{base}/oauth1/request_token", "authorize_url": f"{base}/oauth1/authorize",
            "access_token_url": f"{base}/oauth1/access_token", "callback": "loopback"}
    oauth1 = manager.build("etrade", "oauth1", o1, opts)
    await oauth1.login(browser)  # type: ignore[attr-defined]
    await call(oauth1, "GET", "/oauth1/echo?x=1")
    bad1 = manager.build("etrade2", "oauth1", {**o1, "consumer_secret": c["consumersecret"] + "x"}, opts)
    try:
        await bad1.login(browser)  # type: ignore[attr-defined]
    except Exception as exc:
        errors.append(exc)

    from portico.mocks import start_mock

    from .test_session_mtls import Gateway

    gateway = start_mock(Gateway(clock=clock).app())
    try:
        login = manager.build("ib", "session", {"username": "trader", "password": c["password"], "totp_seed": TOTP_SEED},
                              {"login_path": "/login", "base_url": f"{gateway.base_url}/v1/api"})
        await call(login, "GET", f"{gateway.base_url}/v1/api/portfolio/accounts")
        await login.aclose()  # type: ignore[attr-defined]
    finally:
        gateway.stop_sync()
    session = manager.build("ib", "session", {"username": "u", "password": c["password"], "totp_seed": TOTP_SEED},
                            {"login_path": "/nowhere", "base_url": f"{base}/v1/api"})
    await call(session, "GET", "/v1/api/portfolio/accounts")
    await session.aclose()  # type: ignore[attr-defined]
    for bad in ({"certificate": c["secret"], "private_key": c["password"]},):
        try:
            manager.build("bank", "mtls", bad, {})
        except Exception as exc:
            errors.append(exc)
    try:
        manager.build("x", "api_key_pair", {"api_key": c["apikey"]}, {})
    except Exception as exc:
        errors.append(exc)


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

    assert len(errors) >= 8  # the failure paths really ran
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
