"""Data License's refusals and throttles on respx routes, with the answer bodies captured in ``data/``
(JSON:API errors, OAuth 2 errors) rather than the mock's: how each maps to portico's errors, what is
retried, and that the credentials never show."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.bloomberg import BloombergConnector
from portico.errors import AuthError, PayloadRejected, RateLimited, ServerError, VenueRejected
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
BASE = "https://dl.test"
AUTH = "https://sso.test"
TOKEN_URL = f"{AUTH}/ext/api/as/token.oauth2"
CLIENT_ID = "respx-client-id-0a1b2c"
CLIENT_SECRET = "respx-client-secret-9f8e7d"


def captured(name: str) -> object:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(assert_all_called=False)
    router.post(TOKEN_URL).respond(
        200, json={"access_token": "header.payload.sig", "token_type": "Bearer", "expires_in": 3600}
    )
    return router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock):
    auth = AuthenticationManager(clock=clock, transport=httpx.MockTransport(router.async_handler)).build(
        "bloomberg", "oauth2_client_credentials", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        {"token_url": TOKEN_URL},
    )  # fmt: skip
    connector = respx_connector(
        BloombergConnector, router, urls={"base": BASE, "auth": AUTH}, clock=clock, auth=auth,
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        connection={"catalog": "1234", "poll_interval": 5.0},
    )  # fmt: skip
    await connector.open()
    yield connector
    await connector.close()


def _flow(router: respx.Router, output: object) -> None:
    router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(201, json=captured("request_created.json"))
    router.get(f"{BASE}/eap/catalogs/1234/content/responses/").respond(
        200, json={"contains": [{"key": "portico-r1.20260310T110130.json"}]}
    )
    router.get(f"{BASE}/eap/catalogs/1234/content/responses/portico-r1.20260310T110130.json").respond(
        200,
        json=output,
        headers={"Content-Disposition": 'attachment; filename="portico-r1.20260310T110130.json"'},
    )


async def test_a_refused_field_is_a_venue_refusal_naming_its_pointer_never_retried(
    connector: BloombergConnector, router: respx.Router
) -> None:
    route = router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(
        400, json=captured("error_invalid_field.json")
    )
    with pytest.raises(VenueRejected) as caught:
        await connector.get_reference_data(["AAPL"], ["PX_LSAT"])
    assert caught.value.venue_code == "/fieldList/contains/0/mnemonic"
    assert "PX_LSAT" in caught.value.message and "Bad Request" in caught.value.message
    assert route.call_count == 1


async def test_every_call_sends_api_version_2_and_the_bearer_token(
    connector: BloombergConnector, router: respx.Router
) -> None:
    _flow(router, captured("output_data_request.json"))
    await connector.get_fx_rates([("EUR", "USD")])
    calls = [c.request for c in router.calls if c.request.url.host == "dl.test"]
    assert calls and all(r.headers["api-version"] == "2" for r in calls)
    assert all(r.headers["authorization"] == "Bearer header.payload.sig" for r in calls)


async def test_a_429_is_waited_out_for_its_retry_after_then_retried(
    connector: BloombergConnector, router: respx.Router, clock: FakeClock
) -> None:
    _flow(router, captured("output_data_request.json"))
    router.get(f"{BASE}/eap/catalogs/1234/content/responses/").mock(
        side_effect=[
            httpx.Response(429, json=captured("error_rate_limited.json"), headers={"Retry-After": "7"}),
            httpx.Response(200, json={"contains": [{"key": "portico-r1.20260310T110130.json"}]}),
        ]
    )
    found = await connector.get_fx_rates([("EUR", "USD")])
    assert ("EUR", "USD") in found.rates
    assert 7.0 in clock.sleeps


async def test_a_throttle_longer_than_the_policy_allows_is_rate_limited(
    connector: BloombergConnector, router: respx.Router
) -> None:
    router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(
        429, json=captured("error_rate_limited.json"), headers={"Retry-After": "600"}
    )
    with pytest.raises(RateLimited) as caught:
        await connector.get_latest_quotes(["AAPL"])
    assert caught.value.retry_after == 600.0


async def test_a_503_on_a_poll_is_retried_then_raised(
    connector: BloombergConnector, router: respx.Router
) -> None:
    router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(201, json=captured("request_created.json"))
    route = router.get(f"{BASE}/eap/catalogs/1234/content/responses/").respond(503)
    with pytest.raises(ServerError):
        await connector.get_latest_quotes(["AAPL"])
    assert route.call_count == 3


async def test_an_expired_bearer_token_is_an_auth_error(
    connector: BloombergConnector, router: respx.Router
) -> None:
    router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(
        401, json=captured("bearer_invalid_token.json")
    )
    with pytest.raises(AuthError) as caught:
        await connector.get_latest_quotes(["AAPL"])
    assert caught.value.venue_code == "invalid_token"
    assert "expired" in caught.value.message


async def test_a_refused_client_is_an_auth_error_that_never_shows_the_secret(
    router: respx.Router, clock: FakeClock
) -> None:
    router.routes.clear()
    token = router.post(TOKEN_URL).respond(401, json=captured("token_invalid_client.json"))
    auth = AuthenticationManager(clock=clock, transport=httpx.MockTransport(router.async_handler)).build(
        "bloomberg", "oauth2_client_credentials", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        {"token_url": TOKEN_URL},
    )  # fmt: skip
    connector = respx_connector(
        BloombergConnector, router, urls={"base": BASE, "auth": AUTH}, clock=clock, auth=auth,
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, connection={"catalog": "1234"},
    )  # fmt: skip
    try:
        with pytest.raises(AuthError) as caught:
            await connector.get_latest_quotes(["AAPL"])
    finally:
        await connector.close()
    assert caught.value.venue_code == "invalid_client"
    for text in (str(caught.value), repr(caught.value), json.dumps(caught.value.to_dict())):
        assert CLIENT_SECRET not in text
    # the secret travelled only in the token request's Basic header, never in a URL
    assert all(CLIENT_SECRET not in str(c.request.url) for c in router.calls)
    assert token.calls.last.request.headers["authorization"].startswith("Basic ")


async def test_a_listing_that_is_not_json_is_a_payload_refusal(
    connector: BloombergConnector, router: respx.Router
) -> None:
    router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(201, json=captured("request_created.json"))
    router.get(f"{BASE}/eap/catalogs/1234/content/responses/").respond(200, text="<html>maintenance</html>")
    with pytest.raises(PayloadRejected, match="not JSON"):
        await connector.get_latest_quotes(["AAPL"])


async def test_a_listing_of_an_unexpected_shape_is_a_payload_refusal(
    connector: BloombergConnector, router: respx.Router
) -> None:
    router.post(f"{BASE}/eap/catalogs/1234/requests/").respond(201, json=captured("request_created.json"))
    router.get(f"{BASE}/eap/catalogs/1234/content/responses/").respond(
        200, json={"contains": [{"no_key": 1}]}
    )
    with pytest.raises(PayloadRejected, match="unexpected document"):
        await connector.get_latest_quotes(["AAPL"])


async def test_the_catalog_listing_without_a_scheduled_catalog_says_what_to_configure(
    router: respx.Router, clock: FakeClock
) -> None:
    body = captured("catalogs.json")
    assert isinstance(body, dict)
    body["contains"] = [c for c in body["contains"] if c["subscriptionType"] != "scheduled"]
    router.get(f"{BASE}/eap/catalogs/").respond(200, json=body)
    auth = AuthenticationManager(clock=clock, transport=httpx.MockTransport(router.async_handler)).build(
        "bloomberg", "oauth2_client_credentials", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        {"token_url": TOKEN_URL},
    )  # fmt: skip
    connector = respx_connector(
        BloombergConnector, router, urls={"base": BASE, "auth": AUTH}, clock=clock, auth=auth,
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )  # fmt: skip
    from portico.errors import ConfigurationError

    try:
        with pytest.raises(ConfigurationError, match="connection.catalog"):
            await connector.get_latest_quotes(["AAPL"])
    finally:
        await connector.close()
