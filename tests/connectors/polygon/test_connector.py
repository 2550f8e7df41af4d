"""The connector against the mock in-process: windows, paging, limits, plans and bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from portico.clock import FakeClock
from portico.errors import AuthError, NotFound, NotSupported, PayloadRejected, RateLimited
from portico.models import BarInterval, CorporateActionType
from tests.connectors.polygon.conftest import FREE_KEY, NOW, PAID_KEY, PolygonHarness

NY = ZoneInfo("America/New_York")
AGGS = "/v2/aggs/ticker/"


async def test_daily_bars_of_a_window_follow_every_page(polygon: PolygonHarness) -> None:
    connector = polygon.connector(page_size=10)
    start = datetime(2025, 10, 1, tzinfo=NY)
    end = datetime(2025, 12, 31, 23, 59, tzinfo=NY)
    bars = await connector.get_bars("aapl", BarInterval.DAY, start=start, end=end)
    # 2025-10-01 .. 2025-12-31: 64 NYSE sessions (Thanksgiving and Christmas closed), 10 a page
    assert len(bars) == 64
    assert len(polygon.calls(AGGS)) == 7
    assert bars[0].timestamp == datetime(2025, 10, 1, tzinfo=NY)
    assert bars[-1].timestamp == datetime(2025, 12, 31, tzinfo=NY)
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    bar = bars[0]
    assert (bar.symbol, bar.interval, bar.currency, bar.source) == ("AAPL", BarInterval.DAY, "USD", "polygon")
    assert isinstance(bar.close, Decimal) and bar.low <= bar.close <= bar.high
    assert bar.trade_count and bar.trade_count > 0 and bar.vwap is not None


async def test_a_limit_asks_for_the_newest_bars_and_stops(polygon: PolygonHarness) -> None:
    connector = polygon.connector()
    bars = await connector.get_bars("MSFT", BarInterval.DAY, limit=20)
    assert len(bars) == 20
    # today's session (Monday 2026-01-05) is the newest bar, returned last
    assert bars[-1].timestamp == datetime(2026, 1, 5, tzinfo=NY)
    assert bars[-2].timestamp == datetime(2026, 1, 2, tzinfo=NY)
    [call] = polygon.calls(AGGS)
    assert "sort=desc" in call and "limit=20" in call and "adjusted=false" in call


async def test_minute_bars_end_at_the_clock(polygon: PolygonHarness) -> None:
    bars = await polygon.connector().get_bars("SPY", BarInterval.MIN_1, limit=30)
    assert len(bars) == 30
    # at 10:00 New York the newest minute bar opens at 10:00, the oldest of 30 at 09:31
    assert bars[-1].timestamp == datetime(2026, 1, 5, 10, 0, tzinfo=NY)
    assert bars[0].timestamp == datetime(2026, 1, 5, 9, 31, tzinfo=NY)
    assert {b.interval for b in bars} == {BarInterval.MIN_1}


async def test_adjusted_bars_carry_their_close_as_adjusted_close(polygon: PolygonHarness) -> None:
    bars = await polygon.connector().get_bars("IBM", BarInterval.WEEK, limit=3, adjusted=True)
    assert len(bars) == 3 and all(b.adjusted_close == b.close for b in bars)
    assert "adjusted=true" in polygon.calls(AGGS)[0]


async def test_max_pages_refuses_to_pass_a_partial_window_for_a_whole_one(polygon: PolygonHarness) -> None:
    connector = polygon.connector(page_size=5, max_pages=2)
    with pytest.raises(PayloadRejected, match="needs more than connection.max_pages=2 pages"):
        await connector.get_bars(
            "AAPL", start=datetime(2025, 10, 1, tzinfo=NY), end=datetime(2025, 12, 31, tzinfo=NY)
        )
    assert len(polygon.calls(AGGS)) == 2  # and never a third call
    # a limit the pages can satisfy is no problem: paging stops once there are enough
    bars = await connector.get_bars("AAPL", start=datetime(2025, 10, 1, tzinfo=NY), limit=10)
    assert len(bars) == 10 and len(polygon.calls(AGGS)) == 4


async def test_an_unknown_ticker_has_no_bars(polygon: PolygonHarness) -> None:
    assert await polygon.connector().get_bars("ZZZZ", limit=5) == []


async def test_trades_of_a_window_page_by_timestamp(polygon: PolygonHarness) -> None:
    connector = polygon.connector(page_size=100)
    trades = await connector.get_trades("AAPL", start=datetime(2026, 1, 5, 9, 30, tzinfo=NY), end=NOW)
    # 09:30:00 .. 10:00:00, a print every 7 seconds: 258, in three pages of 100
    assert len(trades) == 258
    assert len(polygon.calls("/v3/trades/")) == 3
    stamps = [t.timestamp for t in trades]
    assert stamps == sorted(stamps) and len(set(stamps)) == 258
    assert {t.exchange for t in trades} <= {"IEXG", "XNAS", "XNYS", "ARCX", "BATS", "EDGX"}
    assert all(t.price > 0 and t.size > 0 and t.trade_id for t in trades)


async def test_quotes_with_a_limit_are_the_newest_oldest_first(polygon: PolygonHarness) -> None:
    quotes = await polygon.connector().get_quotes("AAPL", limit=10)
    assert len(quotes) == 10
    assert quotes[0].timestamp < quotes[-1].timestamp <= NOW
    assert NOW - quotes[-1].timestamp < timedelta(seconds=5)
    assert all(
        q.bid_price is not None and q.ask_price is not None and q.bid_price <= q.ask_price for q in quotes
    )


async def test_latest_trade_and_quote(polygon: PolygonHarness) -> None:
    connector = polygon.connector()
    trades = await connector.get_latest_trades(["AAPL", "msft"])
    quotes = await connector.get_latest_quotes(["AAPL"])
    assert set(trades) == {"AAPL", "MSFT"}
    assert trades["AAPL"].symbol == "AAPL" and NOW - trades["AAPL"].timestamp < timedelta(seconds=7)
    quote = quotes["AAPL"]
    assert quote.bid_price is not None and quote.ask_price is not None
    assert quote.bid_price < quote.ask_price
    assert abs(trades["AAPL"].price - (quote.bid_price + quote.ask_price) / 2) < 1


async def test_snapshots_stamp_today_and_the_previous_session(polygon: PolygonHarness) -> None:
    snapshots = await polygon.connector().get_snapshots(["AAPL", "MSFT"])
    assert list(snapshots) == ["AAPL", "MSFT"]
    snap = snapshots["AAPL"]
    assert snap.daily_bar is not None and snap.daily_bar.timestamp == datetime(2026, 1, 5, tzinfo=NY)
    assert snap.previous_daily_bar is not None
    assert snap.previous_daily_bar.timestamp == datetime(2026, 1, 2, tzinfo=NY)
    assert snap.latest_trade is not None and snap.latest_quote is not None and snap.minute_bar is not None
    assert snap.latest_quote.previous_close == snap.previous_daily_bar.close
    assert snap.latest_quote.change == snap.latest_trade.price - snap.previous_daily_bar.close
    assert len(polygon.calls("/v2/snapshot/")) == 1  # one call for both


async def test_a_snapshot_the_vendor_leaves_out_is_not_found(polygon: PolygonHarness) -> None:
    with pytest.raises(NotFound, match="no snapshot for ZZZZ"):
        await polygon.connector().get_snapshots(["AAPL", "ZZZZ"])


async def test_grouped_daily_and_previous_close(polygon: PolygonHarness) -> None:
    connector = polygon.connector()
    grouped = await connector.get_grouped_daily(date(2026, 1, 2))
    assert {"AAPL", "MSFT", "SPY"} <= set(grouped)
    previous = await connector.get_previous_close("AAPL")
    assert previous.timestamp == datetime(2026, 1, 2, tzinfo=NY)
    assert previous.close == grouped["AAPL"].close
    assert await connector.get_grouped_daily(date(2026, 1, 4)) == {}  # a Sunday


async def test_search_lists_and_fundamentals(polygon: PolygonHarness) -> None:
    connector = polygon.connector()
    found = await connector.search_instruments("Apple")
    assert [i.symbol for i in found] == ["AAPL"]
    aapl = found[0]
    assert (aapl.exchange, aapl.currency, aapl.country) == ("XNAS", "USD", "US")
    assert aapl.figi is not None and aapl.figi.startswith("BBG")
    etfs = await connector.list_tickers(ticker_type="ETF")
    assert [i.symbol for i in etfs] == ["IWM", "QQQ", "SPY"]
    assert {i.asset_class.value for i in etfs} == {"etf"}
    everything = await polygon.connector(max_pages=50).list_tickers(limit=21)
    assert len(everything) == 21
    facts = await connector.get_fundamentals("AAPL")
    assert (facts.name, facts.exchange, facts.industry) == ("Apple Inc.", "XNAS", "ELECTRONIC COMPUTERS")
    assert facts.market_capitalization and facts.market_capitalization > 0
    assert facts.shares_outstanding and facts.shares_outstanding > 0
    with pytest.raises(NotSupported, match="financial statements"):
        await connector.get_fundamentals("AAPL", statements=True)
    with pytest.raises(NotFound, match="Ticker not found"):
        await connector.get_fundamentals("ZZZZ")


async def test_corporate_actions_are_the_mocks_dividends_and_splits(polygon: PolygonHarness) -> None:
    connector = polygon.connector()
    start, end = datetime(2023, 1, 1, tzinfo=UTC), NOW
    for symbol in ("AAPL", "DIS", "PEP", "KO"):
        actions = await connector.get_corporate_actions(symbol, start=start, end=end)
        expected = polygon.mock.generator.corporate_actions(symbol, start.date(), end.date())
        assert [(a.ex_date, a.action_type.value) for a in actions] == [(e.ex_date, e.kind) for e in expected]
        for action in actions:
            if action.action_type is CorporateActionType.SPLIT:
                assert (action.ratio_from, action.ratio_to) == (1, 4)
            else:
                assert action.cash_amount and action.cash_amount > 0 and action.currency == "USD"


async def test_news_and_market_status(polygon: PolygonHarness) -> None:
    connector = polygon.connector()
    news = await connector.get_news(["AAPL"], start=datetime(2025, 12, 1, tzinfo=UTC), limit=5)
    assert 0 < len(news) <= 5
    assert all("AAPL" in n.symbols and n.published_at >= datetime(2025, 12, 1, tzinfo=UTC) for n in news)
    assert [n.published_at for n in news] == sorted((n.published_at for n in news), reverse=True)
    assert news[0].source == "Portico Wire" and news[0].symbol_sentiment_label["AAPL"] in {
        "positive",
        "negative",
        "neutral",
    }
    assert news[0].provider == "polygon"
    status = await connector.get_market_status()
    assert status.market == "open" and status.exchanges["nyse"] == "open"
    assert status.server_time == NOW
    assert not status.early_hours and not status.after_hours


async def test_check_reports_the_market_and_the_plan(polygon: PolygonHarness) -> None:
    result = await polygon.connector().check()
    assert result.ok and result.detail == "market open (advanced plan)"


async def test_check_reports_a_refused_key(fake_clock: FakeClock) -> None:
    harness = PolygonHarness(fake_clock, known_keys_only=True)
    connector = harness.connector(key="nobody-knows-this-key")
    result = await connector.check()
    assert not result.ok and result.checks == {"reachable": True, "authenticated": False}
    assert "Unknown API Key" in result.detail
    with pytest.raises(AuthError):
        await connector.get_bars("AAPL", limit=1)
    await connector.close()


# -- plans ----------------------------------------------------------------------------------------


async def test_the_free_plan_refuses_what_it_is_not_entitled_to_without_a_call(
    polygon: PolygonHarness,
) -> None:
    connector = polygon.connector(key=FREE_KEY, plan="free")
    with pytest.raises(NotSupported, match="quotes needs at least the Polygon advanced plan"):
        await connector.get_quotes("AAPL", limit=1)
    with pytest.raises(NotSupported, match="trades needs at least the Polygon developer plan"):
        await connector.get_trades("AAPL", limit=1)
    with pytest.raises(NotSupported, match="starter"):
        await connector.get_snapshots(["AAPL"])
    with pytest.raises(NotSupported, match="WebSocket stream"):
        await anext(connector.subscribe_quotes(["AAPL"]))
    assert polygon.calls() == []  # nothing was spent of the minute's five calls


async def test_the_free_plan_is_paced_at_five_calls_a_minute(polygon: PolygonHarness) -> None:
    connector = polygon.connector(key=FREE_KEY, plan="free")
    for _ in range(6):
        await connector.get_previous_close("AAPL")
    # the sixth call waited for the window rather than spending a 429
    assert polygon.clock.now() - NOW >= timedelta(seconds=55)
    assert [e.status for e in polygon.app.journal.entries(None, None)] == [200] * 6


async def test_a_plan_set_too_high_meets_the_vendors_429(polygon: PolygonHarness) -> None:
    connector = polygon.connector(key=FREE_KEY, plan="advanced")  # the key is really on the free plan
    for _ in range(5):
        await connector.get_previous_close("AAPL")
    with pytest.raises(RateLimited, match="maximum requests per minute") as caught:
        await connector.get_previous_close("AAPL")
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert FREE_KEY not in str(caught.value) and FREE_KEY not in repr(caught.value)


async def test_the_vendors_403_for_data_outside_the_keys_plan_is_not_supported(
    polygon: PolygonHarness,
) -> None:
    connector = polygon.connector(key=FREE_KEY, plan="advanced")  # the key is really on the free plan
    with pytest.raises(NotSupported, match="not in this API key's Polygon plan") as caught:
        await connector.get_latest_quotes(["AAPL"])
    assert caught.value.venue_code == "NOT_AUTHORIZED" and caught.value.status_code == 403
    assert [e.status for e in polygon.app.journal.entries(None, None)] == [403]  # never retried


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": ""}, "is not a US stock ticker"),
        ({"symbol": "AAPL;DROP"}, "is not a US stock ticker"),
        ({"symbol": "AAPL", "interval": "2min"}, "is not a bar interval"),
        ({"symbol": "AAPL", "limit": -1}, "limit must be a non-negative integer"),
        ({"symbol": "AAPL", "start": datetime(2026, 1, 2)}, "must be timezone-aware"),
        (
            {
                "symbol": "AAPL",
                "start": datetime(2026, 1, 5, tzinfo=UTC),
                "end": datetime(2026, 1, 2, tzinfo=UTC),
            },
            "is after end",
        ),
    ],
)
async def test_bad_input_is_refused_with_a_clear_message_before_any_call(
    polygon: PolygonHarness, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(PayloadRejected, match=message):
        await polygon.connector().get_bars(**kwargs)  # type: ignore[arg-type]
    assert polygon.calls() == []


async def test_the_key_travels_in_a_header_never_in_a_url_or_a_repr(polygon: PolygonHarness) -> None:
    connector = polygon.connector(page_size=10)
    await connector.get_bars(
        "AAPL", start=datetime(2025, 12, 1, tzinfo=NY), end=datetime(2025, 12, 31, tzinfo=NY)
    )
    entries = polygon.app.journal.entries(None, None)
    assert len(entries) == 3
    assert all(PAID_KEY not in e.query and "apiKey" not in e.query for e in entries)
    assert PAID_KEY not in repr(connector) and PAID_KEY not in repr(connector.client.api)
    assert PAID_KEY not in repr(connector.context)


async def test_on_the_free_plan_bars_stop_at_the_last_closed_session(polygon: PolygonHarness) -> None:
    connector = polygon.connector(key=FREE_KEY, plan="free")
    bars = await connector.get_bars("AAPL", BarInterval.DAY, limit=5)
    # Monday 10:00 New York: today's session is running, so Friday 2026-01-02 is the newest the plan sees
    assert len(bars) == 5 and bars[-1].timestamp == datetime(2026, 1, 2, tzinfo=NY)
    with pytest.raises(NotSupported, match="today's data before end of day"):
        await connector.get_bars("AAPL", BarInterval.DAY, limit=5, end=NOW)


async def test_a_delayed_plan_sees_bars_fifteen_minutes_late(polygon: PolygonHarness) -> None:
    polygon.mock.plans.set_plan("starter-key", "starter")
    bars = await polygon.connector(key="starter-key", plan="starter").get_bars(
        "SPY", BarInterval.MIN_1, limit=3
    )
    # the clock says 10:00 New York; a 15-minute delayed plan's newest minute opened at 09:45
    assert bars[-1].timestamp == datetime(2026, 1, 5, 9, 45, tzinfo=NY)
