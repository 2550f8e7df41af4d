"""Faithfulness: the community ``alpha_vantage`` package works unchanged against the mock over TCP.

The package has no base-URL argument; its documented override is the class attribute
``AlphaVantage._ALPHA_VANTAGE_API_URL``, set here for the test's duration.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pandas as pd
import pytest
from alpha_vantage.alphavantage import AlphaVantage
from alpha_vantage.foreignexchange import ForeignExchange
from alpha_vantage.fundamentaldata import FundamentalData
from alpha_vantage.timeseries import TimeSeries

from portico.mocks import start_mock
from portico.mocks._kit import MockClock, RunningMock
from portico.mocks.alpha_vantage import create_app

PREMIUM = "premium-key"
FREE = "free-key"


@pytest.fixture
def mock_clock() -> MockClock:
    return MockClock()


@pytest.fixture
def served(mock_clock: MockClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningMock]:
    app = create_app(seed=7, clock=mock_clock, key_tiers={PREMIUM: "premium_75"})
    with start_mock(app) as running:
        monkeypatch.setattr(AlphaVantage, "_ALPHA_VANTAGE_API_URL", f"{running.base_url}/query?")
        yield running


def test_daily_intraday_weekly_monthly_series(served: RunningMock) -> None:
    ts = TimeSeries(key=PREMIUM)
    daily, meta = ts.get_daily("IBM")
    assert meta["2. Symbol"] == "IBM" and meta["4. Output Size"] == "Compact"
    assert len(daily) == 100
    _day, row = next(iter(daily.items()))
    assert list(row) == ["1. open", "2. high", "3. low", "4. close", "5. volume"]
    assert float(row["3. low"]) <= min(float(row["1. open"]), float(row["4. close"]))
    full, meta = ts.get_daily("IBM", outputsize="full")
    assert meta["4. Output Size"] == "Full size" and len(full) > 2000

    intraday, meta = ts.get_intraday("MSFT", interval="5min")
    assert meta["4. Interval"] == "5min" and meta["6. Time Zone"] == "US/Eastern"
    assert len(intraday) == 100

    adjusted, _ = ts.get_daily_adjusted("IBM")
    assert "8. split coefficient" in next(iter(adjusted.values()))
    weekly, _ = ts.get_weekly("AAPL")
    assert len(weekly) > 100
    monthly_adj, meta = ts.get_monthly_adjusted("AAPL")
    assert "5. adjusted close" in next(iter(monthly_adj.values()))
    assert meta["1. Information"] == "Monthly Adjusted Prices and Volumes"


def test_pandas_and_csv_outputs(served: RunningMock) -> None:
    frame, _ = TimeSeries(key=PREMIUM, output_format="pandas").get_daily("AAPL")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["1. open", "2. high", "3. low", "4. close", "5. volume"]
    assert (frame["2. high"] >= frame["3. low"]).all() and frame.index.name == "date"

    reader, _ = TimeSeries(key=PREMIUM, output_format="csv").get_daily_adjusted("AAPL")
    rows = list(reader)
    assert rows[0] == [
        "timestamp", "open", "high", "low", "close", "adjusted_close", "volume", "dividend_amount", "split_coefficient"
    ]  # fmt: skip
    assert len(rows) == 101


def test_quote_and_search(served: RunningMock) -> None:
    ts = TimeSeries(key=PREMIUM)
    quote, _ = ts.get_quote_endpoint("IBM")
    assert quote["01. symbol"] == "IBM" and quote["10. change percent"].endswith("%")
    matches, _ = ts.get_symbol_search("BA")
    assert matches.iloc[0]["1. symbol"] == "BA" and matches.iloc[0]["9. matchScore"] == "1.0000"


def test_fundamentals(served: RunningMock) -> None:
    fd = FundamentalData(key=PREMIUM)
    overview, _ = fd.get_company_overview("IBM")
    assert overview["Symbol"] == "IBM" and overview["AssetType"] == "Common Stock"
    income, meta = fd.get_income_statement_annual("IBM")
    assert meta == "IBM" and "totalRevenue" in income.columns and len(income) == 5
    balance, _ = fd.get_balance_sheet_quarterly("IBM")
    assert "totalAssets" in balance.columns
    cash, _ = fd.get_cash_flow_annual("IBM")
    assert "operatingCashflow" in cash.columns
    earnings, _ = fd.get_earnings_quarterly("IBM")
    assert {"reportedEPS", "estimatedEPS", "surprise"} <= set(earnings.columns)


def test_fx(served: RunningMock) -> None:
    fx = ForeignExchange(key=PREMIUM)
    rate, _ = fx.get_currency_exchange_rate("EUR", "USD")
    assert rate["1. From_Currency Code"] == "EUR" and float(rate["5. Exchange Rate"]) > 0
    assert float(rate["8. Bid Price"]) < float(rate["9. Ask Price"])
    daily, meta = fx.get_currency_exchange_daily("EUR", "USD")
    assert meta["2. From Symbol"] == "EUR" and len(daily) == 100
    intraday, meta = fx.get_currency_exchange_intraday("EUR", "USD", interval="15min")
    assert meta["5. Interval"] == "15min" and len(intraday) == 100


def test_errors_surface_as_the_package_surfaces_real_ones(served: RunningMock, mock_clock: MockClock) -> None:
    ts = TimeSeries(key=FREE)
    with pytest.raises(ValueError, match=r"Invalid API call\. Please retry or visit the documentation"):
        ts.get_daily("NOSUCH")
    with pytest.raises(ValueError, match="This is a premium endpoint"):
        ts.get_daily_adjusted("IBM")
    for _ in range(3):
        ts.get_daily("IBM")
    # five calls this minute (invalid and premium-refused calls count): the sixth is throttled
    with pytest.raises(ValueError, match="5 calls per minute"):
        ts.get_daily("IBM")
    # the rest of the day's 25: five per minute
    made = 5
    while made < 25:
        mock_clock.advance(61)
        for _ in range(5):
            ts.get_quote_endpoint("IBM")
            made += 1
    mock_clock.advance(61)
    with pytest.raises(ValueError, match="25 requests per day"):
        ts.get_daily("IBM")
    # a premium key is not affected
    assert TimeSeries(key=PREMIUM).get_daily("IBM")[0]


def test_missing_key_and_unknown_function(served: RunningMock) -> None:
    import requests

    body = requests.get(f"{served.base_url}/query?function=TIME_SERIES_DAILY&symbol=IBM", timeout=5).json()
    assert body["Error Message"].startswith("the parameter apikey is invalid or missing")
    body = requests.get(f"{served.base_url}/query?function=NOPE&apikey=x", timeout=5).json()
    assert body == {"Error Message": "This API function (NOPE) does not exist."}


def test_csv_reader_shape_for_intraday(served: RunningMock) -> None:
    reader, _ = TimeSeries(key=PREMIUM, output_format="csv").get_intraday("IBM", interval="1min")
    rows = list(reader)
    assert rows[0] == ["timestamp", "open", "high", "low", "close", "volume"]
    assert isinstance(reader, type(csv.reader([])))


def test_the_installed_mock_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # what `portico mock alpha_vantage` serves: default options, any key on the free plan
    with start_mock("alpha_vantage", seed=0) as running:
        assert running.urls == {"base": f"{running.base_url}/query"}
        monkeypatch.setattr(AlphaVantage, "_ALPHA_VANTAGE_API_URL", f"{running.base_url}/query?")
        data, meta = TimeSeries(key="any-key").get_daily("IBM")
        assert meta["2. Symbol"] == "IBM" and len(data) == 100
        with pytest.raises(ValueError, match="premium endpoint"):
            TimeSeries(key="any-key").get_daily_adjusted("IBM")
