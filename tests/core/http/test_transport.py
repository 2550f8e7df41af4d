"""AiohttpTransport against a real local server: bytes, streaming, decoding, and httpx's exceptions."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from portico.clock import FakeClock
from portico.context import correlation_scope
from portico.errors import ConnectionFailed, ReadTimeout, ResponseLost, ServerError
from portico.http import AiohttpTransport, ApiClient, Timeouts
from portico.sdk import RetryPolicy

from .localserver import serve


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serve() as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5.0)) as client:
        yield client


async def test_get_and_post_round_trip_the_exact_request(http: httpx.AsyncClient, base_url: str) -> None:
    response = await http.get(f"{base_url}/v2/quote")
    assert response.status_code == 200
    assert response.json() == {"symbol": "AAPL", "bid": "187.24"}
    assert response.http_version == "HTTP/1.1"
    echoed = (
        await http.post(
            f"{base_url}/echo", params={"a": "1 2"}, json={"qty": "3"}, headers={"X-Thing": "yes"}
        )
    ).json()
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"qty": "3"}
    assert echoed["query"] == {"a": "1 2"}
    assert echoed["headers"]["x-thing"] == "yes"
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["user-agent"].startswith("python-httpx")


async def test_streaming_request_body(http: httpx.AsyncClient, base_url: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    echoed = (await http.put(f"{base_url}/echo", content=body())).json()
    assert echoed["body"] == "one,two,three"


async def test_gzip_is_decoded_once_by_httpx(http: httpx.AsyncClient, base_url: str) -> None:
    response = await http.get(f"{base_url}/gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"compressed": True}


async def test_streamed_response_is_read_as_iterated(http: httpx.AsyncClient, base_url: str) -> None:
    async with http.stream("GET", f"{base_url}/stream") as response:
        chunks = [chunk async for chunk in response.aiter_bytes()]
    assert b"".join(chunks) == b"chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"
    # The connection went back to the pool: the next call works on it.
    assert (await http.get(f"{base_url}/v2/quote")).status_code == 200


async def test_redirects_and_cookies_are_left_to_httpx(http: httpx.AsyncClient, base_url: str) -> None:
    response = await http.get(f"{base_url}/redirect")
    assert response.status_code == 302
    await http.get(f"{base_url}/cookie")
    assert (await http.get(f"{base_url}/cookie")).json() == {"seen": "s-1"}


async def test_read_timeout_maps_to_httpx_read_timeout(base_url: str) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5.0, read=0.05)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{base_url}/slow")


async def test_refused_connection_maps_to_connect_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_dropped_connection_maps_to_remote_protocol_error(http: httpx.AsyncClient, base_url: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get(f"{base_url}/drop")


async def test_api_client_on_the_real_server(base_url: str) -> None:
    clock = FakeClock()
    async with ApiClient(
        base_url,
        system="local",
        clock=clock,
        retry=RetryPolicy(attempts=2, base_delay=0.1),
        timeouts=Timeouts(read=0.05, total=5.0),
    ) as client:
        assert (await client.get_json("/v2/quote"))["symbol"] == "AAPL"
        echoed = (await client.post("/echo", json={"a": 1}, idempotency_key="k-1")).json()
        assert echoed["headers"]["idempotency-key"] == "k-1"
        assert echoed["headers"]["user-agent"].startswith("portico/")
        assert (await client.get_json("/gzip")) == {"compressed": True}
        with pytest.raises(ServerError) as info:
            await client.get("/status/503", params={"retry_after": "2"})
        assert info.value.venue_code == 50300
        assert clock.sleeps == [2.0]
        with pytest.raises(ReadTimeout):
            await client.get("/slow")
        with pytest.raises(ResponseLost):
            await client.get("/drop")
        await client.get("/cookie")
        assert (await client.get_json("/cookie")) == {"seen": "s-1"}


async def test_api_client_on_httpx_own_transport(base_url: str) -> None:
    async with ApiClient(
        base_url,
        system="local",
        transport="httpx",
        clock=FakeClock(),
        timeouts=Timeouts(read=0.05),
        retry=RetryPolicy(attempts=1),
    ) as client:
        assert (await client.get_json("/v2/quote"))["symbol"] == "AAPL"
        assert (await client.get_json("/gzip")) == {"compressed": True}
        with pytest.raises(ReadTimeout):
            await client.get("/slow")


async def test_api_client_connection_refused_is_connection_failed() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with ApiClient(f"http://127.0.0.1:{port}", system="down", clock=FakeClock()) as client:
        with pytest.raises(ConnectionFailed):
            await client.get("/")


async def test_auth_flow_headers_reach_the_wire_on_the_aiohttp_path(base_url: str) -> None:
    class HeaderAuth(httpx.Auth):
        def auth_flow(self, request: httpx.Request):
            request.headers["APCA-API-KEY-ID"] = "key-id"
            yield request

    async with ApiClient(base_url, system="local", clock=FakeClock(), auth=HeaderAuth()) as client:
        echoed = (await client.get("/echo", params={"q": "1"})).json()
    assert echoed["headers"]["apca-api-key-id"] == "key-id"
    assert echoed["query"] == {"q": "1"}


def test_retry_after_parsing() -> None:
    from datetime import UTC, datetime

    from portico.http import parse_retry_after

    now = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("-4", now) == 0.0
    assert parse_retry_after("Mon, 05 Jan 2026 14:30:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 05 Jan 2026 14:29:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("nan", now) is None


async def test_correlation_id_reaches_the_wire_once_on_the_aiohttp_path(base_url: str) -> None:
    async with ApiClient(base_url, system="local", clock=FakeClock()) as client:
        echoed = (await client.get("/echo")).json()
        assert echoed["correlation_ids"] == []  # no operation in progress: no header
        with correlation_scope("op-1"):
            first = (await client.get("/echo")).json()
            with correlation_scope():  # nested: the same operation, the same id
                second = (await client.post("/echo", json={"a": 1}, idempotency_key="k-1")).json()
            explicit = (await client.get("/echo", headers={"X-Correlation-ID": "caller-set"})).json()
        with correlation_scope() as fresh:
            third = (await client.get("/echo")).json()
    assert first["correlation_ids"] == ["op-1"]
    assert second["correlation_ids"] == ["op-1"] and second["headers"]["idempotency-key"] == "k-1"
    assert explicit["correlation_ids"] == ["caller-set"]
    assert third["correlation_ids"] == [fresh] and fresh != "op-1"


async def test_scope_id_replaces_a_client_level_correlation_header(base_url: str) -> None:
    async with ApiClient(base_url, system="local", clock=FakeClock(), headers={"X-Correlation-ID": "static"}) as client:
        with correlation_scope("op-2"):
            echoed = (await client.get("/echo")).json()
        unscoped = (await client.get("/echo")).json()
    assert echoed["correlation_ids"] == ["op-2"]
    assert unscoped["correlation_ids"] == ["static"]


async def test_correlation_header_off_sends_none_on_the_aiohttp_path(base_url: str) -> None:
    async with ApiClient(base_url, system="local", clock=FakeClock(), correlation_header=False) as client:
        with correlation_scope("op-3"):
            echoed = (await client.get("/echo")).json()
    assert echoed["correlation_ids"] == []
