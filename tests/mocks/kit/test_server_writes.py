"""The mock server's transport: a response's head leaves with its body, in one write, bytes in order."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from portico.mocks import MockApp, json_response, start_mock
from portico.mocks._kit._server import _OneWriteTransport


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        self.writes.append(b"".join(lines))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.events.append("close")

    def abort(self) -> None:
        self.events.append("abort")

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


async def test_the_head_leaves_with_the_body_or_alone_at_the_end_of_the_loop_iteration() -> None:
    raw = _Recorder()
    transport = _OneWriteTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert raw.writes == []  # held for the body
    transport.write(b"{}")
    assert raw.writes == [HEAD + b"{}"]
    transport.write(HEAD)  # a head with no body after it (a handshake, a streamed answer)
    await asyncio.sleep(0)
    assert raw.writes == [HEAD + b"{}", HEAD]
    transport.write(b"frame")  # anything else goes straight out
    transport.write(HEAD)
    transport.writelines([b"a", b"b"])  # the held head first
    assert raw.writes[2:] == [b"frame", HEAD, b"ab"]
    transport.write(HEAD)
    transport.close()  # flushed before the close
    assert raw.writes[-1] == HEAD and raw.events == ["close"]
    transport.write(HEAD)
    transport.abort()  # a reset: the head is dropped
    await asyncio.sleep(0)
    assert raw.writes[-1] == HEAD and len(raw.writes) == 6 and raw.events == ["close", "abort"]
    assert transport.get_extra_info("peername") == "info:peername"


async def test_answers_over_tcp_are_whole_with_the_coalesced_head() -> None:
    from starlette.responses import Response
    from starlette.routing import Route

    async def small(request: Any) -> Any:
        return json_response({"n": int(request.query_params.get("n", "0"))})

    async def empty(request: Any) -> Any:
        return Response(status_code=204)

    app = MockApp([Route("/small", small), Route("/empty", empty)])
    with start_mock(app) as running:
        async with httpx.AsyncClient(base_url=running.base_url) as client:
            for n in range(20):
                response = await client.get("/small", params={"n": n})
                assert response.status_code == 200 and response.json() == {"n": n}
            assert (await client.get("/empty")).status_code == 204
            assert (await client.head("/small")).status_code == 200
            assert (await client.get("/small", params={"n": 7})).json() == {"n": 7}
