"""Alpaca's error mapping and retry decisions, on respx routes (no socket, no mock server)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.alpaca import AlpacaConnector
from portico.errors import AuthError, NotFound, OutcomeUnknown, RateLimited, VenueRejected
from portico.models import OrderRequest, OrderSide, OrderStatus
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
TRADING = "https://paper-api.test"
URLS = {"trading": TRADING, "data": "https://data.test", "stream": "wss://stream.test"}
CREDENTIALS = {"api_key_id": "PKTEST", "api_secret_key": "not-a-real-secret"}


def captured(name: str) -> object:
    return json.loads((DATA / name).read_text())


def order_body(client_order_id: str) -> dict[str, object]:
    body = dict(captured("orders_post.json"))  # type: ignore[call-overload]
    body.update({"client_order_id": client_order_id, "qty": "3", "notional": None})
    return body


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(base_url=TRADING, assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock):
    connector = respx_connector(AlpacaConnector, router, urls=URLS, clock=clock, credentials=CREDENTIALS)
    await connector.open()
    yield connector
    await connector.close()


def buy(client_order_id: str = "coid-1") -> OrderRequest:
    return OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(3), client_order_id=client_order_id)


async def test_401_is_an_auth_error_and_never_retried(connector: AlpacaConnector, router: respx.Router) -> None:
    route = router.get("/v2/account").respond(401, json={"code": 40110000, "message": "request is not authorized"})
    with pytest.raises(AuthError) as caught:
        await connector.get_account()
    assert caught.value.status_code == 401
    assert caught.value.venue_code == 40110000
    assert "request is not authorized" in caught.value.message
    assert route.call_count == 1
    sent = route.calls.last.request
    assert sent.headers["APCA-API-KEY-ID"] == "PKTEST"


async def test_403_insufficient_buying_power_is_a_venue_refusal_not_an_auth_error(
    connector: AlpacaConnector, router: respx.Router
) -> None:
    posted = router.post("/v2/orders").respond(403, json=captured("error_insufficient_buying_power.json"))
    lookup = router.get("/v2/orders:by_client_order_id")
    with pytest.raises(VenueRejected) as caught:
        await connector.place_order(buy())
    assert caught.value.status_code == 403
    assert caught.value.venue_code == 40310000
    assert posted.call_count == 1 and lookup.call_count == 0  # a refusal is final: no lookup, no re-send


async def test_403_without_a_venue_reason_is_an_auth_error(connector: AlpacaConnector, router: respx.Router) -> None:
    router.get("/v2/positions").respond(403, json={"code": 40310100, "message": "forbidden"})
    with pytest.raises(AuthError, match="Alpaca forbids this call: forbidden"):
        await connector.get_positions()


async def test_404_on_an_order_is_not_found(connector: AlpacaConnector, router: respx.Router) -> None:
    router.get("/v2/orders/nope").respond(404, json=captured("error_order_not_found.json"))
    with pytest.raises(NotFound):
        await connector.get_order("nope")


async def test_429_waits_for_retry_after_then_succeeds(
    connector: AlpacaConnector, router: respx.Router, clock: FakeClock
) -> None:
    route = router.get("/v2/positions").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}, json={"message": "rate limit exceeded"}),
            httpx.Response(200, json=captured("positions_get.json")),
        ]
    )
    router.get("/v2/account").respond(200, json=captured("account_get.json"))  # positions carry its id
    positions = await connector.get_positions()
    assert [p.symbol for p in positions] == ["AAPL"]
    assert route.call_count == 2
    assert 3.0 in clock.sleeps  # the server's Retry-After, not the backoff's guess


async def test_429_beyond_the_retries_is_rate_limited_with_retry_after(
    connector: AlpacaConnector, router: respx.Router
) -> None:
    route = router.get("/v2/account").respond(429, headers={"Retry-After": "7"}, json={"message": "rate limit exceeded"})
    with pytest.raises(RateLimited) as caught:
        await connector.get_account()
    assert caught.value.retry_after == 7.0
    assert route.call_count == 3  # the first attempt and the two retries RetryPolicy(attempts=3) allows


async def test_5xx_on_a_read_is_retried(connector: AlpacaConnector, router: respx.Router) -> None:
    route = router.get("/v2/account").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json=captured("account_get.json"))]
    )
    account = await connector.get_account()
    assert account.currency == "USD"
    assert route.call_count == 3


async def test_a_lost_answer_to_a_placement_is_looked_up_not_resent(
    connector: AlpacaConnector, router: respx.Router
) -> None:
    posted = router.post("/v2/orders").mock(side_effect=httpx.ReadTimeout("answer lost"))
    lookup = router.get("/v2/orders:by_client_order_id", params={"client_order_id": "coid-1"}).respond(
        200, json=order_body("coid-1")
    )
    order = await connector.place_order(buy())
    assert order.client_order_id == "coid-1" and order.status is OrderStatus.ACCEPTED
    assert posted.call_count == 1 and lookup.call_count == 1


async def test_a_placement_the_venue_never_saw_is_sent_again_once(
    connector: AlpacaConnector, router: respx.Router
) -> None:
    posted = router.post("/v2/orders").mock(
        side_effect=[httpx.Response(500, json={"message": "internal"}), httpx.Response(200, json=order_body("coid-1"))]
    )
    lookup = router.get("/v2/orders:by_client_order_id").respond(404, json=captured("error_order_not_found.json"))
    order = await connector.place_order(buy())
    assert order.client_order_id == "coid-1"
    assert posted.call_count == 2 and lookup.call_count == 1
    first, second = (json.loads(c.request.content) for c in posted.calls)
    assert first["client_order_id"] == second["client_order_id"] == "coid-1"  # same id: Alpaca dedupes


async def test_a_duplicate_client_order_id_answer_adopts_the_earlier_order(
    connector: AlpacaConnector, router: respx.Router
) -> None:
    router.post("/v2/orders").respond(422, json={"code": 40010001, "message": "client_order_id must be unique"})
    lookup = router.get("/v2/orders:by_client_order_id").respond(200, json=order_body("coid-1"))
    order = await connector.place_order(buy())
    assert order.client_order_id == "coid-1" and lookup.call_count == 1


async def test_a_lost_answer_whose_lookup_fails_stays_unknown(connector: AlpacaConnector, router: respx.Router) -> None:
    posted = router.post("/v2/orders").mock(side_effect=httpx.ReadTimeout("answer lost"))
    router.get("/v2/orders:by_client_order_id").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.place_order(buy())
    assert caught.value.idempotency_key == "coid-1"
    assert posted.call_count == 1  # never a second order while the first may exist
