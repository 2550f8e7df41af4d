"""Wire -> canonical mapping on captured, documented Alpha Vantage payloads (``data/``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portico.connectors.alpha_vantage.mapping import (
    bars_from_body,
    function_for,
    fundamentals_from_bodies,
    fx_rate_from_body,
    instruments_from_body,
    parse_timezone,
    quote_from_body,
)
from portico.errors import PayloadRejected
from portico.models import AssetClass, BarInterval

DATA = Path(__file__).parent / "data"
EASTERN = ZoneInfo("America/New_York")


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_intraday_bars_oldest_first_in_eastern_time() -> None:
    bars = bars_from_body(
        load("time_series_intraday.json"),
        function="TIME_SERIES_INTRADAY",
        symbol="MSFT",
        interval=BarInterval.MIN_1,
        av_interval="1min",
    )
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    first, last = bars[0], bars[-1]
    assert first.timestamp == datetime(2017, 12, 18, 14, 53, tzinfo=EASTERN)
    assert last.timestamp.astimezone(UTC) == datetime(2017, 12, 18, 19, 56, tzinfo=UTC)
    assert (last.open, last.high, last.low, last.close, last.volume) == (
        Decimal("86.4900"), Decimal("86.5000"), Decimal("86.4750"), Decimal("86.5000"), Decimal(10494)
    )  # fmt: skip
    assert (
        last.interval is BarInterval.MIN_1 and last.source == "alpha_vantage" and last.adjusted_close is None
    )


def test_daily_bar_is_stamped_midnight_eastern() -> None:
    (bar,) = bars_from_body(
        load("time_series_daily.json"), function="TIME_SERIES_DAILY", symbol="IBM", interval=BarInterval.DAY
    )
    assert bar.timestamp == datetime(2022, 10, 7, tzinfo=EASTERN)
    assert bar.close == Decimal("118.8200") and bar.volume == Decimal(4499672)


def test_daily_adjusted_carries_adjusted_close_dividend_and_split() -> None:
    bars = bars_from_body(
        load("time_series_daily_adjusted.json"),
        function="TIME_SERIES_DAILY_ADJUSTED",
        symbol="MSFT",
        interval=BarInterval.DAY,
    )
    assert [b.timestamp.date().isoformat() for b in bars] == ["2019-08-22", "2019-08-23", "2019-08-26"]
    bar = bars[-1]
    assert bar.adjusted_close == Decimal("135.0400")
    assert bar.dividend == Decimal("0.0000") and bar.split_coefficient == Decimal("1.0000")
    assert bar.volume == Decimal(13375355)


def test_weekly_and_monthly_keys_become_period_starts() -> None:
    body = {
        "Meta Data": {"1. Information": "Weekly Prices", "2. Symbol": "IBM", "3. Last Refreshed": "2021-10-15",
                      "4. Time Zone": "US/Eastern"},
        "Weekly Time Series": {"2021-10-15": {"1. open": "1", "2. high": "2", "3. low": "0.5", "4. close": "1.5",
                                              "5. volume": "10"}},
    }  # fmt: skip
    (bar,) = bars_from_body(body, function="TIME_SERIES_WEEKLY", symbol="IBM", interval=BarInterval.WEEK)
    assert bar.timestamp == datetime(2021, 10, 11, tzinfo=EASTERN)  # the Monday of that week
    body["Monthly Time Series"] = body.pop("Weekly Time Series")
    (bar,) = bars_from_body(body, function="TIME_SERIES_MONTHLY", symbol="IBM", interval=BarInterval.MONTH)
    assert bar.timestamp == datetime(2021, 10, 1, tzinfo=EASTERN)


def test_fx_daily_uses_the_series_time_zone_and_has_no_volume() -> None:
    (bar,) = bars_from_body(
        load("fx_daily.json"), function="FX_DAILY", symbol="EUR/USD", interval=BarInterval.DAY, currency="USD"
    )
    assert bar.timestamp == datetime(2019, 2, 22, tzinfo=timezone(timedelta(hours=8)))
    assert bar.close == Decimal("1.1329") and bar.volume == 0 and bar.currency == "USD"


def test_global_quote() -> None:
    quote = quote_from_body(load("global_quote.json"))
    assert quote.symbol == "MSFT"
    assert quote.last_price == Decimal("112.1300") and quote.previous_close == Decimal("112.7900")
    assert quote.change == Decimal("-0.6600") and quote.change_percent == Decimal("-0.5852")
    assert quote.volume == Decimal(29062853)
    assert quote.timestamp == datetime(2018, 10, 5, 16, 0, tzinfo=EASTERN)
    assert quote.bid_price is None and quote.ask_price is None


def test_symbol_search() -> None:
    found = instruments_from_body(load("symbol_search.json"))
    assert [i.symbol for i in found] == ["BA", "BABA", "6190.HKG", "BAC"]
    boeing, _, jiujiang, _ = found
    assert boeing.name == "The Boeing Company" and boeing.asset_class is AssetClass.EQUITY
    assert boeing.country == "US" and boeing.currency == "USD" and boeing.venue_ids == {"alpha_vantage": "BA"}
    assert jiujiang.country == "HK" and jiujiang.currency == "HKD"


def test_symbol_search_currency_is_iso_4217_or_unknown() -> None:
    # the documented "tesco" search: London quotes in pence (GBX, not an ISO 4217 code)
    found = instruments_from_body(load("symbol_search_tesco.json"))
    assert [(i.symbol, i.currency) for i in found] == [("TSCO.LON", None), ("TSCDF", "USD"), ("TCO2.FRK", "EUR")]


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("USD", "USD"),
        ("usd", "USD"),
        (" EUR ", "EUR"),
        # pence and other minor units: calling them GBP would misread every price a hundredfold
        ("GBX", None),
        ("GBp", None),
        ("ZAc", None),
        ("BTC", None),
        ("US Dollar", None),
        ("", None),
        ("XXX1", None),
    ],
)
def test_symbol_search_currency_codes(reported: str, expected: str | None) -> None:
    match = {**load("symbol_search.json")["bestMatches"][0], "8. currency": reported}
    (instrument,) = instruments_from_body({"bestMatches": [match]})
    assert instrument.symbol == "BA" and instrument.currency == expected


def test_exchange_rate_with_bid_and_ask() -> None:
    rate = fx_rate_from_body(load("currency_exchange_rate.json"))
    assert (rate.base, rate.quote) == ("USD", "JPY")
    assert rate.rate == Decimal("155.32700000")
    assert rate.bid == Decimal("155.32010000") and rate.ask == Decimal("155.33000000")
    assert rate.timestamp == datetime(2025, 1, 29, 4, 41, 2, tzinfo=UTC)


def test_exchange_rate_for_a_crypto_asset_is_rejected_clearly() -> None:
    with pytest.raises(PayloadRejected, match="'BTC' is not an ISO 4217 currency code"):
        fx_rate_from_body(load("currency_exchange_rate_crypto.json"))


def test_fundamentals_overview_statements_and_earnings() -> None:
    f = fundamentals_from_bodies(
        load("overview.json"), income=load("income_statement.json"), earnings=load("earnings.json")
    )
    assert f.symbol == "IBM" and f.currency == "USD" and f.exchange == "NYSE"
    assert f.market_capitalization == Decimal(114234572800) and f.pe_ratio == Decimal("14.1327")
    assert (
        f.eps == Decimal("8.811")
        and f.beta == Decimal("1.2071")
        and f.shares_outstanding == Decimal(890579008)
    )
    assert f.latest_quarter.isoformat() == "2020-06-30" and f.fiscal_year_end == "December"
    annual = [s for s in f.income_statements if s["period"] == "annual"]
    assert [s["fiscalDateEnding"] for s in annual] == ["2019-12-31", "2015-12-31"]
    assert annual[0]["totalRevenue"] == Decimal(77147000000)
    assert annual[1]["interestIncome"] is None  # the vendor writes "None"
    assert annual[0]["reportedCurrency"] == "USD"
    assert f.earnings[0] == {
        "period": "annual",
        "fiscalDateEnding": "2021-06-30",
        "reportedEPS": Decimal("4.1"),
    }
    assert f.earnings[-1]["surprisePercentage"] == Decimal("-14.8148")
    assert f.balance_sheets == [] and f.cash_flows == []


def test_malformed_row_names_its_key() -> None:
    body = load("time_series_daily.json")
    body["Time Series (Daily)"]["2022-10-07"]["4. close"] = "n/a"
    with pytest.raises(PayloadRejected) as info:
        bars_from_body(body, function="TIME_SERIES_DAILY", symbol="IBM", interval=BarInterval.DAY)
    assert info.value.field == "Time Series (Daily).2022-10-07"


def test_missing_series_key() -> None:
    with pytest.raises(PayloadRejected, match="has no 'Time Series \\(5min\\)'"):
        bars_from_body(
            load("time_series_daily.json"),
            function="TIME_SERIES_INTRADAY",
            symbol="IBM",
            interval=BarInterval.MIN_5,
            av_interval="5min",
        )


@pytest.mark.parametrize(
    ("interval", "adjusted", "fx", "expected"),
    [
        (BarInterval.MIN_1, False, False, ("TIME_SERIES_INTRADAY", "1min")),
        (BarInterval.HOUR_1, False, False, ("TIME_SERIES_INTRADAY", "60min")),
        (BarInterval.DAY, True, False, ("TIME_SERIES_DAILY_ADJUSTED", None)),
        (BarInterval.WEEK, False, False, ("TIME_SERIES_WEEKLY", None)),
        (BarInterval.MONTH, True, False, ("TIME_SERIES_MONTHLY_ADJUSTED", None)),
        (BarInterval.MIN_15, False, True, ("FX_INTRADAY", "15min")),
        (BarInterval.DAY, False, True, ("FX_DAILY", None)),
    ],
)
def test_function_for(
    interval: BarInterval, adjusted: bool, fx: bool, expected: tuple[str, str | None]
) -> None:
    assert function_for(interval, adjusted=adjusted, fx=fx) == expected


def test_time_zones() -> None:
    assert parse_timezone("UTC") is UTC
    assert parse_timezone("GMT+8") == timezone(timedelta(hours=8))
    assert parse_timezone("UTC-04") == timezone(timedelta(hours=-4))
    assert parse_timezone("US/Eastern") == ZoneInfo("US/Eastern")
    with pytest.raises(PayloadRejected):
        parse_timezone("Mars/Olympus")
