"""schwab-py, unchanged, against the Schwab mock.

schwab-py has no base-URL setting: every call goes to ``https://api.schwabapi.com``. It is pointed at
the mock the way its API allows, by handing its public ``Client`` constructor an authlib session
whose httpx transport sends those requests to the mock (the token refresh goes the same way).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import schwab
from authlib.integrations.httpx_client import OAuth2Client
from schwab.auth import TOKEN_ENDPOINT, TokenMetadata, get_auth_context
from schwab.orders.equities import equity_buy_limit, equity_buy_market
from schwab.utils import Utils

from portico.mocks import RunningMock
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK, ToMock


def login(running: RunningMock) -> dict[str, Any]:
    """The browser part of the sign-in (the mock approves at once), then schwab-py's own code exchange."""
    context = get_auth_context(APP_KEY, CALLBACK)
    assert context.authorization_url.startswith("https://api.schwabapi.com/v1/oauth/authorize?")
    browser = httpx.Client(transport=ToMock(running.base_url))
    redirect = browser.get(context.authorization_url)
    assert redirect.status_code == 302
    received_url = redirect.headers["Location"]
    assert received_url.startswith(CALLBACK + "?code=")
    # what schwab.auth.client_from_received_url does, with the session's transport aimed at the mock
    oauth = OAuth2Client(APP_KEY, redirect_uri=CALLBACK, transport=ToMock(running.base_url))
    token: dict[str, Any] = oauth.fetch_token(
        TOKEN_ENDPOINT,
        authorization_response=received_url,
        client_id=APP_KEY,
        auth=(APP_KEY, APP_SECRET),
        state=context.state,
    )
    return token


def make_client(
    running: RunningMock, token: dict[str, Any], written: list[dict[str, Any]]
) -> schwab.client.Client:
    metadata = TokenMetadata(token, int(time.time()), lambda t, *a, **k: written.append(t))
    session = OAuth2Client(
        APP_KEY,
        client_secret=APP_SECRET,
        token=token,
        token_endpoint=TOKEN_ENDPOINT,
        update_token=metadata.wrapped_token_write_func(),
        leeway=300,
        transport=ToMock(running.base_url),
    )
    return schwab.client.Client(APP_KEY, session, token_metadata=metadata)


@pytest.fixture
def realtime(served: Callable[..., RunningMock]) -> RunningMock:
    # schwab-py's order queries default to the last 60 days of the wall clock: run the mock on it
    return served(start=None)


def test_login_gives_a_30_minute_token_with_a_refresh_token(realtime: RunningMock) -> None:
    token = login(realtime)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 1800
    assert token["refresh_token"].startswith("R0.")
    assert token["access_token"].endswith("@")


def test_a_code_is_single_use(realtime: RunningMock) -> None:
    context = get_auth_context(APP_KEY, CALLBACK)
    redirect = httpx.Client(transport=ToMock(realtime.base_url)).get(context.authorization_url)
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    assert code.endswith("@")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    with httpx.Client(transport=ToMock(realtime.base_url), auth=(APP_KEY, APP_SECRET)) as client:
        assert client.post(TOKEN_ENDPOINT, data=form).status_code == 200
        again = client.post(TOKEN_ENDPOINT, data=form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_accounts_positions_quotes_and_history(realtime: RunningMock) -> None:
    client = make_client(realtime, login(realtime), [])
    numbers = client.get_account_numbers()
    assert numbers.status_code == 200
    [entry] = numbers.json()
    assert entry["accountNumber"].isdigit() and len(entry["accountNumber"]) == 8
    assert len(entry["hashValue"]) == 64
    account = client.get_account(entry["hashValue"], fields=client.Account.Fields.POSITIONS)
    assert account.status_code == 200
    assert account.json()["securitiesAccount"]["currentBalances"]["cashBalance"] == 100000.0
    refused = client.get_account(entry["accountNumber"])
    assert refused.status_code == 400
    assert refused.json() == {"message": "Invalid account number"}

    quotes = client.get_quotes(["AAPL", "MSFT", "NOPE1"])
    assert quotes.status_code == 200
    body = quotes.json()
    assert body["AAPL"]["quote"]["bidPrice"] < body["AAPL"]["quote"]["askPrice"]
    assert body["errors"] == {"invalidSymbols": ["NOPE1"]}

    history = client.get_price_history_every_day("AAPL")
    assert history.status_code == 200
    candles = history.json()["candles"]
    assert len(candles) > 200
    assert candles == sorted(candles, key=lambda c: c["datetime"])
    minutes = client.get_price_history_every_five_minutes("AAPL")
    assert minutes.status_code == 200
    stamps = [c["datetime"] for c in minutes.json()["candles"]]
    assert stamps and all(b - a >= 5 * 60_000 for a, b in itertools.pairwise(stamps))


def test_place_get_cancel_and_fill(realtime: RunningMock) -> None:
    client = make_client(realtime, login(realtime), [])
    account_hash = client.get_account_numbers().json()[0]["hashValue"]
    utils = Utils(client, account_hash)

    resting = client.place_order(account_hash, equity_buy_limit("AAPL", 2, "1.00"))
    assert resting.status_code == 201
    assert resting.content == b""
    order_id = utils.extract_order_id(resting)  # parses the Location header on Schwab's real host
    assert isinstance(order_id, int)
    fetched = client.get_order(order_id, account_hash).json()
    assert fetched["status"] == "WORKING"
    assert fetched["price"] == 1.0
    assert fetched["orderLegCollection"][0]["instrument"]["symbol"] == "AAPL"
    assert client.cancel_order(order_id, account_hash).status_code == 200
    assert client.get_order(order_id, account_hash).json()["status"] == "CANCELED"

    market = client.place_order(account_hash, equity_buy_market("MSFT", 3))
    filled_id = utils.extract_order_id(market)
    filled = client.get_order(filled_id, account_hash).json()
    assert filled["status"] == "FILLED"
    assert filled["filledQuantity"] == 3.0
    execution = filled["orderActivityCollection"][0]["executionLegs"][0]
    assert execution["quantity"] == 3.0 and execution["price"] > 0

    listed = client.get_orders_for_account(account_hash).json()
    assert {o["orderId"] for o in listed} == {order_id, filled_id}
    positions = client.get_account(account_hash, fields=client.Account.Fields.POSITIONS).json()
    held = {p["instrument"]["symbol"]: p["longQuantity"] for p in positions["securitiesAccount"]["positions"]}
    assert held == {"MSFT": 3.0}


def test_replace_gives_a_new_order_and_marks_the_old_replaced(realtime: RunningMock) -> None:
    client = make_client(realtime, login(realtime), [])
    account_hash = client.get_account_numbers().json()[0]["hashValue"]
    utils = Utils(client, account_hash)
    old_id = utils.extract_order_id(client.place_order(account_hash, equity_buy_limit("AAPL", 1, "1.00")))
    replaced = client.replace_order(account_hash, old_id, equity_buy_limit("AAPL", 1, "1.10"))
    assert replaced.status_code == 201
    new_id = utils.extract_order_id(replaced)
    assert new_id != old_id
    assert client.get_order(old_id, account_hash).json()["status"] == "REPLACED"
    assert client.get_order(new_id, account_hash).json()["price"] == 1.1


def test_token_refresh_through_the_mock(realtime: RunningMock) -> None:
    token = login(realtime)
    token["expires_at"] = int(time.time()) - 10  # authlib refreshes an expired token before the call
    written: list[dict[str, Any]] = []
    client = make_client(realtime, token, written)
    assert client.get_account_numbers().status_code == 200
    assert len(written) == 1
    refreshed = written[0]["token"]
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] == token["refresh_token"]  # Schwab keeps the 7-day refresh token


def test_an_expired_refresh_token_is_refused_as_schwab_refuses_it(realtime: RunningMock) -> None:
    from authlib.integrations.base_client import OAuthError

    token = login(realtime)
    httpx.post(f"{realtime.base_url}/__mock__/schwab/expire", json={"access": True, "refresh": True})
    token["expires_at"] = int(time.time()) - 10
    client = make_client(realtime, token, [])
    with pytest.raises(OAuthError) as info:
        client.get_account_numbers()
    assert info.value.error == "unsupported_token_type"


def test_an_expired_access_token_is_refused(realtime: RunningMock) -> None:
    client = make_client(realtime, login(realtime), [])
    httpx.post(f"{realtime.base_url}/__mock__/schwab/expire", json={"access": True})
    answer = client.get_account_numbers()
    assert answer.status_code == 401
    assert answer.json() == {"message": "Client not authorized"}
    market = client.get_quotes(["AAPL"])
    assert market.status_code == 401
    assert market.json()["errors"][0]["title"] == "Unauthorized"


def test_the_order_limit_answers_429(served: Callable[..., RunningMock]) -> None:
    running = served(start=None, order_limit=3)
    client = make_client(running, login(running), [])
    account_hash = client.get_account_numbers().json()[0]["hashValue"]
    codes = [
        client.place_order(account_hash, equity_buy_limit("AAPL", 1, "1.00")).status_code for _ in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    assert client.get_account_numbers().status_code == 200  # reads are not order requests


async def test_streaming_login_quotes_charts_and_account_activity(served: Callable[..., RunningMock]) -> None:
    from schwab.streaming import StreamClient

    # a running clock from inside a regular session, so minute charts exist
    realtime = served(realtime=True)
    client = make_client(realtime, login(realtime), [])
    account_hash = client.get_account_numbers().json()[0]["hashValue"]
    stream = StreamClient(client)  # the socket URL comes from the mock's /trader/v1/userPreference
    await stream.login()
    got: dict[str, list[dict[str, Any]]] = {"quotes": [], "charts": [], "activity": []}
    stream.add_level_one_equity_handler(lambda m: got["quotes"].extend(m["content"]))
    stream.add_chart_equity_handler(lambda m: got["charts"].extend(m["content"]))
    stream.add_account_activity_handler(lambda m: got["activity"].extend(m["content"]))
    await stream.level_one_equity_subs(["AAPL"])
    await stream.chart_equity_subs(["AAPL"])
    await stream.account_activity_sub()
    filled = Utils(client, account_hash).extract_order_id(
        client.place_order(account_hash, equity_buy_market("MSFT", 1))
    )
    for _ in range(200):
        if (
            got["quotes"]
            and got["charts"]
            and any(a["MESSAGE_TYPE"] == "ExecutionCreated" for a in got["activity"])
        ):
            break
        await asyncio.wait_for(stream.handle_message(), 10)
    first = got["quotes"][0]
    assert first["key"] == "AAPL" and first["BID_PRICE"] < first["ASK_PRICE"]
    assert got["charts"][0]["key"] == "AAPL" and got["charts"][0]["CHART_TIME_MILLIS"] % 60_000 == 0
    kinds = [a["MESSAGE_TYPE"] for a in got["activity"]]
    assert kinds[:2] == ["OrderCreated", "ExecutionCreated"]
    assert json.loads(got["activity"][-1]["MESSAGE_DATA"])["SchwabOrderID"] == str(filled)
    await stream.logout()


async def test_streamer_login_with_a_bad_token_is_denied(realtime: RunningMock) -> None:
    import websockets

    request = {
        "service": "ADMIN",
        "requestid": "0",
        "command": "LOGIN",
        "SchwabClientCustomerId": "c",
        "SchwabClientCorrelId": "k",
        "parameters": {"Authorization": "I0.not-issued@"},
    }
    async with websockets.connect(realtime.base_url.replace("http", "ws") + "/ws") as socket:
        await socket.send(json.dumps({"requests": [request]}))
        answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
    [response] = answer["response"]
    assert (response["service"], response["command"], response["requestid"]) == ("ADMIN", "LOGIN", "0")
    assert response["content"]["code"] == 3
    assert response["content"]["msg"].startswith("Login Denied")
