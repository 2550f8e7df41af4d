"""The connector against its mock: every capability, parameters on the wire, tiers and throttling."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portico.connectors.alpha_vantage import AlphaVantageConnector, rate_limit_policy
from portico.errors import ConfigurationError
from portico.models import AssetClass, BarInterval
from tests.connectors.alpha_vantage.conftest import AvHarness


def calls(av: AvHarness) -> list[dict[str, str]]:
    return [
        dict(e.query_params()) if hasattr(e, "query_params") else _params(e.query)
        for e in av.app.journal.entries()
    ]


def _params(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query))


async def test_daily_bars_compact_and_limit(av: AvHarness) -> None:
    connector = av.connector()
    bars = await connector.get_bars("ibm", BarInterval.DAY, limit=20)
    assert len(bars) == 20 and all(b.symbol == "IBM" and b.interval is BarInterval.DAY for b in bars)
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    (sent,) = calls(av)
    assert (
        sent["function"] == "TIME_SERIES_DAILY"
        and sent["outputsize"] == "compact"
        and sent["symbol"] == "IBM"
    )


async def test_daily_bars_full_when_history_is_asked(av: AvHarness) -> None:
    connector = av.connector()
    start = av.clock.now() - timedelta(days=400)
    bars = await connector.get_bars("AAPL", BarInterval.DAY, start=start)
    assert bars[0].timestamp >= start and len(bars) > 250
    assert calls(av)[0]["outputsize"] == "full"


async def test_adjusted_daily_bars_carry_splits_and_dividends(av: AvHarness) -> None:
    connector = av.connector()
    start = av.clock.now() - timedelta(days=800)
    bars = await connector.get_bars("IBM", BarInterval.DAY, start=start, adjusted=True)
    assert calls(av)[0]["function"] == "TIME_SERIES_DAILY_ADJUSTED"
    assert all(b.adjusted_close is not None and b.split_coefficient is not None for b in bars)
    (split_day,) = [i for i, b in enumerate(bars) if b.split_coefficient == 4]
    before = bars[split_day - 1]
    # as traded before a 4-for-1 split, four times the adjusted price
    assert before.adjusted_close is not None
    assert abs(before.close / before.adjusted_close - 4) < Decimal("0.01")

    bars = await connector.get_bars("AAPL", BarInterval.DAY, start=start, adjusted=True)
    paid = [i for i, b in enumerate(bars) if b.dividend and b.dividend > 0]
    assert paid and bars[paid[0] - 1].adjusted_close < bars[paid[0] - 1].close  # type: ignore[operator]
    assert bars[-1].adjusted_close == bars[-1].close


@pytest.mark.parametrize(
    ("interval", "function", "av_interval"),
    [
        (BarInterval.MIN_5, "TIME_SERIES_INTRADAY", "5min"),
        (BarInterval.HOUR_1, "TIME_SERIES_INTRADAY", "60min"),
        (BarInterval.WEEK, "TIME_SERIES_WEEKLY", None),
        (BarInterval.MONTH, "TIME_SERIES_MONTHLY", None),
    ],
)
async def test_other_intervals(
    av: AvHarness, interval: BarInterval, function: str, av_interval: str | None
) -> None:
    connector = av.connector()
    bars = await connector.get_bars("MSFT", interval, limit=10)
    assert len(bars) == 10 and all(b.interval is interval for b in bars)
    sent = calls(av)[0]
    assert sent["function"] == function and sent.get("interval") == av_interval


async def test_old_intraday_history_is_fetched_month_by_month(av: AvHarness) -> None:
    connector = av.connector()
    now = av.clock.now()
    start = now - timedelta(days=70)
    bars = await connector.get_bars("MSFT", BarInterval.HOUR_1, start=start, end=now - timedelta(days=40))
    months = [c["month"] for c in calls(av)]
    assert len(months) >= 2 and months == sorted(months)
    assert bars and all(start <= b.timestamp <= now - timedelta(days=40) for b in bars)


async def test_latest_quotes_one_call_each(av: AvHarness) -> None:
    connector = av.connector()
    quotes = await connector.get_latest_quotes(["AAPL", "msft"])
    assert set(quotes) == {"AAPL", "MSFT"}
    assert quotes["AAPL"].last_price and quotes["AAPL"].last_price > 0
    assert sorted(c["symbol"] for c in calls(av)) == ["AAPL", "MSFT"]


async def test_search_fundamentals_fx(av: AvHarness) -> None:
    connector = av.connector()
    found = await connector.search_instruments("BA", limit=3)
    assert found[0].symbol == "BA" and len(found) <= 3
    etf = await connector.search_instruments("SPY")
    assert etf[0].asset_class is AssetClass.ETF

    f = await connector.get_fundamentals("IBM", statements=True)
    assert f.symbol == "IBM" and f.market_capitalization and f.market_capitalization > 0
    assert f.income_statements and f.balance_sheets and f.cash_flows and f.earnings
    assert [c["function"] for c in calls(av)][-5:] == [
        "OVERVIEW", "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW", "EARNINGS"
    ]  # fmt: skip

    rate = await connector.get_fx_rate("eur", "usd")
    assert (rate.base, rate.quote) == ("EUR", "USD") and rate.bid is not None and rate.bid < rate.ask
    series = await connector.get_fx_series("EUR", "USD", BarInterval.DAY, limit=5)
    assert len(series) == 5 and series[0].symbol == "EUR/USD" and series[0].currency == "USD"
    with pytest.raises(ConfigurationError, match="'BTC' is not an ISO 4217"):
        await connector.get_fx_rate("BTC", "USD")


async def test_check(av: AvHarness) -> None:
    result = await av.connector().check()
    assert result.ok and result.checks == {"reachable": True, "authenticated": True}


def test_tier_throttling() -> None:
    assert [str(w) for w in rate_limit_policy("free").windows] == ["5/minute", "25/day"]
    assert [str(w) for w in rate_limit_policy("premium_150").windows] == ["150/minute"]
    assert AlphaVantageConnector.throttling_for({"tier": "premium_600"}).windows[0].limit == 600
    assert AlphaVantageConnector.throttling_for({}).windows[1].limit == 25
    with pytest.raises(ConfigurationError, match="unknown Alpha Vantage tier 'gold'"):
        AlphaVantageConnector.throttling_for({"tier": "gold"})


async def test_free_tier_is_paced_by_the_limiter_not_refused(av: AvHarness) -> None:
    connector = av.connector(key="free-pacing-key", tier="free")
    for _ in range(7):
        quote = (await connector.get_latest_quotes(["IBM"]))["IBM"]
        assert quote.last_price == Decimal(quote.last_price)
    # the limiter waited for the minute window instead of letting the vendor throttle
    outcomes = [r.outcome for r in av.records]
    assert outcomes == ["ok"] * 7 and any(r.rate_limit_wait > 0 for r in av.records)
    assert av.mock.quotas.usage("free-pacing-key")["calls_today"] == 7


async def test_check_reports_a_refusal_without_raising(av: AvHarness) -> None:
    av.mock.faults.extend([{"kind": "information"}])
    result = await av.connector().check()
    assert not result.ok and "daily quota" in result.detail and result.checks["authenticated"]


async def test_intraday_adjustment_follows_the_parameter(av: AvHarness) -> None:
    connector = av.connector()
    start = av.clock.now() - timedelta(days=700)
    daily = await connector.get_bars("IBM", BarInterval.DAY, start=start, adjusted=True)
    (split_day,) = [b.timestamp.date() for b in daily if b.split_coefficient == 4]
    assert start.date() < split_day  # a 4-for-1 split lies between those hours and now
    raw = await connector.get_bars("IBM", BarInterval.HOUR_1, start=start, end=start + timedelta(days=1))
    assert calls(av)[-1]["adjusted"] == "false" and raw
    adjusted = await connector.get_bars("IBM", BarInterval.HOUR_1, start=start, end=start + timedelta(days=1),
                                        adjusted=True)  # fmt: skip
    assert calls(av)[-1]["adjusted"] == "true"
    ratio = raw[0].close / adjusted[0].close
    assert abs(ratio - 4) < Decimal("0.05")
