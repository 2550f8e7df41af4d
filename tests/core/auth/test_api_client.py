"""The auth flows driven by portico's own ApiClient (its default aiohttp transport), over real HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.errors import AuthError
from portico.http import ApiClient
from portico.mocks import RunningMock

from .conftest import grants

CC = {"client_id": "portico-client", "client_secret": "portico-client-secret"}


async def test_bearer_refresh_and_401_through_api_client(
    manager: AuthenticationManager, oauth_mock: RunningMock, admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    auth = manager.build("acme", "oauth2_client_credentials", CC, {"token_url": f"{oauth_mock.base_url}/token"})
    async with ApiClient(oauth_mock.base_url, system="acme", auth=auth, clock=clock) as client:
        assert (await client.get_json("/api/me"))["client_id"] == "portico-client"
        clock.advance(7200)
        results = await asyncio.gather(*(client.get_json("/api/me") for _ in range(50)))
        assert len(results) == 50
        assert (await grants(admin)) == {"client_credentials": 2}
        await admin.post("/__mock__/oauth/tokens/expire")
        assert (await client.get("/api/me")).status_code == 200
        assert (await grants(admin)) == {"client_credentials": 3}
        await admin.post("/__mock__/oauth/faults", json={"revoke_tokens": True})
        with pytest.raises(AuthError) as info:
            await client.get("/api/me", retry=False)
        assert info.value.system == "acme"
        assert (await grants(admin)) == {"client_credentials": 4}  # one refresh for the 401, then no loop


async def test_hmac_and_query_key_through_api_client(
    manager: AuthenticationManager, oauth_mock: RunningMock, clock: FakeClock
) -> None:
    hmac_auth = manager.build("exch", "hmac", {"api_key": "portico-hmac-key", "secret_key": "portico-hmac-secret"}, {})
    async with ApiClient(oauth_mock.base_url, system="exch", auth=hmac_auth, clock=clock) as client:
        echo = await client.post("/hmac/echo", json={"side": "buy", "qty": "1"}, params={"x": "1"})
        assert echo.json()["ok"] is True and echo.json()["path"] == "/hmac/echo?x=1"
    key_auth = manager.build("av", "api_key", {"api_key": "portico-api-key"}, {"location": "query"})
    async with ApiClient(oauth_mock.base_url, system="av", auth=key_auth, clock=clock) as client:
        assert (await client.get_json("/apikey/echo", params={"function": "QUOTE"}))["method"] == "query"
