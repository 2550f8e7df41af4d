"""The mock app: faults, journal, admin endpoints, serving over TCP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from portico.mocks import MockApp, json_response, load_faults, start_mock
from portico.sdk import MockSpec as SdkMockSpec

COUNT = {"n": 0}


async def _order(request: Request) -> Response:
    COUNT["n"] += 1
    return json_response({"id": COUNT["n"], "echo": await request.json()})


async def _ws(websocket: WebSocket) -> None:
    await websocket.accept()
    for i in range(5):
        await websocket.send_text(str(i))
    await websocket.receive_text()
    await websocket.close()


def _app(**kwargs: object) -> MockApp:
    return MockApp([Route("/orders", _order, methods=["POST"]), WebSocketRoute("/ws", _ws)], **kwargs)  # type: ignore[arg-type]


def _client(app: MockApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock")


async def test_journal_records_requests_with_secrets_redacted() -> None:
    app = _app()
    async with _client(app) as client:
        await client.post("/orders", json={"a": 1}, headers={"APCA-API-SECRET-KEY": "s3cret"})
        journal = (await client.get("/__mock__/journal")).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [("POST", "/orders", 200)]
    assert journal[0]["headers"]["apca-api-secret-key"] == "***"
    assert app.journal.entries("POST", "/orders")[0].json() == {"a": 1}
    assert "s3cret" not in str(journal)


async def test_error_rate_limit_and_counts() -> None:
    app = _app(faults=[{"route": "/orders", "kind": "rate_limit", "retry_after": 3, "times": 1},
                       {"route": "/orders", "kind": "error", "status": 503, "skip": 1, "times": 1}])
    async with _client(app) as client:
        first = await client.post("/orders", json={})
        second = await client.post("/orders", json={})
        third = await client.post("/orders", json={})
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert second.status_code == 503
    assert third.status_code == 200


async def test_drop_after_commits_but_loses_the_response_in_process() -> None:
    app = _app(faults=[{"route": "/orders", "kind": "drop_after"}])
    before = COUNT["n"]
    async with _client(app) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/orders", json={})
    assert COUNT["n"] == before + 1


async def test_drop_before_never_reaches_the_handler_in_process() -> None:
    app = _app(faults=[{"route": "/orders", "kind": "drop_before"}])
    before = COUNT["n"]
    async with _client(app) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("/orders", json={})
    assert COUNT["n"] == before
    assert app.journal.entries()[0].faults == ["drop_before"]


async def test_malformed_and_truncated_bodies() -> None:
    app = _app(faults=[{"route": "/orders", "kind": "malformed", "times": 1}, {"route": "/orders", "kind": "truncate", "skip": 1}])
    async with _client(app) as client:
        for _ in range(2):
            response = await client.post("/orders", json={"x": "y" * 20})
            assert response.status_code == 200
            with pytest.raises(ValueError):
                response.json()


async def test_faults_and_clock_at_run_time() -> None:
    app = _app()
    async with _client(app) as client:
        added = await client.post("/__mock__/faults", json={"route": "/orders", "kind": "error", "status": 502})
        assert added.status_code == 201
        assert (await client.post("/orders", json={})).status_code == 502
        bad = await client.post("/__mock__/faults", json={"route": "/orders", "kind": "explode"})
        assert bad.status_code == 422
        await client.delete("/__mock__/faults")
        assert (await client.post("/orders", json={})).status_code == 200
        moved = await client.post("/__mock__/clock", json={"advance": 90})
    assert moved.json()["now"] == "2026-01-05T15:01:30+00:00"


def test_fault_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("faults:\n  - route: /x\n    kind: latency\n    delay: -1\n")
    with pytest.raises(ValueError, match=r"faults.yaml: faults\[0\]\.delay"):
        load_faults(path)
    path.write_text("faults:\n  - {route: /x, kind: latency, delay: 0.5}\n")
    assert load_faults(path).rules[0].delay == 0.5


def test_served_over_tcp_with_real_connection_drops() -> None:
    app = _app(faults=[{"route": "/orders", "kind": "drop_after", "times": 1}, {"route": "/orders", "kind": "drop_before", "skip": 1, "times": 1}])
    spec = SdkMockSpec(app="x:y", url_keys={"trading": "", "stream": "/ws"})
    before = COUNT["n"]
    with start_mock(app) as running, httpx.Client(base_url=running.base_url) as client:
        with pytest.raises(httpx.TransportError):
            client.post("/orders", json={})
        with pytest.raises(httpx.TransportError):
            client.post("/orders", json={})
        assert client.post("/orders", json={}).status_code == 200
    assert COUNT["n"] == before + 2
    assert not running.running
    from portico.mocks import mock_urls

    assert mock_urls(spec.url_keys, "127.0.0.1", 9) == {"trading": "http://127.0.0.1:9", "stream": "ws://127.0.0.1:9/ws"}


async def test_websocket_disconnect_fault() -> None:
    import websockets

    app = _app(faults=[{"route": "/ws", "kind": "ws_disconnect", "after_messages": 2}])
    async with start_mock(app) as running:
        got: list[str] = []
        async with websockets.connect(running.base_url.replace("http", "ws") + "/ws") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    got.append(str(await ws.recv()))
    assert got == ["0", "1"]


async def test_websocket_silence_fault_keeps_the_connection_open_and_sends_nothing_more() -> None:
    import asyncio

    import websockets

    app = _app(faults=[{"route": "/ws", "kind": "ws_silence", "after_messages": 2}])
    async with start_mock(app) as running:
        got: list[str] = []
        async with websockets.connect(running.base_url.replace("http", "ws") + "/ws") as ws:
            got.append(str(await asyncio.wait_for(ws.recv(), 10)))
            got.append(str(await asyncio.wait_for(ws.recv(), 10)))
            # messages 2-4 were swallowed; the server still reads (and then closes normally)
            await ws.send("bye")
            with pytest.raises(websockets.ConnectionClosedOK):
                await asyncio.wait_for(ws.recv(), 10)
    assert got == ["0", "1"]


async def test_journal_masks_credentials_in_queries_bodies_and_ws_messages() -> None:
    app = _app()
    async with _client(app) as client:
        await client.post("/orders?apikey=K123&symbol=IBM", json={"client_secret": "cs", "nested": {"token": "t"}, "qty": 1})
    entry = app.journal.entries("POST", "/orders")[0]
    assert "K123" not in entry.query and "symbol=IBM" in entry.query
    assert entry.json() == {"client_secret": "***", "nested": {"token": "***"}, "qty": 1}


async def test_a_body_over_the_limit_is_refused_with_413_before_the_handler_runs() -> None:
    app = _app(max_body_bytes=1024)
    before = COUNT["n"]
    async with _client(app) as client:
        big = await client.post("/orders", content=b'{"x": "' + b"a" * 5000 + b'"}', headers={"content-type": "application/json"})
        assert big.status_code == 413
        assert big.json() == {"message": "request body larger than 1024 bytes"}
        small = await client.post("/orders", json={"x": 1})
        assert small.status_code == 200
        # the admin API is bounded too
        admin = await client.post("/__mock__/faults", content=b"[" + b" " * 5000 + b"]")
        assert admin.status_code == 413
    assert COUNT["n"] == before + 1
    assert [e.status for e in app.journal.entries("POST", "/orders")] == [413, 200]


def test_a_streamed_body_over_the_limit_is_cut_off_over_tcp() -> None:
    app = _app(max_body_bytes=64 * 1024)
    before = COUNT["n"]

    def chunks():  # no content-length: the limit must hold while streaming
        for _ in range(64):
            yield b"x" * 8192

    with start_mock(app) as running, httpx.Client(base_url=running.base_url) as client:
        answer = client.post("/orders", content=chunks(), headers={"content-type": "application/json"})
        assert answer.status_code == 413
        assert client.post("/orders", json={"ok": True}).status_code == 200
    assert COUNT["n"] == before + 1


async def test_the_journal_keeps_only_a_bounded_prefix_of_each_body() -> None:
    app = _app(journal_body_bytes=100)
    async with _client(app) as client:
        assert (await client.post("/orders", json={"pad": "p" * 1000})).status_code == 200
    body = app.journal.entries("POST", "/orders")[-1].body
    assert body.startswith('{"pad":"pppp')
    assert body.endswith("...[910 more bytes]")
    assert len(body) == 100 + len("...[910 more bytes]")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"advance": 1e300}, "the mock clock moves at most 100 years past its start"),
        ({"advance": "inf"}, "'advance' must be a finite number of seconds"),
        ({"advance": "nan"}, "'advance' must be a finite number of seconds"),
        ({"advance": -5}, "the mock clock cannot go backwards"),
        ({"advance": True}, "'advance' must be a finite number of seconds"),
        ({"set": "9999-12-31T00:00:00Z"}, "the mock clock moves at most 100 years past its start"),
        ({"set": "not a time"}, "'set' must be an ISO 8601 time with a zone"),
        ([1, 2], "give 'advance' (seconds) or 'set' (ISO time)"),
        ("advance", "give 'advance' (seconds) or 'set' (ISO time)"),
    ],
)
async def test_bad_clock_admin_calls_are_refused_and_the_mock_keeps_working(payload: object, message: str) -> None:
    app = _app()
    async with _client(app) as client:
        bad = await client.post("/__mock__/clock", json=payload)
        assert bad.status_code == 422
        assert bad.json() == {"message": message}
        assert (await client.get("/__mock__/clock")).json()["now"] == "2026-01-05T15:00:00+00:00"
        assert (await client.post("/orders", json={})).status_code == 200
        assert (await client.get("/__mock__/health")).status_code == 200
        assert (await client.post("/__mock__/clock", content=b"{not json")).status_code == 422


async def _named(label: str, request: Request) -> Response:
    return json_response({"route": label, "params": dict(request.path_params)})


def _labelled(label: str):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        return await _named(label, request)

    return endpoint


async def test_fixed_paths_are_answered_by_the_route_starlettes_scan_picks() -> None:
    app = MockApp([
        Route("/items/{item}", _labelled("item"), methods=["GET"]),
        Route("/items/special", _labelled("special"), methods=["GET", "POST"]),  # shadowed for GET
        Route("/things", _labelled("things-get"), methods=["GET"]),
        Route("/things", _labelled("things-post"), methods=["POST"]),
        Route("/only-get", _labelled("only-get"), methods=["GET"]),
    ])  # fmt: skip
    async with _client(app) as client:
        assert (await client.get("/items/special")).json() == {"route": "item", "params": {"item": "special"}}
        assert (await client.post("/items/special")).json() == {"route": "special", "params": {}}
        assert (await client.get("/things")).json()["route"] == "things-get"
        assert (await client.post("/things")).json()["route"] == "things-post"
        refused = await client.delete("/only-get")
        assert refused.status_code == 405
        assert set(refused.headers["allow"].split(", ")) == {"GET", "HEAD"}
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.get("/only-get")).json()["route"] == "only-get"
        # a route added later is found too
        app.router.add_route("/late", _labelled("late"), methods=["GET"])
        assert (await client.get("/late")).json()["route"] == "late"
        assert [e.path for e in app.journal.entries("GET")][-1] == "/late"
