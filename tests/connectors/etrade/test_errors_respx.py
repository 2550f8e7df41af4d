"""E*TRADE's error mapping and retry decisions on respx routes (no socket, no mock server)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from portico.auth import AuthContext
from portico.clock import FakeClock
from portico.connectors.etrade import EtradeConnector
from portico.connectors.etrade.auth import SCHEME_NAME, EtradeOAuth1Scheme
from portico.errors import (
    AuthError,
    NotFound,
    OutcomeUnknown,
    PayloadRejected,
    RateLimited,
    ServerError,
    VenueRejected,
)
from portico.models import OrderRequest, OrderSide, OrderStatus, OrderType
from tests.connectors.etrade.conftest import CREDENTIALS, FAST_LIMITS
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
API = "https://api.etrade.test"
URLS = {"api": API, "auth": API, "authorize": "https://us.etrade.test"}
KEY = "JIdOIAcSpwR1Jva7RQBraQ"
ORDERS = f"/v1/accounts/{KEY}/orders"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def tomcat(problem: str) -> str:
    return f"<html><body><h1>HTTP Status 401 – Unauthorized</h1><p><b>Message</b> oauth_problem={problem}</p></body></html>"


def etrade_error(code: int, message: str) -> dict[str, Any]:
    return {"Error": {"code": code, "message": message}}


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(base_url=API, assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock):
    # the scheme's own calls (renew) go to the same routes as the API calls
    ctx = AuthContext(
        system_id="etrade",
        scheme=SCHEME_NAME,
        clock=clock,
        transport=httpx.MockTransport(router.async_handler),
    )
    auth = EtradeOAuth1Scheme(ctx, CREDENTIALS, {"renew_url": f"{API}/oauth/renew_access_token"})
    connector = respx_connector(
        EtradeConnector, router, urls=URLS, clock=clock, credentials=CREDENTIALS, auth=auth,
        connection={"account_id_key": KEY, "rate_limits": FAST_LIMITS},
    )  # fmt: skip
    await connector.open()
    yield connector
    await connector.close()


def limit_buy(cid: str = "coid-1") -> OrderRequest:
    return OrderRequest(symbol="F", side=OrderSide.BUY, quantity=Decimal(1), order_type=OrderType.LIMIT,
                        limit_price=Decimal(1), client_order_id=cid)  # fmt: skip


def listed(cid: str, order_id: int = 482) -> dict[str, Any]:
    order = captured("orders_list.json")["OrdersResponse"]["Order"][0]
    order.update({"orderId": order_id, "clientOrderId": cid})
    order["OrderDetail"][0]["Instrument"][0]["Product"]["symbol"] = "F"
    return {"OrdersResponse": {"Order": [order]}}


async def test_requests_are_signed_with_oauth1_hmac_sha1(
    connector: EtradeConnector, router: respx.Router
) -> None:
    route = router.get(f"/v1/accounts/{KEY}/balance.json").respond(200, json=captured("balance.json"))
    await connector.get_account()
    header = route.calls.last.request.headers["authorization"]
    assert header.startswith("OAuth ")
    for part in (
        'oauth_signature_method="HMAC-SHA1"',
        'oauth_consumer_key="etrade-mock-consumer-key"',
        'oauth_token="etrade-mock-access-token"',
    ):
        assert part in header
    assert "secret" not in header  # the secrets sign, they never travel
    assert route.calls.last.request.url.params["instType"] == "BROKERAGE"


async def test_consumer_key_rejected_is_an_auth_error_without_a_renew(
    connector: EtradeConnector, router: respx.Router
) -> None:
    balance = router.get(f"/v1/accounts/{KEY}/balance.json").respond(
        401, text=tomcat("consumer_key_rejected")
    )
    renew = router.get("/oauth/renew_access_token").respond(200, text="Access Token has been renewed")
    with pytest.raises(AuthError, match="oauth_problem=consumer_key_rejected"):
        await connector.get_account()
    assert balance.call_count == 1
    assert renew.call_count == 0


async def test_token_rejected_renews_once_then_gives_up(
    connector: EtradeConnector, router: respx.Router
) -> None:
    balance = router.get(f"/v1/accounts/{KEY}/balance.json").respond(401, text=tomcat("token_rejected"))
    renew = router.get("/oauth/renew_access_token").respond(401, text=tomcat("token_rejected"))
    with pytest.raises(AuthError, match="portico credentials login etrade"):
        await connector.get_account()
    assert (balance.call_count, renew.call_count) == (1, 1)


async def test_token_rejected_then_renewed_is_resent_once(
    connector: EtradeConnector, router: respx.Router
) -> None:
    balance = router.get(f"/v1/accounts/{KEY}/balance.json")
    balance.side_effect = [
        httpx.Response(401, text=tomcat("token_rejected")),
        httpx.Response(200, json=captured("balance.json")),
    ]
    renew = router.get("/oauth/renew_access_token").respond(200, text="Access Token has been renewed")
    account = await connector.get_account()
    assert account.cash == Decimal("93921.44")
    assert (balance.call_count, renew.call_count) == (2, 1)
    # the resend carries a fresh signature (a new nonce), not a replay
    first, second = (c.request.headers["authorization"] for c in balance.calls)
    assert first != second


async def test_the_rate_limit_page_is_rate_limited_and_retried(
    connector: EtradeConnector, router: respx.Router, clock: FakeClock
) -> None:
    page = "<html><body><h1>HTTP Status 400</h1><p>Number of requests exceeded the rate limit set</p></body></html>"
    route = router.get(f"/v1/accounts/{KEY}/balance.json")
    route.side_effect = [httpx.Response(400, text=page), httpx.Response(200, json=captured("balance.json"))]
    await connector.get_account()
    assert route.call_count == 2
    assert (
        len(clock.sleeps) == 1 and 0 < clock.sleeps[0] <= 2.0
    )  # one backoff pause (E*TRADE sends no Retry-After)


async def test_the_rate_limit_page_on_a_placement_is_not_resent_blindly(
    connector: EtradeConnector, router: respx.Router
) -> None:
    page = "<html><p>Number of requests exceeded the rate limit set</p></html>"
    router.post(f"{ORDERS}/preview.json").respond(400, text=page)
    with pytest.raises(RateLimited):
        await connector.place_order(limit_buy())


async def test_error_100_is_not_found(connector: EtradeConnector, router: respx.Router) -> None:
    router.get(f"/v1/accounts/{KEY}/balance.json").respond(
        400, json=etrade_error(100, "Account key does not belong to user")
    )
    with pytest.raises(NotFound, match="E\\*TRADE error 100: Account key does not belong to user") as caught:
        await connector.get_account()
    assert caught.value.venue_code == 100


async def test_an_xml_error_body_is_read_too(connector: EtradeConnector, router: respx.Router) -> None:
    xml = (
        "<?xml version='1.0'?><Error><code>1038</code><message>There are insufficient funds</message></Error>"
    )
    router.post(f"{ORDERS}/preview.json").respond(400, text=xml, headers={"Content-Type": "application/xml"})
    with pytest.raises(VenueRejected, match="1038") as caught:
        await connector.place_order(limit_buy())
    assert caught.value.venue_code == 1038


async def test_a_refused_preview_is_rejected_and_nothing_is_placed(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.post(f"{ORDERS}/preview.json").respond(
        400, json=etrade_error(1038, "There are insufficient funds")
    )
    place = router.post(f"{ORDERS}/place.json").respond(200, json=captured("place.json"))
    with pytest.raises(VenueRejected, match="insufficient funds"):
        await connector.place_order(limit_buy())
    assert place.call_count == 0


async def test_preview_then_place_with_the_preview_id(
    connector: EtradeConnector, router: respx.Router
) -> None:
    preview = router.post(f"{ORDERS}/preview.json").respond(200, json=captured("preview.json"))
    place = router.post(f"{ORDERS}/place.json").respond(200, json=captured("place.json"))
    order = await connector.place_order(limit_buy("coid-7"))
    assert (order.order_id, order.client_order_id, order.status) == ("482", "coid-7", OrderStatus.NEW)
    sent = json.loads(place.calls.last.request.content)["PlaceOrderRequest"]
    assert sent["PreviewIds"] == [{"previewId": 1175430021}]
    assert sent["clientOrderId"] == "coid-7"
    assert json.loads(preview.calls.last.request.content)["PreviewOrderRequest"]["Order"] == sent["Order"]
    assert place.calls.last.request.headers["content-type"] == "application/json"
    assert "idempotency-key" not in place.calls.last.request.headers


async def test_a_lost_placement_answer_is_resolved_by_the_order_list(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.post(f"{ORDERS}/preview.json").respond(200, json=captured("preview.json"))
    place = router.post(f"{ORDERS}/place.json").respond(504, text="gateway timeout")
    lookup = router.get(f"{ORDERS}.json").respond(200, json=listed("coid-9", 501))
    order = await connector.place_order(limit_buy("coid-9"))
    assert (order.order_id, order.client_order_id) == ("501", "coid-9")
    assert place.call_count == 1
    assert lookup.calls.last.request.url.params["symbol"] == "F"


async def test_a_placement_that_never_arrived_is_sent_again(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.post(f"{ORDERS}/preview.json").respond(200, json=captured("preview.json"))
    place = router.post(f"{ORDERS}/place.json")
    place.side_effect = [
        httpx.ReadError("connection reset"),
        httpx.Response(200, json=captured("place.json")),
    ]
    lookup = router.get(f"{ORDERS}.json").respond(204)
    order = await connector.place_order(limit_buy("coid-10"))
    assert order.order_id == "482"
    assert (place.call_count, lookup.call_count) == (2, 1)


async def test_a_duplicate_client_order_id_is_already_placed_not_rejected(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.post(f"{ORDERS}/preview.json").respond(200, json=captured("preview.json"))
    router.post(f"{ORDERS}/place.json").respond(
        400, json=etrade_error(1078, "The client order id was already used")
    )
    router.get(f"{ORDERS}.json").respond(200, json=listed("coid-11", 777))
    order = await connector.place_order(limit_buy("coid-11"))
    assert (order.order_id, order.status) == ("777", OrderStatus.NEW)


async def test_a_duplicate_the_list_does_not_show_is_unknown_never_rejected(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.post(f"{ORDERS}/preview.json").respond(
        400, json=etrade_error(1078, "The client order id was already used")
    )
    router.get(f"{ORDERS}.json").respond(204)
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.place_order(limit_buy("coid-12"))
    assert not isinstance(caught.value, VenueRejected)


async def test_a_failed_lookup_leaves_the_outcome_unknown(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.post(f"{ORDERS}/preview.json").respond(200, json=captured("preview.json"))
    place = router.post(f"{ORDERS}/place.json").respond(502, text="bad gateway")
    router.get(f"{ORDERS}.json").respond(503, text="unavailable")
    with pytest.raises(OutcomeUnknown, match="lookup failed"):
        await connector.place_order(limit_buy("coid-13"))
    assert place.call_count == 1


async def test_server_errors_on_reads_are_retried_then_raised(
    connector: EtradeConnector, router: respx.Router
) -> None:
    route = router.get(f"/v1/accounts/{KEY}/balance.json").respond(503, text="unavailable")
    with pytest.raises(ServerError):
        await connector.get_account()
    assert route.call_count == 3


async def test_an_unreadable_answer_is_payload_rejected(
    connector: EtradeConnector, router: respx.Router
) -> None:
    router.get(f"/v1/accounts/{KEY}/balance.json").respond(
        200, text='{"BalanceResponse": {"accou', headers={"Content-Type": "application/json"}
    )
    with pytest.raises(PayloadRejected, match="did not answer JSON"):
        await connector.get_account()


async def test_cancel_sends_the_order_id_and_is_retried(
    connector: EtradeConnector, router: respx.Router
) -> None:
    route = router.put(f"{ORDERS}/cancel.json")
    route.side_effect = [
        httpx.Response(503),
        httpx.Response(200, json={"CancelOrderResponse": {"orderId": 480}}),
    ]
    await connector.cancel_order("480")
    assert route.call_count == 2
    assert json.loads(route.calls.last.request.content) == {"CancelOrderRequest": {"orderId": 480}}


async def test_an_order_id_that_is_not_a_number_is_not_found(connector: EtradeConnector) -> None:
    with pytest.raises(NotFound, match="numbers"):
        await connector.cancel_order("not-a-number")


async def test_quotes_go_in_batches_of_25(connector: EtradeConnector, router: respx.Router) -> None:
    route = router.get(url__regex=r"/v1/market/quote/.*").respond(200, json=captured("quote.json"))
    symbols = [f"S{i:02d}" for i in range(60)]
    await connector.get_latest_quotes([*symbols, "s00"])
    sizes = [
        len(c.request.url.path.removeprefix("/v1/market/quote/").removesuffix(".json").split(","))
        for c in route.calls
    ]
    assert sizes == [25, 25, 10]


async def test_auth_errors_never_show_a_secret(connector: EtradeConnector, router: respx.Router) -> None:
    router.get(f"/v1/accounts/{KEY}/balance.json").respond(
        401, text=tomcat("token_rejected") + " etrade-mock-consumer-secret etrade-mock-access-token-secret"
    )
    router.get("/oauth/renew_access_token").respond(401, text=tomcat("token_rejected"))
    with pytest.raises(AuthError) as caught:
        await connector.get_account()
    for text in (str(caught.value), repr(caught.value)):
        assert "etrade-mock-consumer-secret" not in text
        assert "etrade-mock-access-token-secret" not in text
