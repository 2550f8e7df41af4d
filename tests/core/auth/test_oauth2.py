"""OAuth 2.0 schemes against the mock authorization server over real HTTP: caching, refresh before
expiry, single-flight refresh, 401-refresh-once, failed refresh, PKCE login, rotation and reuse detection."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

from portico.auth import (
    AuditLog,
    AuthenticationManager,
    AuthorizationCodeAuth,
    ClientCredentialsAuth,
    CredentialVault,
    JwtBearerAuth,
)
from portico.clock import FakeClock
from portico.errors import AuthError, ConfigurationError
from portico.mocks import RunningMock

from .conftest import grants

CC = {"client_id": "portico-client", "client_secret": "portico-client-secret"}


def cc_auth(manager: AuthenticationManager, mock: RunningMock, **options: Any) -> ClientCredentialsAuth:
    auth = manager.build("acme", "oauth2_client_credentials", CC,
                         {"token_url": f"{mock.base_url}/token", "scope": "read", **options})
    assert isinstance(auth, ClientCredentialsAuth)
    return auth


async def test_client_credentials_caches_and_refreshes_before_expiry(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, clock: FakeClock,
    audit: AuditLog, vault: CredentialVault,
) -> None:
    auth = cc_auth(manager, oauth_mock, refresh_skew=120)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        for _ in range(3):
            response = await client.get("/api/me")
            assert response.status_code == 200 and response.json()["client_id"] == "portico-client"
        assert (await grants(admin)) == {"client_credentials": 1}
        clock.advance(3600 - 119)  # still valid at the server, but inside the 120 s refresh skew
        assert (await client.get("/api/me")).status_code == 200
        assert (await grants(admin)) == {"client_credentials": 2}
    actions = [(e.action, e.outcome, e.system) for e in audit.entries() if e.action.startswith("auth.")]
    assert actions == [("auth.login", "success", "acme"), ("auth.refresh", "success", "acme")]
    assert "acme/oauth_token" in vault.names()


async def test_fifty_concurrent_calls_with_expired_token_cause_one_refresh(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, clock: FakeClock,
) -> None:
    await admin.post("/__mock__/oauth/faults", json={"token_delay": 0.2})  # widen the race window
    auth = cc_auth(manager, oauth_mock)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/api/me")).status_code == 200
        clock.advance(7200)
        responses = await asyncio.gather(*(client.get("/api/me") for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert (await grants(admin)) == {"client_credentials": 2}
    assert auth.refresh_count == 2


async def test_401_causes_one_refresh_and_one_retry_never_a_loop(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient
) -> None:
    auth = cc_auth(manager, oauth_mock)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/api/me")).status_code == 200
        await admin.post("/__mock__/oauth/tokens/expire")  # the server drops the token early
        assert (await client.get("/api/me")).status_code == 200
        assert (await grants(admin)) == {"client_credentials": 2}

        await admin.post("/__mock__/oauth/faults", json={"expire_tokens": True})  # every token is refused
        response = await client.get("/api/me")
        assert response.status_code == 401  # handed back to the caller after one retry
        assert (await grants(admin)) == {"client_credentials": 3}
        journal = (await admin.get("/__mock__/journal", params={"path": "/api/me"})).json()["entries"]
        assert [e["status"] for e in journal][-2:] == [401, 401]


async def test_concurrent_401s_share_one_refresh(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient
) -> None:
    auth = cc_auth(manager, oauth_mock)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/api/me")).status_code == 200
        await admin.post("/__mock__/oauth/tokens/expire")
        responses = await asyncio.gather(*(client.get("/api/me") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert (await grants(admin)) == {"client_credentials": 2}


async def test_failed_refresh_is_an_auth_error_naming_the_system_shared_by_waiters(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, clock: FakeClock,
    audit: AuditLog,
) -> None:
    auth = cc_auth(manager, oauth_mock)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/api/me")).status_code == 200
        await admin.post("/__mock__/oauth/faults", json={"invalid_grant": True, "token_delay": 0.2})
        clock.advance(7200)
        results = await asyncio.gather(*(client.get("/api/me") for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, AuthError) for r in results)
    error = results[0]
    assert isinstance(error, AuthError)
    assert error.system == "acme" and "acme" in str(error) and "invalid_grant" in str(error)
    assert (await grants(admin)) == {"client_credentials": 2}
    assert audit.entries()[-1].action == "auth.refresh" and audit.entries()[-1].outcome == "failure"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [({"token_status": 503}, "HTTP 503"), ({"token_delay": 2}, "timed out")],
)
async def test_token_endpoint_outages(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient,
    fault: dict[str, Any], expected: str,
) -> None:
    await admin.post("/__mock__/oauth/faults", json=fault)
    auth = cc_auth(manager, oauth_mock, token_timeout=0.5)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        with pytest.raises(AuthError, match=expected):
            await client.get("/api/me")


async def test_wrong_client_secret(manager: AuthenticationManager, oauth_mock: RunningMock) -> None:
    auth = manager.build("acme", "oauth2_client_credentials", {**CC, "client_secret": "wrong-secret-xyz"},
                         {"token_url": f"{oauth_mock.base_url}/token"})
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        with pytest.raises(AuthError, match="invalid_client"):
            await client.get("/api/me")


async def test_server_clock_skew_is_absorbed_by_the_refresh_skew(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    # The server runs 90 s ahead: its tokens die 90 s before our clock says. A 120 s skew refreshes in time.
    await admin.post("/__mock__/oauth/faults", json={"clock_skew": 90, "token_ttl": 600})
    auth = cc_auth(manager, oauth_mock, refresh_skew=120)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/api/me")).status_code == 200
        clock.advance(600 - 100)
        await admin.post("/__mock__/clock", json={"advance": 600 - 100})
        assert (await client.get("/api/me")).status_code == 200
    journal = (await admin.get("/__mock__/journal", params={"path": "/api/me"})).json()["entries"]
    assert [e["status"] for e in journal] == [200, 200]  # refreshed before, never a 401


async def login(auth: AuthorizationCodeAuth) -> None:
    async def browser(url: str) -> None:
        # what the user's browser does: follow the consent (auto-approved) to the loopback redirect
        async with httpx.AsyncClient(follow_redirects=True, timeout=10) as b:
            await b.get(url)

    await auth.login(browser)


def code_auth(manager: AuthenticationManager, mock: RunningMock, **credentials: str) -> AuthorizationCodeAuth:
    auth = manager.build(
        "broker", "oauth2_authorization_code", {"client_id": "portico-public", **credentials},
        {"authorize_url": f"{mock.base_url}/authorize", "token_url": f"{mock.base_url}/token",
         "revocation_url": f"{mock.base_url}/revoke", "scope": "trade"},
    )
    assert isinstance(auth, AuthorizationCodeAuth)
    return auth


async def test_authorization_code_pkce_login_refresh_rotation_and_reuse_detection(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, clock: FakeClock,
    vault: CredentialVault, audit: AuditLog,
) -> None:
    auth = code_auth(manager, oauth_mock)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        with pytest.raises(AuthError, match="not signed in"):
            await client.get("/api/me")
        await login(auth)
        me = await client.get("/api/me")
        assert me.status_code == 200 and me.json() == {"client_id": "portico-public", "sub": "mock-user", "scope": "trade"}
        first_refresh = auth.current_token.refresh_token.get_secret_value()  # type: ignore[union-attr]

        clock.advance(7200)
        assert (await client.get("/api/me")).status_code == 200
        second_refresh = auth.current_token.refresh_token.get_secret_value()  # type: ignore[union-attr]
        assert second_refresh != first_refresh  # rotated
        assert (await grants(admin)) == {"authorization_code": 1, "refresh_token": 1}

        # a restarted process picks the rotated token up from the vault
        fresh = code_auth(AuthenticationManager(vault=vault, audit=audit, clock=clock), oauth_mock)
        async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=fresh) as other:
            assert (await other.get("/api/me")).status_code == 200

        # someone replays the spent refresh token: the server revokes the whole grant
        stolen = await admin.post("/token", data={"grant_type": "refresh_token", "refresh_token": first_refresh,
                                                  "client_id": "portico-public"})
        assert stolen.status_code == 400 and "reuse" in stolen.json()["error_description"]
        with pytest.raises(AuthError, match="broker.*revoked"):
            await client.get("/api/me")  # 401, then the refresh is refused: revoked grant


async def test_authorization_code_denied_and_revocation(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, audit: AuditLog
) -> None:
    auth = code_auth(manager, oauth_mock)
    await admin.post("/__mock__/oauth/faults", json={"deny_authorization": True})
    with pytest.raises(AuthError, match="access_denied"):
        await login(auth)
    await admin.post("/__mock__/oauth/faults", json={"deny_authorization": None})
    await login(auth)
    token = auth.current_token
    assert token is not None
    await auth.revoke()
    introspect = await admin.post("/introspect", data={"token": token.access_token.get_secret_value(),
                                                       "client_id": "portico-public"})
    assert introspect.json() == {"active": False}
    assert [e.action for e in audit.entries()].count("auth.revoke") == 1


async def test_introspection_of_a_live_token(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient
) -> None:
    auth = cc_auth(manager, oauth_mock)
    token = await auth.token()
    data = (await admin.post("/introspect", data={"token": token.access_token.get_secret_value(), **CC})).json()
    assert data["active"] is True and data["client_id"] == "portico-client" and data["scope"] == "read"
    jwks = (await admin.get("/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kty"] == "RSA" and "d" not in jwks["keys"][0]


async def test_refresh_token_scheme_rotates_into_the_vault(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, vault: CredentialVault,
    clock: FakeClock,
) -> None:
    seed_auth = code_auth(manager, oauth_mock)
    await login(seed_auth)
    assert seed_auth.current_token is not None and seed_auth.current_token.refresh_token is not None
    refresh = seed_auth.current_token.refresh_token.get_secret_value()
    vault.delete("broker/oauth_token")

    auth = manager.build("svc", "oauth2_refresh_token", {"client_id": "portico-public", "refresh_token": refresh},
                         {"token_url": f"{oauth_mock.base_url}/token"})
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        assert (await client.get("/api/me")).status_code == 200
        clock.advance(7200)
        assert (await client.get("/api/me")).status_code == 200
    assert (await grants(admin))["refresh_token"] == 2
    stored = vault.get("svc/oauth_token").get_secret_value()
    assert refresh not in stored  # the rotated token replaced the configured one


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_jwt_bearer(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, alg: str, clock: FakeClock
) -> None:
    key = RSAKey.generate_key(2048) if alg == "RS256" else ECKey.generate_key("P-256")
    private_pem = key.as_pem(private=True).decode()
    await admin.post("/__mock__/oauth/clients", json={"client_id": "svc-account", "jwk": key.as_dict(private=False)})
    auth = manager.build("gcp", "jwt_bearer", {"private_key": private_pem},
                         {"token_url": f"{oauth_mock.base_url}/token", "issuer": "svc-account",
                          "subject": "robot@example.test", "alg": alg, "key_id": "k1"})
    assert isinstance(auth, JwtBearerAuth)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=auth) as client:
        me = await client.get("/api/me")
        assert me.status_code == 200 and me.json()["sub"] == "robot@example.test"
        clock.advance(7200)
        await admin.post("/__mock__/clock", json={"advance": 7200})
        assert (await client.get("/api/me")).status_code == 200  # a fresh assertion (new jti) each time
    assert (await grants(admin)) == {"urn:ietf:params:oauth:grant-type:jwt-bearer": 2}

    other = (RSAKey.generate_key(2048) if alg == "RS256" else ECKey.generate_key("P-256")).as_pem(private=True).decode()
    wrong = manager.build("gcp2", "jwt_bearer", {"private_key": other},
                          {"token_url": f"{oauth_mock.base_url}/token", "issuer": "svc-account", "alg": alg})
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=wrong) as client:
        with pytest.raises(AuthError, match="gcp2.*signature is invalid"):
            await client.get("/api/me")


def test_jwt_bearer_bad_key_is_a_configuration_error(manager: AuthenticationManager) -> None:
    with pytest.raises(ConfigurationError, match="private_key") as info:
        manager.build("gcp", "jwt_bearer", {"private_key": "-----BEGIN NOPE-----"}, {"token_url": "https://x.test/t", "issuer": "i"})
    assert info.value.path == "systems.gcp.authentication.credentials.private_key"


async def test_sync_client_is_refused_clearly(manager: AuthenticationManager, oauth_mock: RunningMock) -> None:
    auth = cc_auth(manager, oauth_mock)
    with httpx.Client(base_url=oauth_mock.base_url, auth=auth) as client, pytest.raises(AuthError, match="async"):
        client.get("/api/me")


async def test_stored_token_is_loaded_once_under_concurrency(
    tmp_path: Path, audit: AuditLog, clock: FakeClock, oauth_mock: RunningMock, admin: httpx.AsyncClient
) -> None:
    vault = CredentialVault(tmp_path / "audited.bin", "pp-123456", audit=audit, log2_n=10)
    first = cc_auth(AuthenticationManager(vault=vault, audit=audit, clock=clock), oauth_mock)
    await first.token()
    reads_before = sum(1 for e in audit.entries() if e.action == "credential.read")
    second = cc_auth(AuthenticationManager(vault=vault, audit=audit, clock=clock), oauth_mock)
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, auth=second) as client:
        responses = await asyncio.gather(*(client.get("/api/me") for _ in range(30)))
    assert {r.status_code for r in responses} == {200}
    assert sum(1 for e in audit.entries() if e.action == "credential.read") == reads_before + 1
    assert (await grants(admin)) == {"client_credentials": 1}  # the restarted auth reused the stored token
