"""Faithfulness: alpaca-py, the vendor's own SDK, works unchanged against the mock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import NewsDataStream, StockDataStream
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)
from alpaca.trading.stream import TradingStream

from portico.mocks import RunningMock
from portico.testing import wait_for_async


def _trading(running: RunningMock) -> TradingClient:
    return TradingClient("PKTEST", "secret", url_override=running.base_url)


def test_account_orders_and_positions(running: RunningMock) -> None:
    client = _trading(running)
    account = client.get_account()
    assert account.cash == "100000.00" and account.status.value == "ACTIVE"
    order = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="cid-1")
    )
    assert order.status is OrderStatus.FILLED and order.filled_qty == "10"
    assert client.get_order_by_id(order.id).client_order_id == "cid-1"
    assert client.get_order_by_client_id("cid-1").id == order.id
    position = client.get_open_position("AAPL")
    assert position.qty == "10" and position.avg_entry_price == order.filled_avg_price
    assert [p.symbol for p in client.get_all_positions()] == ["AAPL"]

    limit = client.submit_order(
        LimitOrderRequest(symbol="MSFT", qty=2, limit_price=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC)
    )
    assert limit.status is OrderStatus.NEW
    replaced = client.replace_order_by_id(limit.id, ReplaceOrderRequest(limit_price=2, qty=3))
    assert replaced.replaces == limit.id and replaced.limit_price == "2"
    assert client.get_order_by_id(limit.id).status is OrderStatus.REPLACED
    client.submit_order(StopOrderRequest(symbol="AAPL", qty=1, stop_price=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC))
    client.submit_order(TrailingStopOrderRequest(symbol="AAPL", qty=1, trail_percent=5, side=OrderSide.SELL, time_in_force=TimeInForce.GTC))
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert len(open_orders) == 3
    assert len(client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["MSFT"]))) == 2
    cancel_one = open_orders[0]
    client.cancel_order_by_id(cancel_one.id)
    assert client.get_order_by_id(cancel_one.id).status is OrderStatus.CANCELED
    statuses = client.cancel_orders()
    assert len(statuses) == 2 and {s.status for s in statuses} == {200}

    closed = client.close_position("AAPL", ClosePositionRequest(percentage="50"))
    assert closed.qty == "5" and closed.side is OrderSide.SELL
    results = client.close_all_positions(cancel_orders=True)
    assert [r.symbol for r in results] == ["AAPL"]
    assert client.get_all_positions() == []


def test_errors_have_alpaca_codes(running: RunningMock) -> None:
    client = _trading(running)
    with pytest.raises(APIError) as err:
        client.get_order_by_id("4b8a4b5e-0000-4000-8000-000000000000")
    assert (err.value.status_code, err.value.code) == (404, 40410000)
    with pytest.raises(APIError) as err:
        client.submit_order(MarketOrderRequest(symbol="SPY", qty=100_000, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    assert (err.value.status_code, err.value.code) == (403, 40310000)
    client.submit_order(MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="dup"))
    with pytest.raises(APIError) as err:
        client.submit_order(MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="dup"))
    assert err.value.status_code == 422 and "unique" in err.value.message
    bad = TradingClient("PKTEST", "wrong", url_override=running.base_url)
    with pytest.raises(APIError) as err:
        bad.get_account()
    assert err.value.status_code == 401


def test_reference_endpoints(running: RunningMock) -> None:
    client = _trading(running)
    clock = client.get_clock()
    assert clock.is_open and clock.next_close > clock.timestamp
    days = client.get_calendar(GetCalendarRequest(start=datetime(2026, 1, 5).date(), end=datetime(2026, 1, 11).date()))
    assert [d.date.isoformat() for d in days] == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09"]
    assert days[0].open.hour == 9 and days[0].open.minute == 30
    asset = client.get_asset("AAPL")
    assert asset.symbol == "AAPL" and asset.tradable
    assert client.get_asset(str(asset.id)).symbol == "AAPL"
    assert any(a.symbol == "MSFT" for a in client.get_all_assets())
    config = client.get_account_configurations()
    assert config.fractional_trading is True


def test_activities_via_raw_api(running: RunningMock) -> None:
    client = _trading(running)
    client.submit_order(MarketOrderRequest(symbol="IBM", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    activities = client.get("/account/activities/FILL")
    assert isinstance(activities, list) and activities[0]["activity_type"] == "FILL"
    assert activities[0]["symbol"] == "IBM" and activities[0]["qty"] == "3"


def test_historical_data_with_pagination(running: RunningMock) -> None:
    client = StockHistoricalDataClient("PKTEST", "secret", url_override=running.base_url)
    start = datetime(2025, 6, 2, tzinfo=UTC)
    daily = client.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Day, start=start))
    assert len(daily.data["AAPL"]) == len(daily.data["MSFT"]) > 100
    for bar in daily.data["AAPL"]:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    # minute bars across several pages (the SDK follows next_page_token until its limit)
    minute = client.get_stock_bars(
        StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame(5, TimeFrameUnit.Minute), start=datetime(2025, 12, 29, tzinfo=UTC), limit=400)
    )
    stamps = [b.timestamp for b in minute.data["AAPL"]]
    # four sessions of 78 bars (New Year's Day is an NYSE holiday), then 10:00 New York on the mock's
    # Monday (the last bar still forming)
    assert len(stamps) == 4 * 78 + 7 and stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    trades = client.get_stock_trades(StockTradesRequest(symbol_or_symbols="AAPL", start=datetime(2025, 12, 29, tzinfo=UTC), limit=12000))
    # 12,000 trades take two pages (10,000 is the SDK's page size): the token resumes without gaps
    trade_stamps = [t.timestamp for t in trades.data["AAPL"]]
    assert len(trade_stamps) == 12000 and trade_stamps == sorted(trade_stamps) and len(set(trade_stamps)) == 12000
    assert running.app.journal.count("GET", "/v2/stocks/trades") == 2
    quotes = client.get_stock_quotes(StockQuotesRequest(symbol_or_symbols="TSLA", start=datetime(2026, 1, 5, tzinfo=UTC), limit=50))
    assert all(q.bid_price < q.ask_price for q in quotes.data["TSLA"])
    latest = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "TSLA"]))
    assert set(latest) == {"AAPL", "TSLA"}
    assert client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="AAPL"))["AAPL"].price > 0
    assert client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))["AAPL"].close > 0
    snapshot = client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["AAPL"]))["AAPL"]
    assert snapshot.daily_bar is not None and snapshot.previous_daily_bar is not None
    assert snapshot.latest_trade is not None and snapshot.latest_trade.price > 0


async def test_trade_updates_stream(running: RunningMock) -> None:
    stream = TradingStream("PKTEST", "secret", url_override=running.base_url.replace("http", "ws") + "/stream")
    updates: list[TradeUpdate] = []

    async def on_update(update: TradeUpdate) -> None:
        updates.append(update)

    stream.subscribe_trade_updates(on_update)
    task = asyncio.create_task(stream._run_forever())
    try:
        await wait_for_async(lambda: stream._running, message="trade stream never authorised")
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/stream")[0].messages) >= 2)
        client = _trading(running)
        await asyncio.to_thread(
            client.submit_order,
            MarketOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="stream-1"),
        )
        await wait_for_async(lambda: len(updates) >= 2, message=f"updates: {updates}")
    finally:
        # the SDK's own stop_ws polls for up to 5 s; cancelling and closing is immediate
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.close()
    assert [u.event for u in updates[:2]] == ["new", "fill"]
    assert updates[1].order.client_order_id == "stream-1" and updates[1].price and updates[1].position_qty == 2


async def test_market_data_stream_speaks_msgpack(running: RunningMock) -> None:
    url = running.base_url.replace("http", "ws") + "/v2/iex"
    stream = StockDataStream("PKTEST", "secret", url_override=url)
    got: dict[str, list[Any]] = {"t": [], "q": [], "b": []}

    async def on_trade(trade: Any) -> None:
        got["t"].append(trade)

    async def on_quote(quote: Any) -> None:
        got["q"].append(quote)

    async def on_bar(bar: Any) -> None:
        got["b"].append(bar)

    stream.subscribe_trades(on_trade, "AAPL")
    stream.subscribe_quotes(on_quote, "AAPL", "MSFT")
    stream.subscribe_bars(on_bar, "AAPL")
    task = asyncio.create_task(stream._run_forever())
    try:
        await wait_for_async(lambda: got["t"] and len({q.symbol for q in got["q"]}) == 2 and got["b"], timeout=15)
        # a new minute on the simulated clock brings the next bar
        before = len(got["b"])
        running.app.clock.advance(60)
        await wait_for_async(lambda: len(got["b"]) > before, timeout=15)
    finally:
        # the SDK's own stop_ws polls for up to 5 s; cancelling and closing is immediate
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.close()
    trade = got["t"][0]
    assert trade.symbol == "AAPL" and trade.price > 0 and trade.timestamp.tzinfo is not None
    bar = got["b"][-1]
    assert bar.symbol == "AAPL" and bar.low <= bar.close <= bar.high
    assert bar.timestamp == running.app.clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    headers = running.app.journal.entries("WS", "/v2/iex")[0].headers
    assert headers["content-type"] == "application/msgpack"


async def test_news_stream_with_alpaca_pys_news_data_stream(running: RunningMock) -> None:
    from portico.mocks._kit._news import NewsSource

    url = running.base_url.replace("http", "ws") + "/v1beta1/news"
    stream = NewsDataStream("PKTEST", "secret", url_override=url)
    got: list[Any] = []

    async def on_news(item: Any) -> None:
        got.append(item)

    stream.subscribe_news(on_news, "AAPL")
    start = running.app.clock.now()
    (latest,) = NewsSource(11).articles(["AAPL"], start=None, end=None, now=start, limit=1)
    task = asyncio.create_task(stream._run_forever())
    try:
        await wait_for_async(lambda: len(got) == 1, timeout=15)
        running.app.clock.advance(86400)
        later = [a for a in NewsSource(11).articles(["AAPL"], start=start, end=None, now=start + timedelta(days=1),
                                                     newest_first=False) if a.published_at > start]  # fmt: skip
        await wait_for_async(lambda: len(got) == 1 + len(later), timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.close()
    assert [n.id for n in got] == [a.id for a in [latest, *later]]
    first = got[0]
    assert (first.headline, first.url, first.symbols, first.source) == (
        latest.headline, latest.url, ["AAPL"], latest.publisher.lower()
    )  # fmt: skip
    assert first.created_at == latest.published_at  # a msgpack Timestamp, as the SDK reads it
    headers = running.app.journal.entries("WS", "/v1beta1/news")[0].headers
    assert headers["content-type"] == "application/msgpack"
