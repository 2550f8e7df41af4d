"""Schwab's error mapping, placement outcomes and bad input, on respx routes (no socket, no mock server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.schwab import SchwabConnector
from portico.errors import (
    AuthError,
    ConfigurationError,
    NotFound,
    OutcomeUnknown,
    PayloadRejected,
    VenueRejected,
)
from portico.models import OrderRequest, OrderSide, OrderStatus, OrderType
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
API = "https://api.schwab.test"
NUMBER = "12345678"
HASH = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
ORDERS = f"/trader/v1/accounts/{HASH}/orders"
LOCATION = f"https://api.schwabapi.com/trader/v1/accounts/{HASH}/orders/1000000777"
TOKEN = "I0.not-a-real-access-token@"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def schwab_order(
    order_id: int, *, quantity: float = 3.0, symbol: str = "AAPL", status: str = "WORKING"
) -> dict[str, Any]:
    body = captured("orders_get_filled.json")
    body.update(
        {
            "orderId": order_id,
            "quantity": quantity,
            "filledQuantity": 0.0,
            "status": status,
            "orderType": "MARKET",
            "orderActivityCollection": [],
            "tag": None,
        }
    )
    body.pop("price")
    body["orderLegCollection"][0].update({"quantity": quantity, "instruction": "BUY"})
    body["orderLegCollection"][0]["instrument"]["symbol"] = symbol
    return body


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(base_url=API, assert_all_called=False)
    router.get("/trader/v1/accounts/accountNumbers").respond(
        200, json=captured("accounts_accountNumbers_get.json")
    )
    return router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def build(router: respx.Router, clock: FakeClock, store: Any = None, **connection: Any) -> SchwabConnector:
    connector = respx_connector(
        SchwabConnector,
        router,
        urls={"api": API},
        clock=clock,
        credentials={"access_token": TOKEN},
        connection=connection,
        store=store,
    )
    assert isinstance(connector, SchwabConnector)
    return connector


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock) -> AsyncIterator[SchwabConnector]:
    connector = build(router, clock)
    await connector.open()
    yield connector
    await connector.close()


def buy(client_order_id: str = "coid-1", quantity: int = 3) -> OrderRequest:
    return OrderRequest(
        symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(quantity), client_order_id=client_order_id
    )


def paths(router: respx.Router) -> list[str]:
    return [f"{call.request.method} {call.request.url.path}" for call in router.calls]


async def test_401_is_an_auth_error_and_never_retried(
    connector: SchwabConnector, router: respx.Router
) -> None:
    route = router.get(f"/trader/v1/accounts/{HASH}").respond(401, json={"message": "Client not authorized"})
    with pytest.raises(AuthError) as caught:
        await connector.get_account()
    assert caught.value.message == "Schwab refused the credentials: Client not authorized"
    assert route.call_count == 1
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


async def test_the_hash_is_sent_never_the_plain_number(
    connector: SchwabConnector, router: respx.Router
) -> None:
    router.get(f"/trader/v1/accounts/{HASH}").respond(200, json=captured("accounts_get_positions.json"))
    positions = await connector.get_positions()
    assert [p.symbol for p in positions] == ["AAPL", "TSLA"]
    assert all(p.account_id == NUMBER for p in positions)
    assert paths(router) == ["GET /trader/v1/accounts/accountNumbers", f"GET /trader/v1/accounts/{HASH}"]
    assert all(NUMBER not in str(call.request.url) for call in router.calls)
    assert router.calls[-1].request.url.params["fields"] == "positions"


async def test_invalid_account_number_is_a_venue_refusal(
    connector: SchwabConnector, router: respx.Router
) -> None:
    router.get(f"/trader/v1/accounts/{HASH}").respond(400, json=captured("error_invalid_account.json"))
    with pytest.raises(VenueRejected) as caught:
        await connector.get_account()
    assert caught.value.message == "Schwab refused: Invalid account number"


async def test_an_unlinked_account_is_a_configuration_error_naming_only_its_last_digits(
    router: respx.Router, clock: FakeClock
) -> None:
    connector = build(router, clock, account_number="99999123")
    with pytest.raises(ConfigurationError) as caught:
        await connector.get_account()
    assert "account ...123 is not linked to this Schwab app (linked: ...678)" in str(caught.value)
    assert "99999123" not in str(caught.value) and NUMBER not in str(caught.value)


async def test_market_data_errors_body(connector: SchwabConnector, router: respx.Router) -> None:
    router.get("/marketdata/v1/quotes").respond(401, json=captured("error_marketdata_unauthorized.json"))
    with pytest.raises(AuthError) as caught:
        await connector.get_latest_quotes(["AAPL"])
    assert caught.value.message == "Schwab refused the credentials: Client not authorized"


async def test_404_on_an_order_is_not_found(connector: SchwabConnector, router: respx.Router) -> None:
    router.get(f"{ORDERS}/1000000001").respond(404, json={"message": "Order not found"})
    with pytest.raises(NotFound):
        await connector.get_order("1000000001")
    with pytest.raises(NotFound):
        await connector.get_order("not-a-number")  # never sent: Schwab order ids are numbers
    assert paths(router).count(f"GET {ORDERS}/1000000001") == 1


async def test_429_on_a_read_is_retried_after_retry_after(
    connector: SchwabConnector, router: respx.Router, clock: FakeClock
) -> None:
    route = router.get("/marketdata/v1/quotes").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}, json={"message": "Too Many Requests"}),
            httpx.Response(200, json=captured("quotes_get.json")),
        ]
    )
    quotes = await connector.get_latest_quotes(["AAPL", "NOPE1"])
    assert list(quotes) == ["AAPL"]  # the unknown symbol is listed under "errors" and left out
    assert route.call_count == 2
    assert 2.0 in clock.sleeps


async def test_placement_reads_the_order_id_from_location(
    connector: SchwabConnector, router: respx.Router
) -> None:
    route = router.post(ORDERS).respond(201, headers={"Location": LOCATION})
    order = await connector.place_order(buy())
    assert (order.order_id, order.client_order_id, order.status) == (
        "1000000777",
        "coid-1",
        OrderStatus.ACCEPTED,
    )
    sent = json.loads(route.calls[0].request.content)
    assert sent["orderLegCollection"] == [
        {"instruction": "BUY", "quantity": 3, "instrument": {"symbol": "AAPL", "assetType": "EQUITY"}}
    ]
    assert "tag" not in sent
    # the same client order id again is the same order: nothing is sent twice
    router.get(f"{ORDERS}/1000000777").respond(200, json=schwab_order(1000000777))
    again = await connector.place_order(buy())
    assert again.order_id == "1000000777" and again.client_order_id == "coid-1"
    assert route.call_count == 1


async def test_a_venue_refusal_of_a_placement_is_final(
    connector: SchwabConnector, router: respx.Router
) -> None:
    route = router.post(ORDERS).respond(400, json={"message": "Order rejected: insufficient buying power"})
    with pytest.raises(VenueRejected) as caught:
        await connector.place_order(buy())
    assert "insufficient buying power" in caught.value.message
    assert route.call_count == 1


async def test_a_lost_answer_is_resolved_by_matching_not_by_sending_again(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).respond(502)
    listing = router.get(ORDERS).respond(
        200, json=[schwab_order(1000000900, quantity=5.0), schwab_order(1000000901)]
    )
    order = await connector.place_order(buy())
    assert order.order_id == "1000000901"  # the 3-share AAPL buy, not the 5-share one
    assert order.client_order_id == "coid-1"
    assert post.call_count == 1
    assert listing.call_count == 1
    window = listing.calls[0].request.url.params
    assert window["fromEnteredTime"] == "2026-01-05T14:25:00.000Z"  # 300 s before the send (FakeClock 14:30)
    assert window["toEnteredTime"] == "2026-01-05T14:35:00.000Z"


async def test_an_order_linked_to_another_intent_is_not_claimed_twice(
    connector: SchwabConnector, router: respx.Router
) -> None:
    router.post(ORDERS).mock(
        side_effect=[
            httpx.Response(201, headers={"Location": LOCATION.replace("777", "901")}),
            httpx.Response(502),
        ]
    )
    router.get(ORDERS).respond(200, json=[schwab_order(1000000901)])
    first = await connector.place_order(buy("coid-1"))
    assert first.order_id == "1000000901"
    # the second identical order's answer is lost and the only match belongs to the first: resend
    router.post(ORDERS).mock(
        side_effect=[httpx.Response(502), httpx.Response(201, headers={"Location": LOCATION})]
    )
    second = await connector.place_order(buy("coid-2"))
    assert second.order_id == "1000000777"


async def test_ambiguous_matches_are_outcome_unknown_never_rejected(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).respond(504)
    router.get(ORDERS).respond(200, json=[schwab_order(1000000901), schwab_order(1000000902)])
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.place_order(buy())
    assert "1000000901, 1000000902 all match" in caught.value.message
    assert caught.value.idempotency_key == "coid-1"
    assert post.call_count == 1


async def test_a_failed_lookup_leaves_the_outcome_unknown(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).respond(502)
    router.get(ORDERS).respond(503)
    with pytest.raises(OutcomeUnknown) as caught:
        await connector.place_order(buy())
    assert "the lookup failed" in caught.value.message
    assert post.call_count == 1
    # asking again later looks first, and finds the order now
    router.get(ORDERS).respond(200, json=[schwab_order(1000000950)])
    order = await connector.place_order(buy())
    assert order.order_id == "1000000950"
    assert post.call_count == 1


async def test_a_caller_asking_again_after_unknown_looks_then_sends(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).mock(
        side_effect=[httpx.Response(502)] * 3 + [httpx.Response(201, headers={"Location": LOCATION})]
    )
    listing = router.get(ORDERS).respond(200, json=[])
    with pytest.raises(OutcomeUnknown, match="after 3 sends"):
        await connector.place_order(buy())
    order = await connector.place_order(buy())  # nothing matched: the venue never got it
    assert order.order_id == "1000000777"
    assert post.call_count == 4
    assert listing.call_count == 4  # a look after each lost answer, and one before the new call sends


async def test_no_match_after_a_lost_answer_sends_again(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).mock(
        side_effect=[
            httpx.Response(500, json={"message": "boom"}),
            httpx.Response(201, headers={"Location": LOCATION}),
        ]
    )
    router.get(ORDERS).respond(200, json=[])
    order = await connector.place_order(buy())
    assert order.order_id == "1000000777"
    assert post.call_count == 2


async def test_a_201_without_location_is_matched_and_never_resent(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).respond(201)
    router.get(ORDERS).respond(200, json=[])
    with pytest.raises(OutcomeUnknown):
        await connector.place_order(buy())
    with pytest.raises(OutcomeUnknown, match="no matching order is found yet"):
        await connector.place_order(buy())  # asked again: it looks, and still never sends
    assert post.call_count == 1


async def test_a_location_naming_another_account_is_not_trusted(
    connector: SchwabConnector, router: respx.Router
) -> None:
    router.post(ORDERS).respond(
        201, headers={"Location": "https://api.schwabapi.com/trader/v1/accounts/OTHER/orders/5"}
    )
    router.get(ORDERS).respond(200, json=[schwab_order(1000000905)])
    order = await connector.place_order(buy())
    assert order.order_id == "1000000905"


async def test_order_requests_pass_the_apps_order_limit(router: respx.Router, clock: FakeClock) -> None:
    connector = build(router, clock, order_limit_per_minute=2)
    router.post(ORDERS).respond(201, headers={"Location": LOCATION})
    router.delete(url__regex=rf"{ORDERS}/\d+").respond(200)
    await connector.place_order(buy("a"))
    await connector.cancel_order("1000000777")
    assert clock.sleeps == []
    await connector.place_order(buy("b"))  # the third order request in the minute waits for the window
    assert sum(clock.sleeps) == pytest.approx(60.0, abs=1.0)


async def test_bad_input_is_refused_before_anything_is_sent(
    connector: SchwabConnector, router: respx.Router
) -> None:
    post = router.post(ORDERS).respond(201, headers={"Location": LOCATION})
    with pytest.raises(PayloadRejected, match="whole shares"):
        await connector.place_order(OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal("0.5")))
    with pytest.raises(PayloadRejected, match="timezone-aware"):
        from datetime import datetime

        await connector.get_bars("AAPL", start=datetime(2026, 1, 1))
    with pytest.raises(PayloadRejected, match="at least one field"):
        await connector.replace_order("1000000777")
    with pytest.raises(PayloadRejected, match="at most one year"):
        from datetime import UTC, datetime

        await connector.list_orders(since=datetime(2024, 1, 1, tzinfo=UTC))
    assert post.call_count == 0
    assert OrderType.TRAILING_STOP not in connector.spec.capabilities.order_types


async def test_intents_survive_a_restart(router: respx.Router, clock: FakeClock, tmp_path: Path) -> None:
    from portico.store import Database

    database = Database(f"sqlite:///{tmp_path / 'portico.db'}")
    post = router.post(ORDERS).mock(
        side_effect=[httpx.Response(201, headers={"Location": LOCATION}), httpx.Response(502)]
    )
    listing = router.get(ORDERS).respond(503)
    first = build(router, clock, store=database)
    await first.place_order(buy("kept-1"))
    with pytest.raises(OutcomeUnknown):
        await first.place_order(buy("lost-1", quantity=4))
    await first.close()

    # a new process: the links and the unresolved intent come back from the store
    router.get(f"{ORDERS}/1000000777").respond(200, json=schwab_order(1000000777))
    listing.respond(200, json=[schwab_order(1000000901, quantity=4.0)])
    second = build(router, clock, store=database)
    fetched = await second.get_order("1000000777")
    assert fetched.client_order_id == "kept-1"
    again = await second.place_order(buy("kept-1"))
    assert again.order_id == "1000000777"
    found = await second.place_order(buy("lost-1", quantity=4))
    assert (found.order_id, found.client_order_id) == ("1000000901", "lost-1")
    assert post.call_count == 2  # neither order was sent again after the restart
    await second.close()
    database.dispose()
