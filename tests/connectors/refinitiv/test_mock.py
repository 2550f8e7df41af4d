"""The mock's platform rules at the wire: token grants, rotation, session quota, login-rate protection,
gateway errors and in-body statuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from portico.mocks import start_mock
from portico.mocks._kit import MockClock
from portico.mocks.refinitiv import create_app, parse_fx_ric

START = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
PASSWORD_FORM = {"grant_type": "password", "username": "u", "password": "p", "client_id": "k", "scope": "trapi",
                 "takeExclusiveSignOnControl": "false"}  # fmt: skip


@pytest.fixture
def clock() -> MockClock:
    return MockClock(START)


@pytest.fixture
async def client(clock: MockClock) -> Any:
    app = create_app(seed=1, clock=clock, users={"u": "p"}, app_keys={"k"}, clients={"svc": "s3cret"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lseg.mock") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def _login(client: httpx.AsyncClient, **extra: str) -> httpx.Response:
    return await client.post("/auth/oauth2/v1/token", data={**PASSWORD_FORM, **extra})


async def test_the_password_grant_answers_a_300_second_token_as_lseg_does(client: httpx.AsyncClient) -> None:
    response = await _login(client)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == "300"  # a string, as the platform sends it
    assert body["token_type"] == "Bearer" and body["refresh_token"] and "trapi" in body["scope"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": "wrong"}, 401, "invalid_client"),
        ({"password": "wrong"}, 400, "access_denied"),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
    ],
)
async def test_bad_logins_are_refused_with_oauth_errors(
    client: httpx.AsyncClient, form: dict[str, str], status: int, error: str
) -> None:
    response = await _login(client, **form)
    assert response.status_code == status
    assert response.json()["error"] == error


async def test_refresh_tokens_rotate_and_a_spent_one_is_refused(client: httpx.AsyncClient) -> None:
    first = (await _login(client)).json()
    form = {
        "grant_type": "refresh_token",
        "username": "u",
        "client_id": "k",
        "refresh_token": first["refresh_token"],
    }
    second = await client.post("/auth/oauth2/v1/token", data=form)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    again = await client.post("/auth/oauth2/v1/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_one_session_per_user_unless_the_login_takes_over(client: httpx.AsyncClient) -> None:
    first = (await _login(client)).json()
    refused = await _login(client)
    assert refused.status_code == 401
    assert refused.json()["error_description"] == "Session quota is reached."
    taken = await _login(client, takeExclusiveSignOnControl="true")
    assert taken.status_code == 200
    old = await client.get("/data/pricing/snapshots/v1/", params={"universe": "EUR="},
                           headers={"Authorization": f"Bearer {first['access_token']}"})  # fmt: skip
    assert old.status_code == 401


async def test_the_login_rate_protection_trips_past_fifty_a_minute(
    client: httpx.AsyncClient, clock: MockClock
) -> None:
    statuses = [(await _login(client, takeExclusiveSignOnControl="true")).status_code for _ in range(51)]
    assert statuses[:50] == [200] * 50
    assert statuses[50] == 429
    clock.advance(61)
    assert (await _login(client, takeExclusiveSignOnControl="true")).status_code == 200


async def test_v2_client_credentials(client: httpx.AsyncClient) -> None:
    good = await client.post("/auth/oauth2/v2/token",
                             data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": "s3cret"})  # fmt: skip
    assert good.status_code == 200 and "refresh_token" not in good.json()
    bad = await client.post("/auth/oauth2/v2/token",
                            data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": "nope"})  # fmt: skip
    assert bad.status_code == 401


async def test_data_calls_need_a_live_token(client: httpx.AsyncClient, clock: MockClock) -> None:
    token = (await _login(client)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        await client.get("/data/pricing/snapshots/v1/", params={"universe": "EUR="}, headers=headers)
    ).status_code == 200
    clock.advance(301)
    expired = await client.get("/data/pricing/snapshots/v1/", params={"universe": "EUR="}, headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "token expired"
    anonymous = await client.get("/data/pricing/snapshots/v1/", params={"universe": "EUR="})
    assert anonymous.status_code == 401


async def test_more_than_five_calls_a_second_are_throttled(
    client: httpx.AsyncClient, clock: MockClock
) -> None:
    token = (await _login(client)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def call() -> int:
        return (
            await client.get("/data/pricing/snapshots/v1/", params={"universe": "EUR="}, headers=headers)
        ).status_code

    assert [await call() for _ in range(6)] == [200] * 5 + [429]
    clock.advance(1.0)
    assert await call() == 200


async def test_historical_answers_are_lists_newest_first_with_in_body_errors(
    client: httpx.AsyncClient,
) -> None:
    client.app.state.mock.unpermitted.add("VOD.L")  # type: ignore[attr-defined]
    token = (await _login(client)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    base = "/data/historical-pricing/v1/views/interday-summaries"
    ok = (await client.get(f"{base}/IBM.N", params={"count": "3"}, headers=headers)).json()
    assert [row[0] for row in ok[0]["data"]] == ["2026-01-06", "2026-01-05", "2026-01-02"]
    assert ok[0]["headers"][0] == {"name": "DATE", "type": "string"}
    denied = (await client.get(f"{base}/VOD.L", headers=headers)).json()
    assert denied == [{"universe": {"ric": "VOD.L"},
                       "status": {"code": "TS.Interday.UserNotPermission.70112", "message": "User has no permission."}}]  # fmt: skip
    unknown = await client.get(f"{base}/NOSUCH.X", headers=headers)
    assert unknown.status_code == 200
    assert unknown.json()[0]["status"]["code"] == "TS.Interday.UserRequestError.70005"


async def test_the_interday_row_cap_holds_whatever_the_count(clock: MockClock) -> None:
    app = create_app(seed=1, clock=clock, users={"u": "p"}, app_keys={"k"}, interday_row_cap=7)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lseg.mock"
    ) as client:
        token = (await _login(client)).json()["access_token"]
        answer = await client.get("/data/historical-pricing/v1/views/interday-summaries/EUR=",
                                  params={"count": "100"}, headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert len(answer.json()[0]["data"]) == 7


@pytest.mark.parametrize(
    ("ric", "pair"),
    [("EUR=", ("EUR", "USD")), ("JPY=", ("USD", "JPY")), ("EURGBP=R", ("EUR", "GBP")), ("XAU=", None),
     ("USD=", None), ("AAPL.O", None)],
)  # fmt: skip
def test_fx_rics_resolve_to_pairs(ric: str, pair: tuple[str, str] | None) -> None:
    found = parse_fx_ric(ric)
    assert (found.base, found.quote) == pair if pair else found is None


def test_the_omm_websocket_logs_in_with_the_token_and_answers_items(clock: MockClock) -> None:
    running = start_mock(create_app(seed=1, clock=clock, users={"u": "p"}, app_keys={"k"}))
    try:
        with httpx.Client(base_url=running.base_url) as http:
            token = http.post("/auth/oauth2/v1/token", data=PASSWORD_FORM).json()["access_token"]
            discovery = http.get(
                "/streaming/pricing/v1/", headers={"Authorization": f"Bearer {token}"}
            ).json()
        service = discovery["services"][0]
        assert (service["transport"], service["dataFormat"], service["port"]) == (
            "websocket",
            ["tr_json2"],
            running.port,
        )
        login: dict[str, Any] = {"ID": 2, "Domain": "Login",
                                 "Key": {"NameType": "AuthnToken", "Elements": {"AuthenticationToken": "x"}}}  # fmt: skip
        url = f"ws://127.0.0.1:{running.port}/WebSocket"
        with connect(url, subprotocols=[Subprotocol("tr_json2")], open_timeout=10) as socket:
            assert socket.subprotocol == "tr_json2"
            socket.send(json.dumps(login))
            rejected = json.loads(socket.recv(timeout=10))[0]
            assert rejected["Type"] == "Status" and rejected["State"]["Text"].startswith("Login Rejected.")
            login["Key"]["Elements"]["AuthenticationToken"] = token
            socket.send(json.dumps(login))
            accepted = json.loads(socket.recv(timeout=10))[0]
            assert (accepted["Type"], accepted["State"]["Stream"]) == ("Refresh", "Open")
            socket.send(json.dumps([
                {"ID": 5, "Domain": "MarketPrice", "Key": {"Name": "EUR="}, "View": ["BID", "ASK"], "Streaming": False},
                {"ID": 6, "Domain": "MarketPrice", "Key": {"Name": "NOSUCH.X"}},
                {"Type": "Ping"},
            ]))  # fmt: skip
            item, missing, pong = json.loads(socket.recv(timeout=10))
        assert item["Type"] == "Refresh" and set(item["Fields"]) == {"BID", "ASK"}
        assert item["State"]["Stream"] == "NonStreaming" and item["Complete"] is True
        assert missing["State"]["Code"] == "NotFound"
        assert pong == {"Type": "Pong"}
    finally:
        running.stop_sync()


async def test_admin_endpoints_set_permissions_and_free_a_held_session(client: httpx.AsyncClient) -> None:
    denied = await client.post("/__mock__/refinitiv/permissions", json={"deny": ["VOD.L", "IBM.N"]})
    assert denied.json() == {"unpermitted": ["IBM.N", "VOD.L"]}
    allowed = await client.post("/__mock__/refinitiv/permissions", json={"allow": ["IBM.N"]})
    assert allowed.json() == {"unpermitted": ["VOD.L"]}
    bad = await client.post("/__mock__/refinitiv/permissions", json={"deny": "VOD.L"})
    assert bad.status_code == 422
    assert (await _login(client)).status_code == 200
    assert (await client.get("/__mock__/refinitiv/sessions")).json() == {"sessions": {"u": 1}}
    assert (await _login(client)).status_code == 401  # the quota is held
    assert (await client.delete("/__mock__/refinitiv/sessions")).json() == {"sessions": {}}
    assert (await _login(client)).status_code == 200  # freed
