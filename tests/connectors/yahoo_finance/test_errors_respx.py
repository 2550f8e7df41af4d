"""Yahoo's session dance, error answers and retry decisions on respx routes, with bodies in Yahoo's shape."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.yahoo_finance import YahooFinanceConnector
from portico.errors import AuthError, NotFound, PayloadRejected, RateLimited, ServerError, VenueRejected
from portico.models import BarInterval
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
Q1 = "https://q1.yahoo.test"
Q2 = "https://q2.yahoo.test"
FC = "https://fc.yahoo.test"
CRUMB = "Xw3/9cvJzEM"
A3 = "d=AQABBPortico&S=AQAAASecret"
URLS = {"query1": Q1, "query2": Q2, "cookie": FC}


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def cookie_answer() -> httpx.Response:
    return httpx.Response(
        404, text="<html>", headers={"set-cookie": f"A3={A3}; Domain=.yahoo.com; Path=/; Secure; HttpOnly"}
    )


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock):
    connector = respx_connector(YahooFinanceConnector, router, urls=URLS, clock=clock)
    await connector.open()
    yield connector
    await connector.close()


def session_routes(router: respx.Router, crumbs: list[str] | None = None) -> tuple[respx.Route, respx.Route]:
    cookie = router.get(FC).mock(side_effect=lambda request: cookie_answer())
    crumb = router.get(f"{Q1}/v1/test/getcrumb").mock(
        side_effect=[httpx.Response(200, text=c) for c in (crumbs or [CRUMB])]
    )
    return cookie, crumb


async def test_quotes_fetch_cookie_then_crumb_and_send_both(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    cookie, crumb = session_routes(router)
    quote = router.get(f"{Q1}/v7/finance/quote").respond(200, json=captured("quote_aapl_msft.json"))
    quotes = await connector.get_latest_quotes(["aapl", "MSFT"])
    assert quotes["AAPL"].last_price == Decimal("187.15")
    assert cookie.call_count == 1 and crumb.call_count == 1
    assert crumb.calls.last.request.headers["cookie"] == f"A3={A3}"
    sent = quote.calls.last.request
    assert sent.url.params["crumb"] == CRUMB and sent.url.params["symbols"] == "AAPL,MSFT"
    assert sent.url.params["formatted"] == "false"
    assert sent.headers["cookie"] == f"A3={A3}"


async def test_the_crumb_is_reused_across_calls(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    cookie, crumb = session_routes(router)
    router.get(f"{Q1}/v7/finance/quote").respond(200, json=captured("quote_aapl_msft.json"))
    await connector.get_latest_quotes(["AAPL", "MSFT"])
    await connector.get_latest_quotes(["AAPL", "MSFT"])
    assert cookie.call_count == 1 and crumb.call_count == 1


async def test_an_invalid_crumb_is_fetched_again_once(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    cookie, crumb = session_routes(router, crumbs=["first-crumb", "second-crumb"])
    answers = [
        httpx.Response(401, json=captured("invalid_crumb.json")),
        httpx.Response(200, json=captured("quote_aapl_msft.json")),
    ]
    sent_crumbs: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_crumbs.append(request.url.params["crumb"])  # read when sent: the flow re-signs the same request
        return answers[len(sent_crumbs) - 1]

    router.get(f"{Q1}/v7/finance/quote").mock(side_effect=answer)
    quotes = await connector.get_latest_quotes(["AAPL", "MSFT"])
    assert set(quotes) == {"AAPL", "MSFT"}
    assert cookie.call_count == 2 and crumb.call_count == 2
    assert sent_crumbs == ["first-crumb", "second-crumb"]


async def test_a_crumb_refused_twice_is_an_auth_error_without_the_secrets(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    session_routes(router, crumbs=[CRUMB, CRUMB])
    route = router.get(f"{Q1}/v7/finance/quote").respond(401, json=captured("invalid_crumb.json"))
    with pytest.raises(AuthError, match="Invalid Crumb") as caught:
        await connector.get_latest_quotes(["AAPL"])
    assert route.call_count == 2  # the first try and the one after the fresh crumb, no more
    for text in (str(caught.value), repr(caught.value)):
        assert CRUMB not in text and "Xw3" not in text and "AQAAASecret" not in text
    assert "crumb=***" in repr(connector.client.session) or "crumb='***'" in repr(connector.client.session)
    assert CRUMB not in repr(connector.client.session)


async def test_no_cookie_is_an_auth_error(connector: YahooFinanceConnector, router: respx.Router) -> None:
    router.get(FC).respond(200, text="<html>")
    with pytest.raises(AuthError, match="no session cookie"):
        await connector.get_latest_quotes(["AAPL"])


async def test_an_html_crumb_is_an_auth_error(connector: YahooFinanceConnector, router: respx.Router) -> None:
    router.get(FC).mock(side_effect=lambda request: cookie_answer())
    router.get(f"{Q1}/v1/test/getcrumb").respond(200, text="<html><body>consent</body></html>")
    with pytest.raises(AuthError, match="no crumb"):
        await connector.get_fundamentals("AAPL")


async def test_a_throttled_crumb_is_rate_limited_after_the_retries(
    connector: YahooFinanceConnector, router: respx.Router, clock: FakeClock
) -> None:
    router.get(FC).mock(side_effect=lambda request: cookie_answer())
    crumb = router.get(f"{Q1}/v1/test/getcrumb").respond(429, text="Too Many Requests")
    with pytest.raises(RateLimited, match="Too Many Requests"):
        await connector.get_latest_quotes(["AAPL"])
    assert crumb.call_count == 3  # the retry policy's three attempts, with backoff between
    assert len(clock.sleeps) == 2


async def test_a_429_on_the_chart_is_retried_then_succeeds(
    connector: YahooFinanceConnector, router: respx.Router, clock: FakeClock
) -> None:
    route = router.get(f"{Q2}/v8/finance/chart/AAPL").mock(
        side_effect=[httpx.Response(429, text="Too Many Requests"),
                     httpx.Response(200, json=captured("chart_aapl_1d_dividend.json"))]
    )  # fmt: skip
    bars = await connector.get_bars("AAPL", BarInterval.DAY, limit=2)
    assert [b.close for b in bars] == [Decimal("188.85000610351562"), Decimal("187.14999389648438")]
    assert route.call_count == 2 and len(clock.sleeps) == 1
    params = route.calls.last.request.url.params
    assert params["interval"] == "1d" and params["events"] == "div,splits" and "crumb" not in params


async def test_an_unknown_symbol_is_not_found_and_not_retried(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    route = router.get(f"{Q2}/v8/finance/chart/NOSUCH").respond(
        404, json=captured("chart_error_not_found.json")
    )
    with pytest.raises(NotFound, match="No data found, symbol may be delisted") as caught:
        await connector.get_bars("NOSUCH")
    assert route.call_count == 1 and caught.value.venue_code == "Not Found"


async def test_an_unprocessable_window_is_a_venue_refusal(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    route = router.get(f"{Q2}/v8/finance/chart/AAPL").respond(422, json=captured("chart_error_1m_range.json"))
    with pytest.raises(VenueRejected, match="Only 8 days worth of 1m"):
        await connector.get_bars("AAPL", BarInterval.MIN_1, limit=10)
    assert route.call_count == 1


async def test_a_missing_quote_is_not_found_naming_the_symbol(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    session_routes(router)
    router.get(f"{Q1}/v7/finance/quote").respond(200, json=captured("quote_aapl_msft.json"))
    with pytest.raises(NotFound, match="no quote for NOSUCH"):
        await connector.get_latest_quotes(["AAPL", "NOSUCH"])


async def test_a_page_instead_of_json_is_rejected(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    router.get(f"{Q2}/v1/finance/search").respond(200, text="<html>Will be right back...</html>")
    with pytest.raises(PayloadRejected, match="not JSON"):
        await connector.search_instruments("apple")


async def test_a_503_is_retried_then_raised(connector: YahooFinanceConnector, router: respx.Router) -> None:
    route = router.get(f"{Q2}/v8/finance/chart/AAPL").respond(503)
    with pytest.raises(ServerError):
        await connector.get_bars("AAPL")
    assert route.call_count == 3


async def test_fundamentals_ask_query2_with_the_crumb(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    session_routes(router)
    route = router.get(f"{Q2}/v10/finance/quoteSummary/AAPL").respond(
        200, json=captured("quote_summary_aapl.json")
    )
    fundamentals = await connector.get_fundamentals("AAPL")
    assert fundamentals.name == "Apple Inc."
    params = route.calls.last.request.url.params
    assert params["crumb"] == CRUMB
    assert params["modules"] == "price,summaryDetail,assetProfile,defaultKeyStatistics"


async def test_more_than_fifty_quotes_go_in_batches_of_fifty(
    connector: YahooFinanceConnector, router: respx.Router
) -> None:
    session_routes(router)
    template = captured("quote_aapl_msft.json")["quoteResponse"]["result"][0]

    def answer(request: httpx.Request) -> httpx.Response:
        rows = [{**template, "symbol": s} for s in request.url.params["symbols"].split(",")]
        return httpx.Response(200, json={"quoteResponse": {"result": rows, "error": None}})

    route = router.get(f"{Q1}/v7/finance/quote").mock(side_effect=answer)
    symbols = [f"S{i:02d}" for i in range(60)]
    quotes = await connector.get_latest_quotes(symbols)
    assert list(quotes) == symbols
    assert [len(c.request.url.params["symbols"].split(",")) for c in route.calls] == [50, 10]
