"""API key, key pair, Basic, HMAC (with clock skew), OAuth 1.0a, TOTP and the manager's scheme registry,
against the mock authorization server over real HTTP."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from portico.auth import (
    AuditLog,
    AuthContext,
    AuthenticationManager,
    CredentialVault,
    HmacAuth,
    NoAuth,
    OAuth1Scheme,
    TotpGenerator,
    redact_url,
)
from portico.clock import FakeClock
from portico.errors import ConfigurationError
from portico.hookspecs import hookimpl
from portico.mocks import RunningMock
from portico.plugins import PluginManager

KEY = {"api_key": "portico-api-key"}
PAIR = {"api_key": "portico-api-key", "secret_key": "portico-api-secret"}


@pytest.mark.parametrize(
    ("scheme", "credentials", "options", "method"),
    [
        ("api_key", KEY, {}, "header"),
        ("api_key", KEY, {"header": "Authorization", "prefix": "Bearer "}, "bearer"),
        ("api_key", KEY, {"location": "query", "param": "apikey"}, "query"),
        ("api_key_pair", PAIR, {}, "key_pair"),
        ("basic", PAIR, {}, "basic"),
    ],
)
async def test_key_schemes_end_to_end(
    manager: AuthenticationManager, oauth_mock: RunningMock, scheme: str, credentials: dict[str, str],
    options: dict[str, Any], method: str,
) -> None:
    auth = manager.build("vendor", scheme, credentials, options)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        response = await client.get("/apikey/echo", params={"function": "QUOTE"})
        assert response.status_code == 200, response.text
        assert response.json()["method"] == method
    assert "portico-api" not in repr(auth)
    wrong = manager.build("vendor", scheme, {k: v + "-wrong" for k, v in credentials.items()}, options)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=wrong) as client:
        assert (await client.get("/apikey/echo")).status_code == 401


async def test_query_string_key_is_redacted_from_httpx_logs(
    manager: AuthenticationManager, oauth_mock: RunningMock, caplog: pytest.LogCaptureFixture
) -> None:
    auth = manager.build("av", "api_key", {"api_key": "AVQUERYKEY123"}, {"location": "query"})
    caplog.set_level(logging.DEBUG)
    # the CLI's logging set-up (run by earlier tests in this process) quiets httpx to WARNING
    caplog.set_level(logging.DEBUG, logger="httpx")
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        await client.get("/apikey/echo", params={"function": "TIME_SERIES_DAILY"})
    assert "AVQUERYKEY123" not in caplog.text
    assert "apikey=***" in caplog.text  # httpx's own "HTTP Request: GET ..." line, scrubbed
    assert redact_url("https://www.alphavantage.co/query?function=X&apikey=AVQUERYKEY123") == (
        "https://www.alphavantage.co/query?function=X&apikey=***"
    )
    assert redact_url("https://user:pw-123456@host.test/p?token=abc&x=1") == "https://user:***@host.test/p?token=***&x=1"


HMAC = {"api_key": "portico-hmac-key", "secret_key": "portico-hmac-secret"}


async def test_hmac_signing_and_clock_skew_recovery(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, audit: AuditLog
) -> None:
    auth = manager.build("exch", "hmac", HMAC, {"server_time_header": "X-Server-Time"})
    assert isinstance(auth, HmacAuth)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        ok = await client.post("/hmac/echo?a=1&b=2", json={"qty": "10"})
        assert ok.status_code == 200, ok.text
        assert (await client.delete("/hmac/echo")).status_code == 200

        await admin.post("/__mock__/oauth/faults", json={"clock_skew": 300})  # the server runs 5 min ahead
        skewed = await client.post("/hmac/echo", json={"qty": "11"})
        assert skewed.status_code == 200, skewed.text  # refused once, offset learnt, re-signed
        assert 295 < auth.offset < 305
        journal = (await admin.get("/__mock__/journal", params={"path": "/hmac/echo"})).json()["entries"]
        assert [e["status"] for e in journal] == [200, 200, 401, 200]
        assert (await client.get("/hmac/echo")).status_code == 200  # stays in sync
    assert any(e.action == "auth.clock_skew" for e in audit.entries())


async def test_hmac_wrong_secret_is_not_retried(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient
) -> None:
    auth = manager.build("exch", "hmac", {**HMAC, "secret_key": "wrong-secret-1"}, {"server_time_header": "X-Server-Time"})
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/hmac/echo")).status_code == 401
    journal = (await admin.get("/__mock__/journal", params={"path": "/hmac/echo"})).json()["entries"]
    assert len(journal) == 1


OAUTH1 = {"consumer_key": "portico-consumer", "consumer_secret": "portico-consumer-secret"}


def oauth1_options(mock: RunningMock, callback: str) -> dict[str, str]:
    return {
        "request_token_url": f"{mock.base_url}/oauth1/request_token",
        "authorize_url": f"{mock.base_url}/oauth1/authorize",
        "access_token_url": f"{mock.base_url}/oauth1/access_token",
        "callback": callback,
    }


async def test_oauth1_three_legged_out_of_band(
    vault: CredentialVault, audit: AuditLog, clock: FakeClock, oauth_mock: RunningMock
) -> None:
    seen: dict[str, str] = {}

    async def browser(url: str) -> None:
        async with httpx.AsyncClient() as b:
            page = (await b.get(url)).text
        seen["verifier"] = re.search(r"<code id=verifier>(\w+)</code>", page).group(1)  # type: ignore[union-attr]

    def human(system: str, prompt: str) -> str:
        assert system == "etrade" and "verification code" in prompt
        return seen["verifier"]

    manager = AuthenticationManager(vault=vault, audit=audit, clock=clock, interactive=human)
    auth = manager.build("etrade", "oauth1", OAUTH1, oauth1_options(oauth_mock, "oob"))
    assert isinstance(auth, OAuth1Scheme)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        with pytest.raises(Exception, match="not authorized"):
            await client.get("/oauth1/echo")
        await auth.login(browser)
        response = await client.get("/oauth1/echo", params={"symbol": "AAPL", "count": "2"})
        assert response.status_code == 200, response.text
        assert response.json()["query"] == {"symbol": "AAPL", "count": "2"}
        post = await client.post("/oauth1/echo", data={"qty": "5"})
        assert post.status_code == 200, post.text
    actions = [e.action for e in audit.entries()]
    assert "auth.mfa_challenge" in actions and "auth.login" in actions

    # the access token survives a restart through the vault
    again = AuthenticationManager(vault=vault, audit=audit, clock=clock).build(
        "etrade", "oauth1", OAUTH1, oauth1_options(oauth_mock, "oob"))
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=again) as client:
        assert (await client.get("/oauth1/echo")).status_code == 200
    assert isinstance(again, OAuth1Scheme)
    again.revoke()
    assert "etrade/oauth1_token" not in vault.names()


async def test_oauth1_loopback_and_bad_signature(manager: AuthenticationManager, oauth_mock: RunningMock) -> None:
    auth = manager.build("etrade", "oauth1", OAUTH1, oauth1_options(oauth_mock, "loopback"))
    assert isinstance(auth, OAuth1Scheme)

    async def browser(url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=True) as b:
            await b.get(url)

    await auth.login(browser)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/oauth1/echo")).status_code == 200
    forged = manager.build("etrade2", "oauth1", {**OAUTH1, "consumer_secret": "forged-secret",
                                                  "token": "ac_x", "token_secret": "y"}, {})
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=forged) as client:
        assert (await client.get("/oauth1/echo")).status_code == 401


def test_totp_rfc6238_vectors() -> None:
    import base64

    seed = base64.b32encode(b"12345678901234567890").decode()
    totp = TotpGenerator(seed, digits=8)
    for timestamp, code in [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"),
                            (2000000000, "69279037")]:
        assert totp.at(timestamp) == code
    clock = FakeClock()
    six = TotpGenerator(seed.lower(), clock=clock)
    code = six.now()
    assert len(code) == 6 and six.verify(code)
    clock.advance(30)
    assert six.verify(code, window=1) and not six.verify(code, window=0)
    with pytest.raises(ConfigurationError, match="base32"):
        TotpGenerator("not base32 !!")
    assert seed not in repr(six)


def test_manager_lists_schemes_and_reports_config_errors_by_path(manager: AuthenticationManager) -> None:
    assert set(manager.schemes()) >= {
        "api_key", "api_key_pair", "basic", "hmac", "oauth2_client_credentials", "oauth2_authorization_code",
        "oauth2_refresh_token", "jwt_bearer", "oauth1", "session", "mtls", "tws", "none",
    }
    with pytest.raises(ConfigurationError, match="unknown auth scheme 'kerberos'") as unknown:
        manager.build("x", "kerberos", {}, {})
    assert unknown.value.path == "systems.x.authentication.type"
    with pytest.raises(ConfigurationError, match="needs credential 'secret_key'") as missing:
        manager.build("alpaca", "api_key_pair", {"api_key": "k-123456"}, {})
    assert missing.value.path == "systems.alpaca.authentication.credentials.secret_key"
    with pytest.raises(ConfigurationError, match="needs option 'token_url'"):
        manager.build("x", "oauth2_client_credentials", {"client_id": "a", "client_secret": "b"}, {})
    with pytest.raises(ConfigurationError, match="location"):
        manager.build("x", "api_key", KEY, {"location": "cookie"})
    assert isinstance(manager.build("ib", "tws", {"username": "u", "password": "tws-password-1"}, {}), NoAuth)


class _TokenHeaderAuth(httpx.Auth):
    def __init__(self, ctx: AuthContext, credentials: Any, options: Any) -> None:
        self.value = credentials["token"]

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["X-API-Key"] = self.value
        yield request


class _SchemePlugin:
    @hookimpl
    def portico_auth_schemes(self) -> dict[str, Any]:
        return {"vendor_token": _TokenHeaderAuth}


class _ClashingPlugin:
    @hookimpl
    def portico_auth_schemes(self) -> dict[str, Any]:
        return {"basic": _TokenHeaderAuth}


async def test_plugin_schemes_through_the_hook(oauth_mock: RunningMock) -> None:
    plugins = PluginManager(autoload=False)
    plugins.register(_SchemePlugin(), name="vendor")
    manager = AuthenticationManager(plugins=plugins)
    assert "vendor_token" in manager.schemes()
    auth = manager.build("v", "vendor_token", {"token": "portico-api-key"}, {})
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/apikey/echo")).json()["method"] == "header"

    clash = PluginManager(autoload=False)
    clash.register(_ClashingPlugin(), name="clash")
    with pytest.raises(ConfigurationError, match="built-in auth scheme 'basic'"):
        AuthenticationManager(plugins=clash).schemes()
