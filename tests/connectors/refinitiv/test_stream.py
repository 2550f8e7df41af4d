"""Streaming quotes over the mock's OMM WebSocket, through portico's WebSocketClient, over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from portico.auth import AuthContext
from portico.connectors.refinitiv import SCHEME, RefinitivConnector, RefinitivPasswordAuth
from portico.connectors.refinitiv.stream import streaming_url
from portico.errors import NotFound, PayloadRejected
from portico.mocks import RunningMock, start_mock
from portico.mocks.refinitiv import create_app
from portico.models import Quote
from portico.sdk import ConnectorContext

CREDENTIALS = {"app_key": "portico-app-key", "username": "portico-user", "password": "portico-password"}


@pytest.fixture
async def served() -> AsyncIterator[RunningMock]:
    running = await asyncio.to_thread(start_mock, create_app(seed=4))
    yield running
    await running.stop()


@pytest.fixture
async def connector(served: RunningMock) -> AsyncIterator[RefinitivConnector]:
    base = served.base_url
    auth = RefinitivPasswordAuth(AuthContext(system_id="lseg", scheme=SCHEME), CREDENTIALS,
                                 {"token_url": f"{base}/auth/oauth2/v1/token",
                                  "revocation_url": f"{base}/auth/oauth2/v1/revoke"})  # fmt: skip
    context = ConnectorContext.for_testing(
        RefinitivConnector, urls={"base": base}, system_id="lseg", auth=auth
    )
    instance = RefinitivConnector(context)
    await instance.open()
    yield instance
    await instance.close()


async def _take(iterator: AsyncIterator[Quote], count: int) -> list[Quote]:
    taken: list[Quote] = []

    async def run() -> None:
        async for quote in iterator:
            taken.append(quote)
            if len(taken) >= count:
                return

    try:
        await asyncio.wait_for(run(), timeout=15)
    finally:
        await iterator.aclose()  # type: ignore[attr-defined]
    return taken


async def test_quotes_stream_as_images_then_updates(
    connector: RefinitivConnector, served: RunningMock
) -> None:
    quotes = await _take(connector.subscribe_quotes(["EUR=", "AAPL.O"]), 6)
    assert {q.symbol for q in quotes[:2]} == {"EUR=", "AAPL.O"}  # the two images come first
    for quote in quotes:
        assert quote.bid_price is not None and quote.ask_price is not None
        assert quote.bid_price < quote.ask_price
    assert {q.symbol for q in quotes[2:]} <= {"EUR=", "AAPL.O"}
    socket = served.app.journal.entries(path="/WebSocket")
    assert [e.status for e in socket] == [101]
    assert served.app.journal.entries(path="/streaming/pricing/v1/")[0].status == 200


async def test_an_unknown_ric_closes_its_stream_with_not_found(connector: RefinitivConnector) -> None:
    with pytest.raises(NotFound, match="closed the stream of NOSUCH.X"):
        await _take(connector.subscribe_quotes(["NOSUCH.X"]), 1)


async def test_no_rics_is_refused(connector: RefinitivConnector) -> None:
    with pytest.raises(PayloadRejected, match="no RICs given"):
        await _take(connector.subscribe_quotes([]), 1)


@pytest.mark.parametrize(
    ("discovery", "url"),
    [
        ({"services": [{"transport": "websocket", "endpoint": "us-east-1-aws-3-sm.optimized-pricing-api.refinitiv.net",
                        "port": 443, "dataFormat": ["tr_json2"]}]},
         "wss://us-east-1-aws-3-sm.optimized-pricing-api.refinitiv.net:443/WebSocket"),
        ({"services": [{"transport": "tcp", "endpoint": "h", "port": 14002},
                       {"transport": "websocket", "endpoint": "127.0.0.1", "port": 8080}]},
         "ws://127.0.0.1:8080/WebSocket"),
    ],
)  # fmt: skip
def test_the_websocket_url_comes_from_discovery(discovery: dict[str, Any], url: str) -> None:
    assert streaming_url(discovery) == url


def test_a_discovery_without_a_websocket_service_is_refused() -> None:
    with pytest.raises(PayloadRejected, match="no websocket service"):
        streaming_url({"services": [{"transport": "tcp", "endpoint": "h", "port": 14002}]})


async def test_a_dropped_socket_reconnects_logs_in_again_and_keeps_streaming(
    connector: RefinitivConnector, served: RunningMock
) -> None:
    # the first connection dies after two server messages (the login answer and the image)
    served.app.faults.add({"route": "/WebSocket", "kind": "ws_disconnect", "after_messages": 2, "times": 1})
    quotes = await _take(connector.subscribe_quotes(["GBP="]), 3)
    assert [q.symbol for q in quotes] == ["GBP="] * 3
    sockets = served.app.journal.entries(path="/WebSocket")
    assert len(sockets) == 2
    for socket in sockets:  # each connection opened with a Login, then the item request
        assert socket.messages[0]["Domain"] == "Login"
        assert socket.messages[1][0]["Key"] == {"Name": "GBP="}


async def test_the_login_is_renewed_on_the_socket_before_the_token_expires() -> None:
    running = await asyncio.to_thread(start_mock, create_app(seed=4, access_lifetime=3))
    base = running.base_url
    auth = RefinitivPasswordAuth(AuthContext(system_id="lseg", scheme=SCHEME), CREDENTIALS,
                                 {"token_url": f"{base}/auth/oauth2/v1/token", "refresh_skew": 1})  # fmt: skip
    context = ConnectorContext.for_testing(
        RefinitivConnector, urls={"base": base}, system_id="lseg", auth=auth
    )
    connector = RefinitivConnector(context)
    try:
        await _take(connector.subscribe_quotes(["EUR="]), 8)  # updates every 0.5 s: past the 2 s mark
        logins = [m for m in running.app.journal.entries(path="/WebSocket")[0].messages
                  if isinstance(m, dict) and m.get("Domain") == "Login"]  # fmt: skip
        assert len(logins) >= 2
        assert "Refresh" not in logins[0] and logins[1]["Refresh"] is False
        assert running.app.state.mock.tokens.grants[:2] == ["password", "refresh_token"]
    finally:
        await connector.close()
        await running.stop()


async def test_trades_stream_one_per_new_print(connector: RefinitivConnector, served: RunningMock) -> None:
    stream = connector.subscribe_trades(["AAPL.O"])
    trades: list[Any] = []

    async def run() -> None:
        async for trade in stream:
            trades.append(trade)
            if len(trades) >= 3:
                return

    try:
        await asyncio.wait_for(run(), timeout=15)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert [t.symbol for t in trades] == ["AAPL.O"] * 3
    assert all(t.price > 0 for t in trades)
    stamps = [t.timestamp for t in trades]
    assert len(set(stamps)) == 3 and stamps == sorted(stamps)  # each a new print, never the same one twice
    view = served.app.journal.entries(path="/WebSocket")[0].messages[1][0]["View"]
    assert view == ["TRDPRC_1", "TRDVOL_1", "TRDTIM_1", "VALUE_DT1"]
