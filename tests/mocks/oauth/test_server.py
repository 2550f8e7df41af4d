"""The mock authorization server's own behaviour, in-process (ASGI) and by name through the plugin."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portico.mocks import start_mock
from portico.mocks.oauth import create_app
from portico.plugins import PluginManager

REDIRECT = "http://127.0.0.1:8765/callback"
VERIFIER = "a" * 43 + "-verifier"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
CLIENT = ("portico-client", "portico-client-secret")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def _code(client: httpx.AsyncClient, **params: str) -> dict[str, list[str]]:
    query = {"response_type": "code", "client_id": "portico-public", "redirect_uri": REDIRECT, "state": "s1",
             "code_challenge": CHALLENGE, "code_challenge_method": "S256", "scope": "read", **params}
    response = await client.get("/authorize", params=query)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


async def _exchange(client: httpx.AsyncClient, code: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "portico-public",
            "code_verifier": VERIFIER, **extra}
    return await client.post("/token", data=data)


async def test_pkce_code_flow_and_its_failure_modes(client: httpx.AsyncClient) -> None:
    params = await _code(client)
    assert params["state"] == ["s1"]
    code = params["code"][0]
    wrong = await _exchange(client, code, code_verifier="b" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    again = await _exchange(client, code)  # a code is single-use, even after a failed attempt
    assert again.json()["error_description"] == "authorization code already used"

    good = await _exchange(client, (await _code(client))["code"][0])
    token = good.json()
    assert good.status_code == 200 and token["token_type"] == "Bearer" and token["refresh_token"].startswith("rt_")
    assert good.headers["cache-control"] == "no-store"
    mismatch = await _exchange(client, (await _code(client))["code"][0], redirect_uri="http://127.0.0.1:1/other")
    assert "redirect_uri" in mismatch.json()["error_description"]
    no_pkce = await _code(client, code_challenge="", code_challenge_method="")
    assert no_pkce["error"] == ["invalid_request"]  # public clients must use PKCE
    bad_redirect = await client.get("/authorize", params={"response_type": "code", "client_id": "portico-public",
                                                          "redirect_uri": "http://evil.test/cb"})
    assert bad_redirect.status_code == 400


async def test_consent_form_when_auto_approve_is_off(client: httpx.AsyncClient) -> None:
    await client.post("/__mock__/oauth/faults", json={"auto_approve": False})
    query = {"response_type": "code", "client_id": "portico-public", "redirect_uri": REDIRECT, "state": "x",
             "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    page = await client.get("/authorize", params=query)
    assert page.status_code == 200 and "Approve" in page.text
    denied = await client.post("/authorize", data={**query, "decision": "deny"})
    assert "error=access_denied" in denied.headers["location"]
    approved = await client.post("/authorize", data={**query, "decision": "approve"})
    assert "code=" in approved.headers["location"]


async def test_refresh_rotation_reuse_revocation_introspection(client: httpx.AsyncClient) -> None:
    token = (await _exchange(client, (await _code(client))["code"][0])).json()
    first = token["refresh_token"]
    rotated = (await client.post("/token", data={"grant_type": "refresh_token", "refresh_token": first,
                                                 "client_id": "portico-public"})).json()
    assert rotated["refresh_token"] != first
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 200
    reuse = await client.post("/token", data={"grant_type": "refresh_token", "refresh_token": first,
                                              "client_id": "portico-public"})
    assert reuse.json()["error"] == "invalid_grant" and "reuse" in reuse.json()["error_description"]
    revoked = await client.get("/api/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["www-authenticate"]
    after = await client.post("/token", data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"],
                                              "client_id": "portico-public"})
    assert after.json()["error_description"] == "refresh token revoked"

    cc = (await client.post("/token", data={"grant_type": "client_credentials"}, auth=CLIENT)).json()
    live = (await client.post("/introspect", data={"token": cc["access_token"]}, auth=CLIENT)).json()
    assert live["active"] is True and live["client_id"] == "portico-client"
    assert (await client.post("/revoke", data={"token": cc["access_token"]}, auth=CLIENT)).status_code == 200
    assert (await client.post("/introspect", data={"token": cc["access_token"]}, auth=CLIENT)).json() == {"active": False}
    assert (await client.post("/revoke", data={"token": "unknown"}, auth=CLIENT)).status_code == 200  # RFC 7009 §2.2
    assert (await client.post("/introspect", data={"token": "x"}, auth=("portico-client", "bad"))).status_code == 401


async def test_errors_for_bad_grants_and_clients(client: httpx.AsyncClient) -> None:
    assert (await client.post("/token", data={"grant_type": "password"}, auth=CLIENT)).json()["error"] == "unsupported_grant_type"
    assert (await client.post("/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x"))).status_code == 401
    public_cc = await client.post("/token", data={"grant_type": "client_credentials", "client_id": "portico-public"})
    assert public_cc.json()["error"] == "unauthorized_client"
    assertion = await client.post("/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                                  "assertion": "not-a-jwt"})
    assert assertion.json()["error"] == "invalid_grant"


async def test_faults_expiry_clock_and_token_status(client: httpx.AsyncClient) -> None:
    app: Any = client.app  # type: ignore[attr-defined]
    token = (await client.post("/token", data={"grant_type": "client_credentials"}, auth=CLIENT)).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await client.get("/api/me", headers=bearer)).status_code == 200
    await client.post("/__mock__/clock", json={"advance": 3601})  # the kit's clock drives expiry
    assert "expired" in (await client.get("/api/me", headers=bearer)).json()["error_description"]
    await client.post("/__mock__/oauth/faults", json={"invalid_grant": 2})
    for _ in range(2):
        refused = await client.post("/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
        assert refused.json()["error"] == "invalid_grant"
    assert (await client.post("/token", data={"grant_type": "client_credentials"}, auth=CLIENT)).status_code == 200
    await client.post("/__mock__/oauth/faults", json={"token_status": 503})
    assert (await client.post("/token", data={"grant_type": "client_credentials"}, auth=CLIENT)).status_code == 503
    await client.delete("/__mock__/oauth/faults")
    assert app.state.oauth.faults == {}
    state = (await client.get("/__mock__/oauth/state")).json()
    assert state["grants"]["client_credentials"] == 5
    journal = (await client.get("/__mock__/journal", params={"path": "/token"})).json()["entries"]
    assert len(journal) == 5  # the kit's journal sees every call


async def test_seeded_tokens_are_reproducible() -> None:
    async def first_refresh(seed: int) -> str:
        app = create_app(seed=seed)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as c:
            return (await _exchange(c, (await _code(c))["code"][0])).json()["refresh_token"]

    assert await first_refresh(5) == await first_refresh(5)
    assert await first_refresh(5) != await first_refresh(6)


def test_fault_arguments() -> None:
    app = create_app(faults={"clock_skew": 30, "faults": [{"route": "/token", "kind": "latency", "delay": 0.01}]})
    assert app.state.oauth.faults == {"clock_skew": 30}
    assert len(app.faults.rules) == 1
    with pytest.raises(ValueError, match="unknown oauth mock faults"):
        create_app(faults={"clock_skew": 1, "bogus": True})


async def test_served_by_name_through_the_plugin() -> None:
    assert "oauth" in PluginManager().mocks
    running = start_mock("oauth", seed=1)
    try:
        async with httpx.AsyncClient(base_url=running.urls["base"]) as c:
            meta = (await c.get("/.well-known/oauth-authorization-server")).json()
            assert meta["token_endpoint"] == running.urls["token"]
            assert "S256" in meta["code_challenge_methods_supported"]
            keys = (await c.get("/.well-known/jwks.json")).json()["keys"]
            assert keys[0]["kid"] == "mock-1"
    finally:
        await running.stop()
