"""The E*TRADE mock on its own: OAuth 1.0a refusals, token expiry on the mock clock, the wire formats,
the 25-symbol quote limit, order paging, the preview rule, and the rate-limit page."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from requests_oauthlib import OAuth1

from portico.mocks import RunningMock
from tests.connectors.etrade.conftest import ACCESS_SECRET, ACCESS_TOKEN, CONSUMER_KEY, CONSUMER_SECRET


def signed(token: str = ACCESS_TOKEN, secret: str = ACCESS_SECRET, **extra: Any) -> OAuth1:
    return OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, secret, signature_type="AUTH_HEADER", **extra)


def base(running: RunningMock) -> str:
    return running.base_url.rstrip("/")


def account_key(running: RunningMock) -> str:
    return next(iter(running.app.accounts_by_key))


# -- OAuth ------------------------------------------------------------------------------------


def test_an_unsigned_call_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    answer = requests.get(base(running) + "/v1/accounts/list.json", timeout=10)
    assert answer.status_code == 401
    assert "oauth_problem=parameter_absent" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_an_unknown_consumer_key_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    auth = OAuth1("someone-else", CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_SECRET, signature_type="AUTH_HEADER")
    answer = requests.get(base(running) + "/v1/accounts/list.json", auth=auth, timeout=10)
    assert answer.status_code == 401
    assert "oauth_problem=consumer_key_rejected" in answer.text


def test_an_unknown_token_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    answer = requests.get(
        base(running) + "/v1/accounts/list.json", auth=signed("nope", ACCESS_SECRET), timeout=10
    )
    assert answer.status_code == 401
    assert "oauth_problem=token_rejected" in answer.text


def test_a_tampered_query_breaks_the_signature(served: Callable[..., RunningMock]) -> None:
    running = served()
    prepared = requests.Request(
        "GET", base(running) + f"/v1/accounts/{account_key(running)}/portfolio.json?count=10", auth=signed()
    ).prepare()
    prepared.url = prepared.url.replace("count=10", "count=20")
    answer = requests.Session().send(prepared, timeout=10)
    assert answer.status_code == 401
    assert "oauth_problem=signature_invalid" in answer.text


def test_a_replayed_nonce_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    prepared = requests.Request("GET", base(running) + "/v1/accounts/list.json", auth=signed()).prepare()
    session = requests.Session()
    assert session.send(prepared, timeout=10).status_code == 200
    replay = session.send(prepared, timeout=10)
    assert replay.status_code == 401
    assert "oauth_problem=nonce_used" in replay.text


def test_a_timestamp_six_minutes_off_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    auth = signed(timestamp=str(int(time.time()) - 360))
    answer = requests.get(base(running) + "/v1/accounts/list.json", auth=auth, timeout=10)
    assert answer.status_code == 401
    assert "oauth_problem=timestamp_refused" in answer.text


def test_tokens_expire_at_midnight_eastern_even_when_renewed(served: Callable[..., RunningMock]) -> None:
    # issued 23:00 New York in summer (EDT): expires at 04:00 UTC
    running = served(start=datetime(2026, 7, 1, 3, 0, tzinfo=UTC))
    token = running.app.oauth.access_tokens[ACCESS_TOKEN]
    assert token.expires_at == datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
    running.app.clock.advance(3599)
    assert (
        requests.get(base(running) + "/oauth/renew_access_token", auth=signed(), timeout=10).status_code
        == 200
    )
    running.app.clock.advance(1)
    listed = requests.get(base(running) + "/v1/accounts/list.json", auth=signed(), timeout=10)
    assert listed.status_code == 401
    assert "oauth_problem=token_expired" in listed.text
    renew = requests.get(base(running) + "/oauth/renew_access_token", auth=signed(), timeout=10)
    assert renew.status_code == 401
    assert "oauth_problem=token_expired" in renew.text


def test_an_idle_token_is_inactive_until_renewed(served: Callable[..., RunningMock]) -> None:
    running = served()
    running.app.clock.advance(2 * 3600)
    assert (
        requests.get(base(running) + "/v1/accounts/list.json", auth=signed(), timeout=10).status_code == 401
    )
    assert (
        requests.get(base(running) + "/oauth/renew_access_token", auth=signed(), timeout=10).text
        == "Access Token has been renewed"
    )
    assert (
        requests.get(base(running) + "/v1/accounts/list.json", auth=signed(), timeout=10).status_code == 200
    )


def test_authorize_redirects_to_a_registered_callback(served: Callable[..., RunningMock]) -> None:
    running = served()
    auth = OAuth1(
        CONSUMER_KEY, CONSUMER_SECRET, callback_uri="https://app.example/cb?x=1", signature_type="AUTH_HEADER"
    )
    answer = requests.post(base(running) + "/oauth/request_token", auth=auth, timeout=10)
    assert answer.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = dict(p.split("=", 1) for p in answer.text.split("&"))
    assert form["oauth_callback_confirmed"] == "true"
    page = requests.get(
        base(running) + "/e/t/etws/authorize", params={"key": CONSUMER_KEY, "token": form["oauth_token"]},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert page.status_code == 302
    location = page.headers["location"]
    assert location.startswith(
        f"https://app.example/cb?x=1&oauth_token={form['oauth_token']}&oauth_verifier="
    )


def test_a_request_token_is_good_for_five_minutes(served: Callable[..., RunningMock]) -> None:
    running = served()
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, callback_uri="oob", signature_type="AUTH_HEADER")
    form = dict(
        p.split("=", 1)
        for p in requests.post(base(running) + "/oauth/request_token", auth=auth, timeout=10).text.split("&")
    )
    running.app.clock.advance(301)
    page = requests.get(
        base(running) + "/e/t/etws/authorize",
        params={"key": CONSUMER_KEY, "token": form["oauth_token"]},
        timeout=10,
    )
    assert page.status_code == 400
    assert "oauth_problem=token_expired" in page.text


# -- wire formats -----------------------------------------------------------------------------


def test_xml_is_the_default_and_json_follows_the_suffix(served: Callable[..., RunningMock]) -> None:
    running = served()
    xml = requests.get(base(running) + "/v1/accounts/list", auth=signed(), timeout=10)
    assert xml.headers["content-type"].startswith("application/xml")
    assert "<AccountListResponse><Accounts><Account><accountId>" in xml.text
    data = requests.get(base(running) + "/v1/accounts/list.json", auth=signed(), timeout=10).json()
    assert data["AccountListResponse"]["Accounts"]["Account"][0]["accountIdKey"] == account_key(running)


def test_errors_come_in_the_error_envelope(served: Callable[..., RunningMock]) -> None:
    running = served()
    as_json = requests.get(base(running) + "/v1/accounts/nobody/balance.json", auth=signed(), timeout=10)
    assert as_json.status_code == 400
    assert as_json.json() == {"Error": {"code": 100, "message": "Account key does not belong to user"}}
    as_xml = requests.get(base(running) + "/v1/accounts/nobody/balance", auth=signed(), timeout=10)
    assert as_xml.text.endswith(
        "<Error><code>100</code><message>Account key does not belong to user</message></Error>"
    )


def test_quotes_answer_at_most_25_symbols(served: Callable[..., RunningMock]) -> None:
    running = served()
    symbols = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(30)]
    data = requests.get(
        base(running) + f"/v1/market/quote/{','.join(symbols)}.json", auth=signed(), timeout=10
    ).json()
    body = data["QuoteResponse"]
    assert [q["Product"]["symbol"] for q in body["QuoteData"]] == symbols[:25]
    assert body["Messages"]["Message"][0]["code"] == 1019
    override = requests.get(
        base(running) + f"/v1/market/quote/{','.join(symbols)}.json?overrideSymbolCount=true",
        auth=signed(),
        timeout=10,
    ).json()
    assert len(override["QuoteResponse"]["QuoteData"]) == 30


def test_an_unknown_symbol_is_a_warning_beside_the_good_quotes(served: Callable[..., RunningMock]) -> None:
    running = served()
    data = requests.get(
        base(running) + "/v1/market/quote/AAPL,TOOLONGSYM.json", auth=signed(), timeout=10
    ).json()
    body = data["QuoteResponse"]
    assert [q["Product"]["symbol"] for q in body["QuoteData"]] == ["AAPL"]
    assert body["Messages"]["Message"] == [
        {"description": "TOOLONGSYM is not a valid symbol.", "code": 10033, "type": "WARNING"}
    ]


def _preview_body(client_order_id: str, **order: Any) -> dict[str, Any]:
    detail = {
        "priceType": "LIMIT", "limitPrice": 1.5, "orderTerm": "GOOD_FOR_DAY", "marketSession": "REGULAR",
        "Instrument": [{"Product": {"securityType": "EQ", "symbol": "IBM"}, "orderAction": "BUY", "quantityType": "QUANTITY", "quantity": 2}],
    }  # fmt: skip
    detail.update(order)
    return {"orderType": "EQ", "clientOrderId": client_order_id, "Order": [detail]}


def _post(running: RunningMock, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        base(running) + f"/v1/accounts/{account_key(running)}/orders/{path}", data=json.dumps(body),
        headers={"Content-Type": "application/json"}, auth=signed(), timeout=10,
    )  # fmt: skip


def test_placing_needs_the_preview_id_of_the_same_order(served: Callable[..., RunningMock]) -> None:
    running = served()
    body = _preview_body("mock-rule-1")
    missing = _post(running, "place.json", {"PlaceOrderRequest": body})
    assert missing.json()["Error"]["code"] == 1031
    preview = _post(running, "preview.json", {"PreviewOrderRequest": body}).json()["PreviewOrderResponse"]
    preview_id = preview["PreviewIds"][0]["previewId"]
    other = {**_preview_body("mock-rule-1", limitPrice=1.6), "PreviewIds": [{"previewId": preview_id}]}
    mismatch = _post(running, "place.json", {"PlaceOrderRequest": other})
    assert mismatch.json()["Error"]["code"] == 1033
    placed = _post(
        running, "place.json", {"PlaceOrderRequest": {**body, "PreviewIds": [{"previewId": preview_id}]}}
    )
    assert placed.status_code == 200
    assert placed.json()["PlaceOrderResponse"]["clientOrderId"] == "mock-rule-1"
    again = _post(running, "preview.json", {"PreviewOrderRequest": body})
    assert again.json()["Error"]["code"] == 1078


def test_a_client_order_id_longer_than_20_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    refused = _post(running, "preview.json", {"PreviewOrderRequest": _preview_body("x" * 21)})
    assert refused.status_code == 400
    assert refused.json()["Error"]["code"] == 1077


def test_an_xml_body_with_entities_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbbbb">]><PreviewOrderRequest>&b;</PreviewOrderRequest>'
    answer = requests.post(
        base(running) + f"/v1/accounts/{account_key(running)}/orders/preview", data=bomb,
        headers={"Content-Type": "application/xml"}, auth=signed(), timeout=10,
    )  # fmt: skip
    assert answer.status_code == 400
    assert "<code>101</code>" in answer.text


def test_orders_page_with_a_marker(served: Callable[..., RunningMock]) -> None:
    running = served()
    for i in range(30):
        running.app.venue.place_order(
            symbol="IBM", side="buy", order_type="limit", limit_price=1, qty=1, client_order_id=f"pg-{i}"
        )
        order = running.app.venue.get_order_by_client_id(f"pg-{i}")
        running.app.client_ids[running.app.order_number(order.id)] = f"pg-{i}"
    url = base(running) + f"/v1/accounts/{account_key(running)}/orders.json"
    first = requests.get(url, params={"count": 25}, auth=signed(), timeout=10).json()["OrdersResponse"]
    assert [o["clientOrderId"] for o in first["Order"]] == [f"pg-{i}" for i in range(29, 4, -1)]
    second = requests.get(
        url, params={"count": 25, "marker": first["marker"]}, auth=signed(), timeout=10
    ).json()["OrdersResponse"]
    assert [o["clientOrderId"] for o in second["Order"]] == [f"pg-{i}" for i in range(4, -1, -1)]
    assert "marker" not in second
    too_many = requests.get(url, params={"count": 101}, auth=signed(), timeout=10)
    assert too_many.json()["Error"]["code"] == 101


def test_no_orders_is_no_content(served: Callable[..., RunningMock]) -> None:
    running = served()
    url = base(running) + f"/v1/accounts/{account_key(running)}/orders.json"
    answer = requests.get(url, auth=signed(), timeout=10)
    assert answer.status_code == 204
    assert answer.text == ""


def test_over_the_rate_limit_is_a_400_html_page(served: Callable[..., RunningMock]) -> None:
    running = served(rate_limits={"market": 2})
    url = base(running) + "/v1/market/quote/AAPL.json"
    statuses = [requests.get(url, auth=signed(), timeout=10) for _ in range(3)]
    assert [a.status_code for a in statuses[:2]] == [200, 200]
    assert statuses[2].status_code == 400
    assert statuses[2].headers["content-type"].startswith("text/html")
    assert "Number of requests exceeded the rate limit set" in statuses[2].text
    # other modules have their own budget
    assert (
        requests.get(base(running) + "/v1/accounts/list.json", auth=signed(), timeout=10).status_code == 200
    )


def test_an_injected_rate_limit_fault_speaks_etrade(served: Callable[..., RunningMock]) -> None:
    running = served(faults=[{"kind": "rate_limit", "route": "/v1/market/*"}])
    answer = requests.get(base(running) + "/v1/market/quote/AAPL.json", auth=signed(), timeout=10)
    assert answer.status_code == 400
    assert "Number of requests exceeded the rate limit set" in answer.text
