"""What the API client's fast path puts on the wire: exactly its headers, none added by aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from portico.context import correlation_scope
from portico.http import AiohttpTransport, ApiClient
from portico.http._breaker import CircuitBreaker

from .localserver import serve


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serve() as url:
        yield url


async def test_a_get_carries_exactly_the_clients_headers(base_url: str) -> None:
    async with ApiClient(base_url, system="local") as client:
        with correlation_scope("c-1"):
            echoed = (await client.get("/echo")).json()
    headers = echoed["headers"]
    host = httpx.URL(base_url).netloc.decode()
    assert headers == {
        "host": host,
        "user-agent": headers["user-agent"],
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "x-correlation-id": "c-1",
    }
    assert headers["user-agent"].startswith("portico/")  # not aiohttp's own


async def test_a_raw_body_gets_no_content_type_from_aiohttp(base_url: str) -> None:
    async with ApiClient(base_url, system="local") as client:
        echoed = (await client.request("PUT", "/echo", content=b"raw bytes")).json()
    assert echoed["body"] == "raw bytes"
    assert "content-type" not in echoed["headers"]  # aiohttp would add application/octet-stream


async def test_a_bare_request_through_the_transport_gets_nothing_added(base_url: str) -> None:
    transport = AiohttpTransport()
    try:
        response = await transport.send_buffered(httpx.Request("POST", f"{base_url}/echo", content=b"x"))
        headers = response.json()["headers"]
        assert set(headers) == {
            "host",
            "content-length",
        }  # no Accept, User-Agent or Content-Type of aiohttp's
        response = await transport.send_buffered(
            httpx.Request("GET", f"{base_url}/echo", headers={}), auto_headers_sent=False
        )
        assert set(response.json()["headers"]) == {"host"}
    finally:
        await transport.aclose()


async def test_set_cookie_is_still_kept_and_sent_back(base_url: str) -> None:
    async with ApiClient(base_url, system="local", breaker=CircuitBreaker("local")) as client:
        await client.get("/cookie")
        assert client.cookies  # set by the answer's Set-Cookie
        echoed = (await client.get("/echo")).json()
    assert "cookie" in echoed["headers"]
