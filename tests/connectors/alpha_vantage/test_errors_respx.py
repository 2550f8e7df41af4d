"""Alpha Vantage's in-body errors and retry decisions on respx routes, with the vendor's documented
answer bodies (captured in ``data/``) rather than the mock's."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.alpha_vantage import AlphaVantageConnector
from portico.errors import NotSupported, RateLimited, ServerError, VenueRejected
from portico.models import BarInterval
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
BASE = "https://av.test/query"
KEY = "respx-secret-key-789"


def captured(name: str) -> object:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock):
    connector = respx_connector(
        AlphaVantageConnector, router, urls={"base": BASE}, clock=clock, credentials={"api_key": KEY},
        connection={"tier": "premium_75"},
    )  # fmt: skip
    await connector.open()
    yield connector
    await connector.close()


async def test_a_per_minute_note_at_http_200_is_waited_out_and_retried(
    connector: AlphaVantageConnector, router: respx.Router, clock: FakeClock
) -> None:
    route = router.get(BASE, params={"function": "GLOBAL_QUOTE"}).mock(
        side_effect=[httpx.Response(200, json=captured("note_per_minute.json")),
                     httpx.Response(200, json=captured("global_quote.json"))]
    )  # fmt: skip
    quotes = await connector.get_latest_quotes(["MSFT"])
    assert quotes["MSFT"].last_price == Decimal("112.1300")
    assert route.call_count == 2
    assert 60.0 in clock.sleeps  # a per-minute quota is waited out for a minute
    assert route.calls.last.request.url.params["apikey"] == KEY


async def test_the_daily_quota_is_rate_limited_until_the_reset_without_a_retry(
    connector: AlphaVantageConnector, router: respx.Router
) -> None:
    route = router.get(BASE).respond(200, json=captured("information_daily_quota.json"))
    with pytest.raises(RateLimited) as caught:
        await connector.get_latest_quotes(["MSFT"])
    assert caught.value.retry_after is not None and caught.value.retry_after > 60
    assert route.call_count == 1
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


async def test_an_invalid_call_is_a_venue_refusal_never_retried(
    connector: AlphaVantageConnector, router: respx.Router
) -> None:
    route = router.get(BASE).respond(200, json=captured("error_invalid_call.json"))
    with pytest.raises(VenueRejected) as caught:
        await connector.get_bars("NOSUCH", BarInterval.DAY, limit=5)
    assert caught.value.venue_code == "Error Message"
    assert route.call_count == 1


async def test_a_premium_endpoint_is_not_supported(connector: AlphaVantageConnector, router: respx.Router) -> None:
    route = router.get(BASE).respond(200, json=captured("information_premium.json"))
    with pytest.raises(NotSupported, match="premium"):
        await connector.get_bars("IBM", BarInterval.DAY, adjusted=True, limit=5)
    assert route.call_count == 1


async def test_a_503_is_retried_then_raised(connector: AlphaVantageConnector, router: respx.Router) -> None:
    route = router.get(BASE).respond(503)
    with pytest.raises(ServerError):
        await connector.get_latest_quotes(["MSFT"])
    assert route.call_count == 3
