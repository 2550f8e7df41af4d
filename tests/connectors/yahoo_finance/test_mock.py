"""The Yahoo Finance mock on its own: Host routing, the session endpoints, error envelopes and admin endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from portico.mocks._kit import MockClock
from portico.mocks.yahoo_finance import create_app

PINNED = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
INVALID_CRUMB = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=3, clock=MockClock(PINNED), history_start=date(2024, 1, 2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def session(client: httpx.AsyncClient) -> tuple[str, str]:
    landing = await client.get("/", headers={"host": "fc.yahoo.com"})
    cookie = landing.headers["set-cookie"].split(";")[0].removeprefix("A3=")
    crumb = await client.get(
        "/v1/test/getcrumb", headers={"host": "query1.finance.yahoo.com", "cookie": f"A3={cookie}"}
    )
    return cookie, crumb.text


async def test_fc_yahoo_answers_404_with_the_a3_cookie_for_the_yahoo_domain(
    client: httpx.AsyncClient,
) -> None:
    landing = await client.get("/", headers={"host": "fc.yahoo.com"})
    assert landing.status_code == 404
    header = landing.headers["set-cookie"]
    assert header.startswith("A3=d=AQABBA")
    assert "Domain=.yahoo.com" in header and "Path=/" in header and "Secure" in header


async def test_paths_are_served_only_on_their_hosts(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v8/finance/chart/AAPL", headers={"host": "fc.yahoo.com"})).status_code == 404
    assert (await client.get("/", headers={"host": "query2.finance.yahoo.com"})).status_code == 404
    assert (await client.get("/consent", headers={"host": "guce.yahoo.com"})).status_code == 404
    assert (
        await client.get("/v8/finance/chart/AAPL", headers={"host": "query1.finance.yahoo.com"})
    ).status_code == 200
    assert (await client.get("/v8/finance/chart/AAPL")).status_code == 200  # a plain host serves every path


async def test_a_crumb_belongs_to_its_cookie(client: httpx.AsyncClient) -> None:
    cookie, crumb = await session(client)
    assert len(crumb) == 11
    other_cookie, _ = await session(client)
    good = await client.get(
        "/v7/finance/quote", params={"symbols": "AAPL", "crumb": crumb}, headers={"cookie": f"A3={cookie}"}
    )
    assert good.status_code == 200
    swapped = await client.get(
        "/v7/finance/quote",
        params={"symbols": "AAPL", "crumb": crumb},
        headers={"cookie": f"A3={other_cookie}"},
    )
    assert swapped.status_code == 401 and swapped.json() == INVALID_CRUMB
    bare = await client.get("/v10/finance/quoteSummary/AAPL", params={"modules": "price"})
    assert bare.status_code == 401 and bare.json() == INVALID_CRUMB


async def test_getcrumb_without_a_cookie_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/test/getcrumb")
    assert answer.status_code == 401 and answer.json()["finance"]["error"]["description"] == "Invalid Cookie"


async def test_the_admin_endpoint_expires_crumbs(client: httpx.AsyncClient) -> None:
    cookie, crumb = await session(client)
    assert (await client.delete("/__mock__/yahoo_finance/crumbs")).json() == {"expired": 1}
    stale = await client.get(
        "/v7/finance/quote", params={"symbols": "AAPL", "crumb": crumb}, headers={"cookie": f"A3={cookie}"}
    )
    assert stale.status_code == 401
    assert (await client.get("/__mock__/yahoo_finance/crumbs")).json() == {"cookies": 1, "crumbs": 0}


@pytest.mark.parametrize(
    ("params", "status", "description"),
    [
        (
            {"interval": "7m"},
            422,
            "Invalid input - interval=7m is not supported. Valid intervals: [1m, 2m, 5m",
        ),
        ({"range": "7y"}, 422, "Invalid input - range=7y is not supported"),
        ({"period1": "1733000000", "period2": "1732000000"}, 400, "start date cannot be after end date"),
        ({"period1": "abc"}, 400, "period1 and period2 must be integers"),
        ({"interval": "5m", "range": "1y"}, 422, "The requested range must be within the last 60 days"),
        (
            {"interval": "1m", "period1": "1794000000", "period2": "1795000000"},
            422,
            "Only 8 days worth of 1m",
        ),
    ],
)
async def test_chart_refusals_carry_yahoos_envelope(
    client: httpx.AsyncClient, params: dict[str, str], status: int, description: str
) -> None:
    answer = await client.get("/v8/finance/chart/AAPL", params=params)
    assert answer.status_code == status
    body = answer.json()["chart"]
    assert body["result"] is None and description in body["error"]["description"]


async def test_an_unknown_symbol_has_no_chart(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v8/finance/chart/NOSUCH")
    assert answer.status_code == 404
    assert answer.json() == {
        "chart": {
            "result": None,
            "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
        }
    }


async def test_intraday_charts_list_trading_periods_and_no_adjclose(client: httpx.AsyncClient) -> None:
    plain = (await client.get("/v8/finance/chart/AAPL", params={"range": "1d", "interval": "1h"})).json()[
        "chart"
    ]["result"][0]
    assert "adjclose" not in plain["indicators"]
    assert plain["meta"]["tradingPeriods"] == [
        # Friday 20 November 2026, 09:30 to 16:00 New York
        [{"timezone": "EST", "start": 1795185000, "end": 1795208400, "gmtoffset": -18000}]
    ]
    assert len(plain["timestamp"]) == 7  # 09:30 to 15:30, the last hour cut at the close
    prepost = (
        await client.get(
            "/v8/finance/chart/AAPL", params={"range": "1d", "interval": "1h", "includePrePost": "true"}
        )
    ).json()["chart"]["result"][0]
    assert set(prepost["meta"]["tradingPeriods"]) == {"pre", "regular", "post"}


async def test_daily_chart_meta_and_events(client: httpx.AsyncClient) -> None:
    answer = await client.get(
        "/v8/finance/chart/AAPL",
        params={"period1": "1735707600", "period2": "1737000000", "interval": "1d", "events": "div,splits"},
    )
    result = answer.json()["chart"]["result"][0]
    meta = result["meta"]
    assert meta["exchangeTimezoneName"] == "America/New_York" and meta["instrumentType"] == "EQUITY"
    assert meta["currency"] == "USD" and meta["dataGranularity"] == "1d"
    assert result["events"]["splits"] == {
        "1735828200": {"date": 1735828200, "numerator": 4.0, "denominator": 1.0, "splitRatio": "4:1"}
    }
    assert result["events"]["dividends"] == {"1736778600": {"amount": 0.77, "date": 1736778600}}
    assert result["timestamp"][0] == 1735828200  # 2 January 2025 09:30 New York, the first session of 2025


async def test_quotes_formatted_and_raw(client: httpx.AsyncClient) -> None:
    cookie, crumb = await session(client)
    headers = {"cookie": f"A3={cookie}"}
    raw = (
        await client.get(
            "/v7/finance/quote", params={"symbols": "AAPL,NOSUCH,SPY", "crumb": crumb}, headers=headers
        )
    ).json()
    rows = raw["quoteResponse"]["result"]
    assert [r["symbol"] for r in rows] == ["AAPL", "SPY"] and rows[1]["quoteType"] == "ETF"
    assert isinstance(rows[0]["regularMarketPrice"], float)
    formatted = (
        await client.get(
            "/v7/finance/quote",
            params={"symbols": "AAPL", "crumb": crumb, "formatted": "true"},
            headers=headers,
        )
    ).json()
    price = formatted["quoteResponse"]["result"][0]["regularMarketPrice"]
    assert set(price) == {"raw", "fmt"}
    missing = await client.get("/v7/finance/quote", params={"crumb": crumb}, headers=headers)
    assert missing.status_code == 400


async def test_quote_summary_modules(client: httpx.AsyncClient) -> None:
    cookie, crumb = await session(client)
    headers = {"cookie": f"A3={cookie}"}
    answer = await client.get(
        "/v10/finance/quoteSummary/SPY",
        params={"modules": "price,financialData,nosuchmodule", "crumb": crumb, "formatted": "false"},
        headers=headers,
    )
    [result] = answer.json()["quoteSummary"]["result"]
    assert set(result) == {"price"}  # an ETF has no financialData; unknown modules are left out
    none = await client.get("/v10/finance/quoteSummary/SPY", params={"crumb": crumb}, headers=headers)
    assert none.status_code == 400
    unknown = await client.get(
        "/v10/finance/quoteSummary/NOSUCH", params={"modules": "price", "crumb": crumb}, headers=headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["quoteSummary"]["error"]["description"] == "Quote not found for symbol: NOSUCH"


async def test_the_throttle_answers_plain_too_many_requests(client: httpx.AsyncClient) -> None:
    set_limit = await client.post("/__mock__/yahoo_finance/throttle", json={"limit": 1, "window": 60})
    assert set_limit.json() == {"limit": 1, "window": 60.0, "throttled": 0}
    assert (await client.get("/v1/finance/search", params={"q": "apple"})).status_code == 200
    throttled = await client.get("/v1/finance/search", params={"q": "apple"})
    assert throttled.status_code == 429 and throttled.text == "Too Many Requests"
    assert "retry-after" not in throttled.headers
    bad = await client.post("/__mock__/yahoo_finance/throttle", json={"limit": -2})
    assert bad.status_code == 400


async def test_timeseries_answers_known_types_and_meta_for_the_rest(client: httpx.AsyncClient) -> None:
    answer = await client.get(
        "/ws/fundamentals-timeseries/v1/finance/timeseries/AAPL",
        params={"type": "trailingPegRatio,annualNetIncome"},
    )
    peg, other = answer.json()["timeseries"]["result"]
    assert (
        peg["meta"] == {"symbol": ["AAPL"], "type": ["trailingPegRatio"]}
        and peg["trailingPegRatio"][0]["reportedValue"]["raw"] > 0
    )
    assert other == {"meta": {"symbol": ["AAPL"], "type": ["annualNetIncome"]}}
