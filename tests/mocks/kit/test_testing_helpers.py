"""portico.testing.mocks: the fixtures and helpers plugin authors use to run mocks in tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from portico.mocks import RunningMock
from portico.testing.mocks import asgi_client, mock_app, mock_server, serve_mock

__all__ = ["mock_server"]  # the fixture, imported so pytest finds it here

KEYS = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}


async def test_mock_server_fixture_serves_installed_mocks_by_name(mock_server: Callable[..., Awaitable[RunningMock]]) -> None:
    running = await mock_server("alpaca", seed=2)
    assert set(running.urls) == {"trading", "data", "stream", "data_stream", "news_stream"}
    assert running.urls["stream"].startswith("ws://")
    async with httpx.AsyncClient(base_url=running.urls["trading"], headers=KEYS) as client:
        assert (await client.get("/v2/account")).json()["status"] == "ACTIVE"
    assert running.app.journal.count("GET", "/v2/account") == 1


async def test_in_process_and_context_manager_helpers() -> None:
    app = mock_app("portico.mocks.alpaca:create_app", seed=4)
    async with asgi_client(app, headers=KEYS) as client:
        assert (await client.get("/v2/clock")).status_code == 200
    async with serve_mock(app) as running:
        assert running.running
        async with httpx.AsyncClient(base_url=running.base_url, headers=KEYS) as client:
            assert (await client.get("/__mock__/health")).json()["name"] == "alpaca"
    assert not running.running
