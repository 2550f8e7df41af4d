"""Polygon's error answers, retry decisions and next_url handling on respx routes, with the vendor's
documented bodies (captured in ``data/``) rather than the mock's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.polygon import PolygonConnector
from portico.errors import (
    AuthError,
    NotFound,
    NotSupported,
    PayloadRejected,
    RateLimited,
    ServerError,
    VenueRejected,
)
from portico.models import BarInterval
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
BASE = "https://polygon.test"
KEY = "respx-secret-key-789"
NOW = datetime(2022, 5, 10, 14, 30, tzinfo=UTC)


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def error_body(status: str, text: str, key: str = "error") -> dict[str, str]:
    return {"status": status, "request_id": "c8bd8d9b3a9c4b1b9b3e2f0d7f1e2a3b", key: text}


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock) -> AsyncIterator[PolygonConnector]:
    connector = respx_connector(
        PolygonConnector, router, urls={"base": BASE}, clock=clock, credentials={"api_key": KEY},
        connection={"plan": "advanced"},
    )  # fmt: skip
    await connector.open()
    yield connector  # type: ignore[misc]
    await connector.close()


async def test_next_url_is_followed_on_the_configured_host_with_the_key_in_a_header(
    connector: PolygonConnector, router: respx.Router
) -> None:
    first, second = captured("quotes.json"), captured("quotes_page2.json")
    # the vendor's next_url names api.massive.com; only its path and cursor may be used
    assert first["next_url"].startswith("https://api.massive.com/v3/quotes/AAPL?cursor=")
    cursor = first["next_url"].split("cursor=", 1)[1]
    page2 = router.get(f"{BASE}/v3/quotes/AAPL", params={"cursor": cursor}).respond(200, json=second)
    page1 = router.get(f"{BASE}/v3/quotes/AAPL").respond(200, json=first)
    quotes = await connector.get_quotes("AAPL", start=NOW - timedelta(hours=1), end=NOW)
    assert len(quotes) == 20
    assert page1.call_count == 1 and page2.call_count == 1
    for call in (page1.calls.last, page2.calls.last):
        assert call.request.url.host == "polygon.test"
        assert call.request.headers["Authorization"] == f"Bearer {KEY}"
        assert KEY not in str(call.request.url)
    asked = page1.calls.last.request.url.params
    assert (
        asked["order"] == "asc"
        and asked["sort"] == "timestamp"
        and asked["timestamp.lte"] == str(int(NOW.timestamp()) * 10**9)
    )


async def test_a_401_is_an_auth_error_never_retried(
    connector: PolygonConnector, router: respx.Router
) -> None:
    route = router.get(url__startswith=f"{BASE}/v2/aggs/").respond(
        401, json=error_body("ERROR", "Unknown API Key")
    )
    with pytest.raises(AuthError, match="Unknown API Key"):
        await connector.get_bars("AAPL", BarInterval.DAY, limit=5)
    assert route.call_count == 1


async def test_a_403_outside_the_plan_is_not_supported(
    connector: PolygonConnector, router: respx.Router
) -> None:
    text = "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"
    route = router.get(f"{BASE}/v2/last/nbbo/AAPL").respond(
        403, json=error_body("NOT_AUTHORIZED", text, "message")
    )
    with pytest.raises(NotSupported, match="not entitled to this data") as caught:
        await connector.get_latest_quotes(["AAPL"])
    assert caught.value.venue_code == "NOT_AUTHORIZED"
    assert route.call_count == 1


async def test_a_404_is_not_found(connector: PolygonConnector, router: respx.Router) -> None:
    router.get(f"{BASE}/v3/reference/tickers/NOSUCH").respond(
        404, json=error_body("NOT_FOUND", "Ticker not found.", "message")
    )
    with pytest.raises(NotFound, match="Ticker not found"):
        await connector.get_fundamentals("NOSUCH")


async def test_a_400_names_the_vendors_reason(connector: PolygonConnector, router: respx.Router) -> None:
    text = "The parameter 'to' cannot be a time that occurs before 'from'"
    route = router.get(url__startswith=f"{BASE}/v2/aggs/").respond(400, json=error_body("ERROR", text))
    with pytest.raises(VenueRejected, match="cannot be a time that occurs before") as caught:
        await connector.get_bars("AAPL", limit=3)
    assert caught.value.venue_code == "ERROR" and route.call_count == 1


async def test_a_429_is_retried_then_rate_limited_for_the_free_plans_minute(
    connector: PolygonConnector, router: respx.Router, clock: FakeClock
) -> None:
    text = "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue."
    route = router.get(f"{BASE}/v2/aggs/ticker/AAPL/prev").respond(429, json=error_body("ERROR", text))
    with pytest.raises(RateLimited, match="maximum requests per minute") as caught:
        await connector.get_previous_close("AAPL")
    assert route.call_count == 3 and len(clock.sleeps) == 2
    assert caught.value.retry_after == 60.0
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


async def test_a_429_then_an_answer_succeeds(connector: PolygonConnector, router: respx.Router) -> None:
    router.get(f"{BASE}/v2/aggs/ticker/AAPL/prev").mock(
        side_effect=[httpx.Response(429, json=error_body("ERROR", "slow down")),
                     httpx.Response(200, json=captured("aggs_prev.json"))]
    )  # fmt: skip
    bar = await connector.get_previous_close("AAPL")
    assert bar.close == Decimal("156.8")


async def test_a_503_is_retried_then_a_server_error(
    connector: PolygonConnector, router: respx.Router
) -> None:
    route = router.get(f"{BASE}/v2/last/trade/AAPL").respond(503, text="Service Unavailable")
    with pytest.raises(ServerError):
        await connector.get_latest_trades(["AAPL"])
    assert route.call_count == 3


async def test_a_body_that_is_not_json_is_refused(connector: PolygonConnector, router: respx.Router) -> None:
    router.get(f"{BASE}/v1/marketstatus/now").respond(200, text="<html>maintenance</html>")
    with pytest.raises(PayloadRejected, match="not JSON"):
        await connector.get_market_status()


async def test_market_status_and_news_from_the_vendors_bodies(
    connector: PolygonConnector, router: respx.Router
) -> None:
    router.get(f"{BASE}/v1/marketstatus/now").respond(200, json=captured("marketstatus_now.json"))
    status = await connector.get_market_status()
    assert status.market == "extended-hours" and status.after_hours and not status.early_hours
    assert status.server_time == datetime(2022, 4, 28, 16, 48, 8, tzinfo=timezone(timedelta(hours=-4)))
    assert status.exchanges == {"nyse": "extended-hours", "nasdaq": "extended-hours", "otc": "extended-hours"}
    news_route = router.get(f"{BASE}/v2/reference/news").respond(200, json=captured("news.json"))
    [article] = await connector.get_news(["NFLX"], limit=5)
    assert article.source == "MarketWatch" and article.published_at == datetime(
        2022, 4, 28, 17, 8, tzinfo=UTC
    )
    assert article.symbols == ("MSFT", "TSN", "NFLX", "AMZN")
    assert news_route.calls.last.request.url.params["ticker"] == "NFLX"


async def test_the_health_check_takes_no_retry(connector: PolygonConnector, router: respx.Router) -> None:
    route = router.get(f"{BASE}/v1/marketstatus/now").respond(503)
    result = await connector.check()
    assert not result.ok and result.checks["reachable"] is True
    assert route.call_count == 1


async def test_on_the_free_plan_a_bare_429_waits_out_the_minute(
    router: respx.Router, clock: FakeClock
) -> None:
    connector = respx_connector(
        PolygonConnector, router, urls={"base": BASE}, clock=clock, credentials={"api_key": KEY},
        connection={"plan": "free"},
    )  # fmt: skip
    route = router.get(f"{BASE}/v2/aggs/ticker/AAPL/prev").mock(
        side_effect=[httpx.Response(429, json=error_body("ERROR", "slow down")),
                     httpx.Response(200, json=captured("aggs_prev.json"))]
    )  # fmt: skip
    bar = await connector.get_previous_close("AAPL")
    assert bar.close == Decimal("156.8") and route.call_count == 2
    assert clock.sleeps == [60.0]  # the free plan's window, not a one-second backoff into another 429
    await connector.close()
