"""The Client Portal's error bodies and the retry decisions around them, on respx routes (no socket):
the web transport's error mapper inside the shared API client, as the connector builds it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.interactive_brokers.client import map_error
from portico.errors import AuthError, NotFound, OutcomeUnknown, RateLimited, ServerError, VenueRejected
from portico.http import ApiClient
from portico.sdk import RetryPolicy

DATA = Path(__file__).parent / "data"
BASE = "https://localhost:5000/v1/api"


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(base_url=BASE, assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(router: respx.Router, clock: FakeClock):
    api = ApiClient(
        BASE,
        system="ib",
        transport=httpx.MockTransport(router.async_handler),
        clock=clock,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        error_mapper=map_error,
        idempotency_header=None,  # as the web transport builds it: IB dedupes on cOID, not a header
    )
    yield api
    await api.aclose()


async def test_401_is_an_unauthenticated_session(client: ApiClient, router: respx.Router) -> None:
    route = router.get("/portfolio/accounts").respond(401, json={"error": "not authenticated"})
    with pytest.raises(AuthError, match=r"Client Portal session not authenticated \(HTTP 401: not authenticated\)"):
        await client.get_json("/portfolio/accounts")
    assert route.call_count == 1


async def test_429_is_a_pacing_violation_waited_out_with_retry_after(
    client: ApiClient, router: respx.Router, clock: FakeClock
) -> None:
    accounts = json.loads((DATA / "portfolio_accounts.json").read_text())
    route = router.get("/portfolio/accounts").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "too many requests"}),
                     httpx.Response(200, json=accounts)]
    )  # fmt: skip
    assert await client.get_json("/portfolio/accounts") == accounts
    assert route.call_count == 2 and 2.0 in clock.sleeps


async def test_persistent_pacing_ends_rate_limited(client: ApiClient, router: respx.Router) -> None:
    router.get("/iserver/marketdata/history").respond(429, headers={"Retry-After": "9"}, json={"error": "pacing"})
    with pytest.raises(RateLimited) as caught:
        await client.get_json("/iserver/marketdata/history")
    assert caught.value.retry_after == 9.0
    assert "IB pacing violation (HTTP 429: pacing)" in caught.value.message


async def test_404_is_not_found(client: ApiClient, router: respx.Router) -> None:
    router.get("/iserver/account/order/status/1").respond(404, json={"error": "order not found"})
    with pytest.raises(NotFound, match="HTTP 404: order not found"):
        await client.get_json("/iserver/account/order/status/1")


async def test_an_already_registered_cOID_is_a_venue_refusal(client: ApiClient, router: respx.Router) -> None:
    route = router.post("/iserver/account/DU1/orders").respond(
        400, json={"error": "Local order ID=abc-1 is already registered."}
    )
    with pytest.raises(VenueRejected) as caught:
        await client.post("/iserver/account/DU1/orders", json={"orders": [{"cOID": "abc-1"}]})
    assert caught.value.venue_code == "duplicate_coid"
    assert route.call_count == 1


async def test_a_5xx_read_is_retried_a_5xx_placement_is_an_unknown_outcome(
    client: ApiClient, router: respx.Router
) -> None:
    read = router.get("/portfolio/accounts").respond(503, json={"error": "gateway busy"})
    with pytest.raises(ServerError):
        await client.get_json("/portfolio/accounts")
    assert read.call_count == 3
    placed = router.post("/iserver/account/DU1/orders").respond(502, json={"error": "bad gateway"})
    with pytest.raises(OutcomeUnknown):
        await client.post("/iserver/account/DU1/orders", json={"orders": [{"cOID": "abc-2"}]})
    assert placed.call_count == 1  # never re-sent: the order may exist
