"""The Alpaca mock's wire behaviour beyond what alpaca-py exercises: limits, errors, filters, raw streams."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import msgpack
import pytest
import websockets

from portico.mocks import DEFAULT_START, RunningMock
from portico.mocks.alpaca import create_app
from portico.testing.mocks import asgi_client

KEYS = {"APCA-API-KEY-ID": "PKTEST", "APCA-API-SECRET-KEY": "secret"}


def _client(**options: object) -> httpx.AsyncClient:
    return asgi_client(create_app(seed=3, start=DEFAULT_START, **options), headers=KEYS)  # type: ignore[arg-type]


async def test_rate_limit_is_per_key_with_headers() -> None:
    async with _client(rate_limit=5) as client:
        for i in range(5):
            response = await client.get("/v2/clock")
            assert response.status_code == 200
            assert response.headers["x-ratelimit-remaining"] == str(4 - i)
        limited = await client.get("/v2/clock")
        assert limited.status_code == 429
        assert limited.json() == {"code": 42910000, "message": "rate limit exceeded"}
        other = await client.get("/v2/clock", headers={"APCA-API-KEY-ID": "OTHER"})
        assert other.status_code == 200


async def test_auth_is_required_and_bearer_tokens_work() -> None:
    async with _client(tokens={"tok"}) as client:
        assert (await client.get("/v2/account", headers={"APCA-API-KEY-ID": "", "APCA-API-SECRET-KEY": ""})).status_code == 401
        anonymous = await httpx.AsyncClient(transport=client._transport, base_url="http://mock").get("/v2/account")
        assert anonymous.status_code == 401 and anonymous.json()["code"] == 40110000
        bearer = httpx.AsyncClient(transport=client._transport, base_url="http://mock", headers={"Authorization": "Bearer tok"})
        assert (await bearer.get("/v2/account")).status_code == 200
        assert (await bearer.get("/v2/account", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_order_validation_errors_are_422_with_codes() -> None:
    async with _client() as client:
        cases = [
            {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"},
            {"symbol": "AAPL", "qty": "1", "side": "hold", "type": "market", "time_in_force": "day"},
            {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"},
            {"symbol": "AAPL", "qty": "x", "side": "buy", "type": "market", "time_in_force": "day"},
            {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", "extended_hours": True},
        ]
        for body in cases:
            response = await client.post("/v2/orders", json=body)
            assert response.status_code == 422, body
            assert response.json()["code"] == 40010001 and response.json()["message"]
        malformed = await client.post("/v2/orders", content=b"{not json")
        assert malformed.status_code == 400


async def test_order_listing_filters_and_multi_status_cancel() -> None:
    async with _client() as client:
        base = {"qty": "1", "side": "buy", "type": "limit", "limit_price": "1", "time_in_force": "gtc"}
        ids = [(await client.post("/v2/orders", json={**base, "symbol": s})).json()["id"] for s in ("AAPL", "MSFT", "AAPL")]
        listed = (await client.get("/v2/orders", params={"symbols": "AAPL", "direction": "asc"})).json()
        assert [o["id"] for o in listed] == [ids[0], ids[2]]
        assert [o["id"] for o in (await client.get("/v2/orders", params={"limit": 1})).json()] == [ids[2]]
        assert (await client.get("/v2/orders", params={"status": "sideways"})).status_code == 422
        assert (await client.delete(f"/v2/orders/{ids[1]}")).status_code == 204
        again = await client.delete(f"/v2/orders/{ids[1]}")
        assert again.status_code == 422
        multi = await client.delete("/v2/orders")
        assert multi.status_code == 207
        assert sorted(r["id"] for r in multi.json()) == sorted([ids[0], ids[2]])
        closed = (await client.get("/v2/orders", params={"status": "closed"})).json()
        assert {o["status"] for o in closed} == {"canceled"}
        missing = await client.get("/v2/orders:by_client_order_id", params={"client_order_id": "never"})
        assert missing.status_code == 404 and missing.json() == {"code": 40410000, "message": "order not found"}


async def test_decimals_are_strings_and_times_rfc3339() -> None:
    async with _client() as client:
        order = (await client.post("/v2/orders", json={"symbol": "AAPL", "qty": 2, "side": "buy", "type": "market", "time_in_force": "day"})).json()
        assert isinstance(order["filled_avg_price"], str) and order["qty"] == "2"
        assert order["created_at"].endswith("Z") and "T" in order["created_at"]
        position = (await client.get("/v2/positions/AAPL")).json()
        assert position["qty"] == "2" and position["side"] == "long"
        assert position["cost_basis"] == f"{2 * float(order['filled_avg_price']):.2f}"


async def test_market_data_pages_resume_exactly() -> None:
    async with _client() as client:
        params = {"symbols": "AAPL,MSFT", "timeframe": "1Min", "start": "2026-01-05T14:30:00Z", "limit": 25}
        first = (await client.get("/v2/stocks/bars", params=params)).json()
        assert len(first["bars"]["AAPL"]) == 25 and first["next_page_token"]
        second = (await client.get("/v2/stocks/bars", params={**params, "page_token": first["next_page_token"]})).json()
        assert second["bars"]["AAPL"][0]["t"] > first["bars"]["AAPL"][-1]["t"]
        everything = (await client.get("/v2/stocks/bars", params={**params, "limit": 10000})).json()
        assert first["bars"]["AAPL"] + second["bars"]["AAPL"] == everything["bars"]["AAPL"][:50]
        bad = await client.get("/v2/stocks/bars", params={**params, "timeframe": "7Fortnights"})
        assert bad.status_code == 400
        single = (await client.get("/v2/stocks/AAPL/trades", params={"start": "2026-01-05T14:30:00Z", "limit": 3})).json()
        assert single["symbol"] == "AAPL" and len(single["trades"]) == 3


async def test_market_data_stream_in_json_with_errors(running: RunningMock) -> None:
    url = running.base_url.replace("http", "ws") + "/v2/sip"
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv()) == [{"T": "success", "msg": "connected"}]
        await ws.send(json.dumps({"action": "subscribe", "trades": ["AAPL"]}))
        assert json.loads(await ws.recv()) == [{"T": "error", "code": 401, "msg": "not authenticated"}]
        await ws.send(json.dumps({"action": "auth", "key": "PKTEST", "secret": "wrong"}))
        assert json.loads(await ws.recv()) == [{"T": "error", "code": 402, "msg": "auth failed"}]
        await ws.send(json.dumps({"action": "auth", "key": "PKTEST", "secret": "secret"}))
        assert json.loads(await ws.recv()) == [{"T": "success", "msg": "authenticated"}]
        await ws.send(json.dumps({"action": "subscribe", "trades": ["AAPL"], "quotes": ["MSFT"]}))
        subscription = json.loads(await ws.recv())[0]
        assert (subscription["T"], subscription["trades"], subscription["quotes"]) == ("subscription", ["AAPL"], ["MSFT"])
        batch = json.loads(await ws.recv())
        kinds = {(m["T"], m["S"]) for m in batch}
        assert kinds == {("t", "AAPL"), ("q", "MSFT")}
        assert all(isinstance(m["t"], str) and m["t"].endswith("Z") for m in batch)


async def test_trade_updates_stream_raw(running: RunningMock) -> None:
    url = running.base_url.replace("http", "ws") + "/stream"
    async with websockets.connect(url, additional_headers={"Content-Type": "application/msgpack"}) as ws:
        await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert msgpack.unpackb(await ws.recv())["data"] == {"status": "unauthorized", "action": "listen"}
        await ws.send(json.dumps({"action": "authenticate", "data": {"key_id": "PKTEST", "secret_key": "secret"}}))
        assert msgpack.unpackb(await ws.recv())["data"]["status"] == "authorized"
        await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert msgpack.unpackb(await ws.recv()) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        venue = running.app.venue
        venue.partial_fill_size = 5
        order = venue.place_order(symbol="AAPL", side="buy", qty=8)
        events = [msgpack.unpackb(await ws.recv())["data"] for _ in range(2)]
        assert [e["event"] for e in events] == ["new", "partial_fill"]
        running.app.clock.advance(1)
        fill = msgpack.unpackb(await ws.recv())["data"]
        assert (fill["event"], fill["order"]["id"], fill["position_qty"], fill["qty"]) == ("fill", order.id, "8", "3")


@pytest.mark.parametrize("kind", ["drop_after", "truncate"])
async def test_faults_apply_to_alpaca_routes(kind: str) -> None:
    app = create_app(start=DEFAULT_START, faults=[{"route": "/v2/orders", "method": "POST", "kind": kind}])
    async with asgi_client(app, headers=KEYS) as client:
        body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}
        with pytest.raises((httpx.TransportError, json.JSONDecodeError)):
            (await client.post("/v2/orders", json=body)).json()
    assert len(app.venue.orders) == 1  # committed either way


def test_bars_never_come_from_the_future() -> None:
    app = create_app(start=DEFAULT_START)
    now = app.clock.now()
    bars = app.data.bars("AAPL", "1min", now - timedelta(hours=1), now + timedelta(hours=1), until=now)
    assert bars and bars[-1].timestamp <= now


async def test_positions_read_again_follow_fills_prices_and_the_day() -> None:
    app = create_app(seed=3, start=DEFAULT_START)
    async with asgi_client(app, headers=KEYS) as client:
        assert (await client.get("/v2/positions")).json() == []
        market = {"qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}
        await client.post("/v2/orders", json={**market, "symbol": "MSFT"})
        first = (await client.get("/v2/positions")).json()
        assert [p["symbol"] for p in first] == ["MSFT"] and first[0]["qty"] == "3"
        assert (await client.get("/v2/positions")).json() == first  # nothing moved: the same answer
        await client.post("/v2/orders", json={**market, "symbol": "AAPL"})
        second = (await client.get("/v2/positions")).json()
        assert [(p["symbol"], p["qty"]) for p in second] == [("AAPL", "3"), ("MSFT", "3")]
        app.clock.advance(90 * 60)  # prices move
        moved = (await client.get("/v2/positions")).json()
        for position in moved:
            assert position["current_price"] == f"{app.venue.price(position['symbol'])}"
            assert position["lastday_price"] == f"{app.venue.lastday_price(position['symbol'])}"
        assert [p["current_price"] for p in moved] != [p["current_price"] for p in second]
        app.clock.advance(24 * 3600)  # the next session: yesterday's close is another one
        nextday = (await client.get("/v2/positions")).json()
        assert [p["lastday_price"] for p in nextday] != [p["lastday_price"] for p in moved]
        for position in nextday:
            assert position["lastday_price"] == f"{app.venue.lastday_price(position['symbol'])}"
