"""The vendor's own client, ``massive`` (formerly ``polygon-api-client``), unchanged against the mock over TCP.

``RESTClient(base=...)`` is the client's documented base-URL argument; ``retries=0`` keeps urllib3 from
sleeping through retries of the 429 the free plan earns. ``WebSocketClient(feed="127.0.0.1:PORT",
secure=False)`` builds ``ws://127.0.0.1:PORT/stocks``, the mock's stream path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import urllib3
from massive import RESTClient, WebSocketClient
from massive.exceptions import AuthError as MassiveAuthError
from massive.exceptions import BadResponse
from massive.websocket.models import EquityAgg, EquityQuote, EquityTrade
from urllib3.exceptions import MaxRetryError

from portico.mocks import RunningMock, start_mock
from portico.mocks._kit import MockClock
from portico.mocks.polygon import create_app

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 New York, inside the session
PAID_KEY = "paid-secret-key-1"
FREE_KEY = "free-secret-key-2"


@pytest.fixture
def running() -> Iterator[RunningMock]:
    app = create_app(seed=7, clock=MockClock(NOW), key_plans={FREE_KEY: "free"}, stream_interval=0.02)
    server = start_mock(app)
    try:
        yield server
    finally:
        server.stop_sync()


@pytest.fixture
def client(running: RunningMock) -> RESTClient:
    # a year of aggregates is made from a year of minute bars: seconds on a busy machine
    return RESTClient(api_key=PAID_KEY, base=running.base_url, retries=0, read_timeout=60)


def test_list_aggs_follows_next_url_across_pages(client: RESTClient, running: RunningMock) -> None:
    bars = list(client.list_aggs("AAPL", 1, "day", "2025-10-01", "2025-12-31", limit=10))
    # 2025-10-01 .. 2025-12-31 holds 64 NYSE sessions (Thanksgiving and Christmas closed)
    assert len(bars) == 64
    assert len(running.app.journal.entries("GET", None)) == 7  # 10 a page: 7 pages
    stamps = [b.timestamp for b in bars]
    assert stamps == sorted(stamps) and len(set(stamps)) == 64
    # a daily bar starts at midnight New York: 2025-10-01 04:00 UTC (EDT)
    assert stamps[0] == 1759291200000
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    # every page after the first was sent with the key in the Authorization header, never in the URL
    for entry in running.app.journal.entries("GET", None):
        assert PAID_KEY not in entry.query


def test_get_aggs_does_not_paginate_and_honours_sort_and_limit(client: RESTClient) -> None:
    newest = client.get_aggs("MSFT", 5, "minute", "2026-01-05", "2026-01-05", sort="desc", limit=3)
    assert len(newest) == 3
    # the clock stands at 10:00 New York: the newest bar is the one opening then (15:00 UTC), still forming
    assert newest[0].timestamp == int(datetime(2026, 1, 5, 15, 0, tzinfo=UTC).timestamp() * 1000)
    assert newest[1].timestamp == int(datetime(2026, 1, 5, 14, 55, tzinfo=UTC).timestamp() * 1000)
    assert newest[0].timestamp > newest[1].timestamp > newest[2].timestamp


@pytest.mark.parametrize(
    ("timespan", "multiplier", "start", "end", "count"),
    [
        ("week", 1, "2025-12-01", "2025-12-31", 5),
        ("month", 1, "2025-01-01", "2025-12-31", 12),
        ("quarter", 1, "2025-01-01", "2025-12-31", 4),
        ("year", 1, "2024-01-01", "2025-12-31", 2),
        ("hour", 1, "2026-01-02", "2026-01-02", 7),  # 09:30-16:00 in hour bars from the open
        ("second", 30, "2026-01-05", "2026-01-05", 61),  # 09:30:00 .. 10:00:00, the clock's now
    ],
)
def test_every_timespan_answers(
    client: RESTClient, timespan: str, multiplier: int, start: str, end: str, count: int
) -> None:
    bars = client.get_aggs("SPY", multiplier, timespan, start, end, limit=50000)
    assert len(bars) == count


def test_grouped_daily_and_previous_close_agree(client: RESTClient) -> None:
    grouped = {g.ticker: g for g in client.get_grouped_daily_aggs("2026-01-02")}
    previous = client.get_previous_close_agg("AAPL")
    assert len(previous) == 1 and previous[0].ticker == "AAPL"
    # the previous session of Monday 2026-01-05 is Friday 2026-01-02
    assert grouped["AAPL"].close == previous[0].close
    assert grouped["AAPL"].timestamp == previous[0].timestamp == 1767330000000
    assert {"AAPL", "MSFT", "SPY"} <= set(grouped)


def test_last_trade_and_last_quote(client: RESTClient) -> None:
    trade = client.get_last_trade("AAPL")
    quote = client.get_last_quote("AAPL")
    assert trade.ticker == quote.ticker == "AAPL"
    assert trade.price > 0 and trade.size > 0
    assert quote.bid_price < quote.ask_price
    # nanosecond SIP stamps, at or before the mock's now
    assert 0 < NOW.timestamp() * 1e9 - trade.sip_timestamp < 10e9
    assert abs(trade.price - (quote.bid_price + quote.ask_price) / 2) < 1


def test_trades_and_quotes_page_by_timestamp(client: RESTClient) -> None:
    trades = list(
        client.list_trades("AAPL", timestamp_gte="2026-01-05", order="asc", sort="timestamp", limit=50)
    )
    # 09:30:00 to 10:00:00 every 7 seconds: 258 prints
    assert len(trades) == 258
    stamps = [t.sip_timestamp for t in trades]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    quotes = list(client.list_quotes("AAPL", timestamp="2026-01-05", order="desc", limit=100))
    # every 5 seconds from 09:30:00; the 10:00:00 quote is stamped 32 ms after the clock, so not yet
    assert len(quotes) == 360
    assert quotes[0].sip_timestamp > quotes[-1].sip_timestamp
    assert all(q.bid_price <= q.ask_price for q in quotes)


def test_snapshots(client: RESTClient) -> None:
    many = client.get_snapshot_all("stocks", ["AAPL", "MSFT"])
    assert [s.ticker for s in many] == ["AAPL", "MSFT"]
    one = client.get_snapshot_ticker("stocks", "AAPL")
    assert one.ticker == "AAPL"
    assert one.prev_day.close > 0 and one.last_trade.price > 0 and one.last_quote.ask_price > 0
    assert round(one.last_trade.price - one.prev_day.close, 4) == one.todays_change


def test_reference_tickers_page_and_details(client: RESTClient) -> None:
    tickers = list(client.list_tickers(market="stocks", limit=5))
    # the default universe holds 21 tickers, listed in ticker order five a page
    assert len(tickers) == 21
    assert [t.ticker for t in tickers[:3]] == ["AAPL", "AMD", "AMZN"]
    etfs = [t.ticker for t in client.list_tickers(type="ETF", limit=100)]
    assert etfs == ["IWM", "QQQ", "SPY"]
    details = client.get_ticker_details("AAPL")
    assert details.ticker == "AAPL" and details.name == "Apple Inc."
    assert details.primary_exchange == "XNAS" and details.market_cap > 0
    assert details.address.city == "NEW YORK"


def test_dividends_splits_news_and_market_status(client: RESTClient) -> None:
    dividends = list(client.list_dividends(ticker="AAPL", limit=2))
    assert dividends and all(d.ticker == "AAPL" and d.cash_amount > 0 for d in dividends)
    ex_dates = [d.ex_dividend_date for d in dividends]
    assert ex_dates == sorted(ex_dates, reverse=True)  # newest first, the vendor's default order
    assert all(d.frequency == 4 and d.dividend_type == "CD" for d in dividends)
    splits = list(client.list_splits(limit=100))
    assert all(s.split_from == 1 and s.split_to == 4 for s in splits)
    news = list(client.list_ticker_news(ticker="AAPL", limit=5, published_utc_gte="2025-12-01"))
    assert news and all("AAPL" in n.tickers for n in news)
    assert all(n.published_utc >= "2025-12-01" for n in news)
    assert news[0].publisher.name == "Portico Wire"
    status = client.get_market_status()
    assert status.market == "open" and status.exchanges.nasdaq == "open"
    assert status.server_time == "2026-01-05T10:00:00-05:00"


def test_errors_reach_the_client_as_the_vendor_sends_them(running: RunningMock) -> None:
    client = RESTClient(api_key=PAID_KEY, base=running.base_url, retries=0)
    with pytest.raises(BadResponse, match="cannot be a time that occurs before"):
        client.get_aggs("AAPL", 1, "day", "2026-01-05", "2025-01-05")
    with pytest.raises(BadResponse, match="NOT_FOUND"):
        client.get_ticker_details("NOSUCH")
    free = RESTClient(api_key=FREE_KEY, base=running.base_url, retries=0)
    with pytest.raises(BadResponse, match="NOT_AUTHORIZED"):
        free.get_last_quote("AAPL")  # quotes are not in the free plan


def test_data_freshness_follows_the_plan(client: RESTClient, running: RunningMock) -> None:
    live = client.get_aggs("AAPL", 1, "minute", "2026-01-05", "2026-01-05", raw=True).json()
    assert live["status"] == "OK" and live["results"][-1]["t"] == 1767625200000  # 10:00 New York
    running.app.mock.plans.set_plan("starter-plan-key", "starter")
    starter = RESTClient(api_key="starter-plan-key", base=running.base_url, retries=0)
    delayed = starter.get_aggs("AAPL", 1, "minute", "2026-01-05", "2026-01-05", raw=True).json()
    assert delayed["status"] == "DELAYED" and delayed["results"][-1]["t"] == 1767624300000  # 09:45
    running.app.mock.plans.set_plan("eod-plan-key", "free")
    free = RESTClient(api_key="eod-plan-key", base=running.base_url, retries=0)
    with pytest.raises(BadResponse, match="today's data before end of day"):
        free.get_aggs("AAPL", 1, "day", "2026-01-02", "2026-01-05")
    assert [a.timestamp for a in free.get_aggs("AAPL", 1, "day", "2026-01-01", "2026-01-02")] == [
        1767330000000
    ]


def test_free_plan_is_refused_past_five_calls_a_minute(running: RunningMock) -> None:
    key = "free-burst-key"
    running.app.mock.plans.set_plan(key, "free")
    free = RESTClient(api_key=key, base=running.base_url, retries=0)
    for _ in range(5):
        free.get_previous_close_agg("AAPL")
    # the client's urllib3 retry treats 429 as retryable: with retries=0 it surfaces as MaxRetryError,
    # not BadResponse, exactly as against the vendor
    with pytest.raises(MaxRetryError, match="too many 429 error responses"):
        free.get_previous_close_agg("AAPL")
    answer = urllib3.request(
        "GET",
        f"{running.base_url}/v2/aggs/ticker/AAPL/prev",
        headers={"Authorization": f"Bearer {key}"},
        retries=False,
    )
    assert answer.status == 429
    body = answer.json()
    assert body["status"] == "ERROR" and "maximum requests per minute" in body["error"] and body["request_id"]
    running.app.clock.advance(61)  # the window slides on the mock's clock
    assert free.get_previous_close_agg("AAPL")[0].ticker == "AAPL"


async def _collect(client: WebSocketClient, wanted: int, timeout: float = 10.0) -> list[object]:
    got: list[object] = []
    done = asyncio.Event()

    async def handle(messages: list[object]) -> None:
        got.extend(messages)
        if len(got) >= wanted:
            done.set()

    task = asyncio.create_task(client.connect(handle))
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return got


async def test_websocket_client_authenticates_subscribes_and_streams(running: RunningMock) -> None:
    port = running.port
    ws = WebSocketClient(api_key=PAID_KEY, feed=f"127.0.0.1:{port}", market="stocks", secure=False,
                         subscriptions=["T.AAPL", "Q.AAPL", "A.MSFT"])  # fmt: skip
    got = await _collect(ws, 30)
    trades = [m for m in got if isinstance(m, EquityTrade)]
    quotes = [m for m in got if isinstance(m, EquityQuote)]
    aggs = [m for m in got if isinstance(m, EquityAgg)]
    assert trades and quotes and aggs
    assert {t.symbol for t in trades} == {"AAPL"} and {a.symbol for a in aggs} == {"MSFT"}
    assert all(q.bid_price <= q.ask_price for q in quotes)
    assert all(a.event_type == "A" for a in aggs)


async def test_websocket_client_raises_auth_error_for_a_plan_without_the_stream(running: RunningMock) -> None:
    ws = WebSocketClient(api_key=FREE_KEY, feed=f"127.0.0.1:{running.port}", market="stocks", secure=False,
                         subscriptions=["T.AAPL"])  # fmt: skip

    async def ignore(_messages: list[object]) -> None:
        return None

    with pytest.raises(MassiveAuthError, match="websocket access"):
        await asyncio.wait_for(ws.connect(ignore), 10)


async def test_websocket_client_reconnects_and_resubscribes_after_a_drop(running: RunningMock) -> None:
    stream = running.app.state.stream
    before = stream.connections
    running.app.faults.add({"route": "/stocks", "kind": "ws_disconnect", "after_messages": 5, "times": 1})
    ws = WebSocketClient(api_key=PAID_KEY, feed=f"127.0.0.1:{running.port}", market="stocks", secure=False,
                         subscriptions=["T.AAPL"])  # fmt: skip
    got = await _collect(ws, 20)
    assert len([m for m in got if isinstance(m, EquityTrade)]) >= 20
    assert stream.connections - before == 2  # dropped once, reconnected by the client itself
    subscribes = [m for e in running.app.journal.entries("WS", None) for m in e.messages
                  if isinstance(m, dict) and m.get("action") == "subscribe"]  # fmt: skip
    assert subscribes == [{"action": "subscribe", "params": "T.AAPL"}] * 2
