"""The connector against the Yahoo Finance mock (in-process): windows, intervals, session, throttling, input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from portico.connectors.yahoo_finance import SPEC, YahooFinanceConnector, rate_limit_policy
from portico.errors import ConfigurationError, NotFound, NotSupported, PayloadRejected, RateLimited
from portico.models import BarInterval, CorporateActionType
from portico.sdk import ConnectorContext
from tests.connectors.yahoo_finance.conftest import PINNED, YahooHarness

NY = ZoneInfo("America/New_York")
CHART = "/v8/finance/chart/{symbol}"


async def test_daily_bars_with_a_limit_end_at_the_last_session(yahoo: YahooHarness) -> None:
    bars = await yahoo.connector().get_bars("AAPL", BarInterval.DAY, limit=5)
    assert [b.timestamp for b in bars] == [datetime(2026, 11, d, tzinfo=NY) for d in (16, 17, 18, 19, 20)]
    assert all(b.adjusted_close is not None and b.currency == "USD" for b in bars)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)


async def test_the_split_and_the_dividend_sit_on_their_daily_bars(yahoo: YahooHarness) -> None:
    bars = await yahoo.connector().get_bars(
        "AAPL", BarInterval.DAY, start=datetime(2024, 12, 30, tzinfo=NY), end=datetime(2025, 1, 14, tzinfo=NY)
    )
    by_day = {b.timestamp.date(): b for b in bars}
    assert by_day[date(2025, 1, 2)].split_coefficient == Decimal(4)
    assert by_day[date(2025, 1, 13)].dividend == Decimal("0.77")
    assert [d for d, b in by_day.items() if b.dividend or b.split_coefficient] == [
        date(2025, 1, 2),
        date(2025, 1, 13),
    ]
    assert min(by_day) == date(2024, 12, 30) and max(by_day) == date(2025, 1, 14)


async def test_adjusted_bars_close_at_the_adjusted_close(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    window = {"start": datetime(2025, 1, 6, tzinfo=NY), "end": datetime(2025, 1, 10, tzinfo=NY)}
    raw = await connector.get_bars("AAPL", BarInterval.DAY, **window)
    adjusted = await connector.get_bars("AAPL", BarInterval.DAY, adjusted=True, **window)
    assert [b.close for b in adjusted] == [b.adjusted_close for b in adjusted]
    assert all(
        a.close < r.close for a, r in zip(adjusted, raw, strict=True)
    )  # dividends follow every one of them


async def test_thirty_minute_bars_are_fifteen_minute_pairs(yahoo: YahooHarness) -> None:
    bars = await yahoo.connector().get_bars("MSFT", BarInterval.MIN_30, limit=13)
    # the 13 half hours of Friday's session, 09:30 to 15:30 New York (14:30 to 20:30 UTC in November)
    assert [b.timestamp for b in bars] == [
        datetime(2026, 11, 20, 14, 30, tzinfo=UTC) + timedelta(minutes=30 * i) for i in range(13)
    ]
    assert all(b.interval is BarInterval.MIN_30 for b in bars)
    [entry] = yahoo.app.journal.entries(path="/v8/finance/chart/MSFT")
    assert "interval=15m" in entry.query


async def test_one_minute_history_is_fetched_a_week_at_a_time(yahoo: YahooHarness) -> None:
    bars = await yahoo.connector().get_bars("AAPL", BarInterval.MIN_1, start=PINNED - timedelta(days=10))
    # the sessions of 11 to 20 November 2026: eight weekdays, 390 minutes each
    assert len(bars) == 8 * 390
    assert len({b.timestamp for b in bars}) == len(bars)
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    assert yahoo.calls("/v8/finance/chart/AAPL") == 2


async def test_intraday_windows_older_than_yahoo_keeps_are_refused_before_calling(
    yahoo: YahooHarness,
) -> None:
    connector = yahoo.connector()
    with pytest.raises(NotSupported, match="last 30 days only"):
        await connector.get_bars("AAPL", BarInterval.MIN_1, start=PINNED - timedelta(days=40))
    with pytest.raises(NotSupported, match="last 60 days only"):
        await connector.get_bars("AAPL", BarInterval.MIN_5, start=PINNED - timedelta(days=61))
    assert yahoo.calls("/v8/finance/chart/AAPL") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "AA PL"}, "is not a Yahoo symbol"),
        ({"symbol": "../v7/finance/quote"}, "is not a Yahoo symbol"),
        ({"symbol": ""}, "is not a Yahoo symbol"),
        ({"start": datetime(2025, 1, 2)}, "start must carry a time zone"),
        ({"start": PINNED - timedelta(days=3), "end": PINNED - timedelta(days=5)}, "is after end"),
        ({"limit": -1}, "limit must not be negative"),
        ({"interval": "7min"}, "unknown bar interval '7min'"),
    ],
)
async def test_bad_bar_requests_get_clear_errors(
    yahoo: YahooHarness, kwargs: dict[str, object], message: str
) -> None:
    args = {"symbol": "AAPL", **kwargs}
    symbol = args.pop("symbol")
    with pytest.raises(PayloadRejected, match=message):
        await yahoo.connector().get_bars(symbol, **args)  # type: ignore[arg-type]
    assert len(yahoo.app.journal.entries()) == 0


async def test_an_unknown_symbol_is_not_found(yahoo: YahooHarness) -> None:
    with pytest.raises(NotFound, match="symbol may be delisted"):
        await yahoo.connector().get_bars("NOSUCH")


async def test_corporate_actions_are_the_split_and_dividends(yahoo: YahooHarness) -> None:
    actions = await yahoo.connector().get_corporate_actions(
        "AAPL", start=datetime(2024, 12, 1, tzinfo=UTC), end=datetime(2025, 2, 1, tzinfo=UTC)
    )
    assert [(a.action_type, a.ex_date) for a in actions] == [
        (CorporateActionType.SPLIT, date(2025, 1, 2)),
        (CorporateActionType.CASH_DIVIDEND, date(2025, 1, 13)),
    ]
    split, dividend = actions
    assert (split.ratio_from, split.ratio_to) == (Decimal(1), Decimal(4))
    assert dividend.cash_amount == Decimal("0.77") and dividend.currency == "USD"


async def test_all_corporate_actions_ask_for_the_whole_history(yahoo: YahooHarness) -> None:
    actions = await yahoo.connector().get_corporate_actions("AAPL")
    dividends = [a for a in actions if a.action_type is CorporateActionType.CASH_DIVIDEND]
    assert len(dividends) >= 11  # quarterly since January 2024
    [entry] = yahoo.app.journal.entries(path="/v8/finance/chart/AAPL")
    assert "range=max" in entry.query and "events=div%2Csplits" in entry.query


async def test_quotes_use_one_session_for_concurrent_calls(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    results = await asyncio.gather(*(connector.get_latest_quotes(["AAPL", "MSFT", "IBM"]) for _ in range(5)))
    assert all(list(r) == ["AAPL", "MSFT", "IBM"] for r in results)
    assert yahoo.calls("/") == 1 and yahoo.calls("/v1/test/getcrumb") == 1
    quote = results[0]["IBM"]
    assert quote.bid_price is not None and quote.ask_price is not None and quote.bid_price <= quote.ask_price
    assert quote.timestamp == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)  # the close of the last session


async def test_cookie_and_crumb_stay_out_of_call_records_and_errors(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    await connector.get_latest_quotes(["AAPL"])
    [(cookie, (crumb, _))] = yahoo.mock.crumbs.items()
    yahoo.mock.expire_crumbs()
    yahoo.mock.rate_limit = 0  # the refresh is throttled: the call fails after its retries
    with pytest.raises(RateLimited) as caught:
        await connector.get_latest_quotes(["MSFT"])
    texts = [repr(r) for r in yahoo.records] + [
        str(caught.value),
        repr(caught.value),
        repr(connector.client.session),
    ]
    assert yahoo.records and all(crumb not in t and cookie not in t for t in texts)
    assert {r.endpoint for r in yahoo.records} == {"GET /v7/finance/quote"}


async def test_an_expired_crumb_is_replaced_without_failing_the_call(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    await connector.get_latest_quotes(["AAPL"])
    yahoo.mock.expire_crumbs()
    quotes = await connector.get_latest_quotes(["AAPL"])
    assert "AAPL" in quotes
    assert connector.client.session.refreshes == 2
    statuses = [e.status for e in yahoo.app.journal.entries(path="/v7/finance/quote")]
    assert statuses == [200, 401, 200]


async def test_a_crumb_past_its_lifetime_is_replaced(yahoo_factory: Callable[..., YahooHarness]) -> None:
    harness = yahoo_factory(crumb_ttl=600)
    connector = harness.connector()
    await connector.get_fundamentals("IBM")
    harness.advance(700)
    fundamentals = await connector.get_fundamentals("IBM")
    assert fundamentals.name == "International Business Machines Corporation"
    assert connector.client.session.refreshes == 2


async def test_yahoos_throttle_is_rate_limited_after_the_retries(yahoo: YahooHarness) -> None:
    yahoo.mock.rate_limit = 0
    with pytest.raises(RateLimited, match="Too Many Requests"):
        await yahoo.connector().get_bars("AAPL", limit=5)
    assert yahoo.calls("/v8/finance/chart/AAPL") == 3
    assert yahoo.mock.throttled == 3
    assert len(yahoo.clock.sleeps) == 2


async def test_the_throttle_lifts_as_its_window_passes(yahoo: YahooHarness) -> None:
    yahoo.mock.rate_limit, yahoo.mock.rate_window = 1, 0.5
    connector = yahoo.connector()
    await connector.get_bars("AAPL", limit=2)
    bars = await connector.get_bars(
        "MSFT", limit=2
    )  # 429 first, then the (seeded) backoff outlasts the window
    assert len(bars) == 2
    assert yahoo.mock.throttled == 1
    assert len(yahoo.clock.sleeps) == 1 and yahoo.clock.sleeps[0] > 0.5


async def test_fundamentals_and_statements(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    fundamentals = await connector.get_fundamentals("IBM")
    assert fundamentals.symbol == "IBM" and fundamentals.exchange == "NYSE" and fundamentals.currency == "USD"
    assert fundamentals.market_capitalization is not None and fundamentals.market_capitalization > 0
    with pytest.raises(NotSupported, match="company figures only"):
        await connector.get_fundamentals("IBM", statements=True)
    with pytest.raises(NotFound, match="Quote not found for symbol: NOSUCH"):
        await connector.get_fundamentals("NOSUCH")


async def test_search(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    found = await connector.search_instruments("Micro", limit=5)
    assert [i.symbol for i in found] == ["MSFT"]
    with pytest.raises(PayloadRejected, match="search text is empty"):
        await connector.search_instruments("   ")
    with pytest.raises(PayloadRejected, match="limit must be at least 1"):
        await connector.search_instruments("apple", limit=0)


async def test_quotes_need_symbols(yahoo: YahooHarness) -> None:
    with pytest.raises(PayloadRejected, match="no symbols given"):
        await yahoo.connector().get_latest_quotes([])


async def test_the_health_check_reads_one_chart_and_reports_throttling(yahoo: YahooHarness) -> None:
    connector = yahoo.connector()
    result = await connector.check()
    assert result.ok and "research use" in result.detail
    yahoo.mock.rate_limit = 0
    throttled = await connector.check()
    assert not throttled.ok and throttled.rate_limited_until is not None
    assert yahoo.calls("/v8/finance/chart/SPY") == 2  # never retried


def test_the_manifest_says_the_api_is_unofficial_and_for_research() -> None:
    assert "no official API" in SPEC.description and "research only" in SPEC.description
    [environment] = SPEC.environments
    assert not environment.live_money and "no SLA" in environment.description
    assert set(environment.urls) == {"query1", "query2", "cookie"}


def test_throttling_follows_requests_per_minute() -> None:
    policy = YahooFinanceConnector.throttling_for({"requests_per_minute": 60})
    assert [(w.limit, w.period) for w in policy.windows] == [(10, 10.0), (60, 60.0), (1000, 3600.0)]
    default = YahooFinanceConnector.throttling_for({})
    assert [(w.limit, w.period) for w in default.windows] == [(5, 10.0), (30, 60.0), (1000, 3600.0)]
    with pytest.raises(ConfigurationError, match="requests_per_minute"):
        YahooFinanceConnector.throttling_for({"requests_per_minute": 0})
    with pytest.raises(ConfigurationError, match="between 1 and 600"):
        rate_limit_policy(601)


def test_unknown_connection_keys_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="systems.yahoo.connection.crumb: unknown key"):
        ConnectorContext.for_testing(YahooFinanceConnector, system_id="yahoo", connection={"crumb": "x"})
