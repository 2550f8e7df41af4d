"""Yahoo Finance bodies (``data/``, in Yahoo's shape) to canonical models: values stated here, not re-derived."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portico.connectors.yahoo_finance.mapping import (
    actions_from_chart,
    bars_from_chart,
    chart_result,
    fundamentals_from_summary,
    instruments_from_search,
    join_bars,
    quotes_from_body,
)
from portico.errors import NotFound, PayloadRejected, VenueRejected
from portico.models import AssetClass, BarInterval, CorporateActionType

DATA = Path(__file__).parent / "data"
NY = ZoneInfo("America/New_York")


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_daily_bars_are_dated_midnight_new_york_with_prices_as_decimal_text() -> None:
    result = chart_result(captured("chart_aapl_1d_dividend.json"), "AAPL")
    bars = bars_from_chart(result, interval=BarInterval.DAY)
    assert [b.timestamp for b in bars] == [
        datetime(2024, 2, 7, tzinfo=NY), datetime(2024, 2, 8, tzinfo=NY),
        datetime(2024, 2, 9, tzinfo=NY), datetime(2024, 2, 12, tzinfo=NY),
    ]  # fmt: skip
    first = bars[0]
    assert first.open == Decimal("190.63999938964844")  # the float's shortest text, not its binary expansion
    assert first.close == Decimal("189.41000366210938")
    assert first.adjusted_close == Decimal("188.9413604736328")
    assert first.volume == Decimal(53439000)
    assert first.currency == "USD" and first.source == "yahoo_finance" and first.symbol == "AAPL"


def test_the_dividend_sits_on_its_ex_date_bar() -> None:
    bars = bars_from_chart(
        chart_result(captured("chart_aapl_1d_dividend.json"), "AAPL"), interval=BarInterval.DAY
    )
    assert [b.dividend for b in bars] == [None, None, Decimal("0.24"), None]


def test_adjusted_bars_scale_every_price_by_adjclose_over_close() -> None:
    bars = bars_from_chart(
        chart_result(captured("chart_aapl_1d_dividend.json"), "AAPL"), interval=BarInterval.DAY, adjusted=True
    )
    first = bars[0]
    factor = Decimal("188.9413604736328") / Decimal("189.41000366210938")
    assert first.close == Decimal("188.941360")
    assert first.open == (Decimal("190.63999938964844") * factor).quantize(Decimal("0.000001"))
    assert first.adjusted_close == first.close
    # from the ex date on, adjclose equals close: nothing changes
    assert bars[2].close == Decimal("188.850006")


def test_splits_become_split_actions_with_the_ratio() -> None:
    result = chart_result(captured("chart_nvda_split.json"), "NVDA")
    [split] = actions_from_chart(result)
    assert split.action_type is CorporateActionType.SPLIT
    assert split.ex_date == date(2024, 6, 10)
    assert (split.ratio_from, split.ratio_to) == (Decimal("1.0"), Decimal("10.0"))
    bars = bars_from_chart(result, interval=BarInterval.DAY)
    assert [b.split_coefficient for b in bars] == [None, Decimal(10)]


def test_dividend_actions_carry_amount_and_currency() -> None:
    [dividend] = actions_from_chart(chart_result(captured("chart_aapl_1d_dividend.json"), "AAPL"))
    assert dividend.action_type is CorporateActionType.CASH_DIVIDEND
    assert dividend.ex_date == date(2024, 2, 9)
    assert dividend.cash_amount == Decimal("0.24") and dividend.currency == "USD"


def test_a_reverse_split_is_named_so() -> None:
    body = captured("chart_nvda_split.json")
    split = body["chart"]["result"][0]["events"]["splits"]["1718026200"]
    split.update({"numerator": 1.0, "denominator": 8.0, "splitRatio": "1:8"})
    [action] = actions_from_chart(chart_result(body, "NVDA"))
    assert action.action_type is CorporateActionType.REVERSE_SPLIT
    assert (action.ratio_from, action.ratio_to) == (Decimal("8.0"), Decimal("1.0"))


def test_intraday_rows_of_nulls_are_left_out_and_instants_kept() -> None:
    bars = bars_from_chart(
        chart_result(captured("chart_msft_5m_with_null_row.json"), "MSFT"), interval=BarInterval.MIN_5
    )
    assert [b.timestamp for b in bars] == [
        datetime(2024, 1, 3, 14, 30, tzinfo=UTC),
        datetime(2024, 1, 3, 14, 40, tzinfo=UTC),
    ]
    assert all(b.adjusted_close is None for b in bars)  # intraday charts carry no adjclose


def test_fifteen_minute_bars_join_in_pairs_on_the_half_hour() -> None:
    body = captured("chart_msft_5m_with_null_row.json")
    bars = bars_from_chart(chart_result(body, "MSFT"), interval=BarInterval.MIN_15)
    joined = join_bars(bars, 2, BarInterval.MIN_30)
    [bar] = joined
    assert bar.timestamp == datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
    assert bar.interval is BarInterval.MIN_30
    assert (bar.open, bar.close) == (Decimal("369.010009765625"), Decimal("369.0799865722656"))
    assert bar.high == Decimal("370.1499938964844") and bar.low == Decimal("368.04998779296875")
    assert bar.volume == Decimal(1104233 + 412301)


def test_chart_errors_are_typed() -> None:
    with pytest.raises(NotFound, match="symbol may be delisted") as caught:
        chart_result(captured("chart_error_not_found.json"), "NOSUCH")
    assert caught.value.venue_code == "Not Found"
    with pytest.raises(VenueRejected, match="Only 8 days worth of 1m"):
        chart_result(captured("chart_error_1m_range.json"), "AAPL")


@pytest.mark.parametrize("body", [[], {"chart": None}, {"nope": 1}, {"chart": {"result": [{"meta": {}}]}}])
def test_bodies_that_are_not_charts_are_rejected(body: Any) -> None:
    with pytest.raises(PayloadRejected):
        chart_result(body, "AAPL")


def test_misaligned_arrays_are_rejected_with_the_counts() -> None:
    body = captured("chart_aapl_1d_dividend.json")
    body["chart"]["result"][0]["indicators"]["quote"][0]["close"].pop()
    with pytest.raises(PayloadRejected, match="3 close values for 4 timestamps"):
        bars_from_chart(chart_result(body, "AAPL"), interval=BarInterval.DAY)


def test_weekly_and_monthly_bars_are_stamped_at_the_period_start() -> None:
    result = chart_result(captured("chart_aapl_1d_dividend.json"), "AAPL")
    weekly = bars_from_chart(result, interval=BarInterval.WEEK)
    assert weekly[2].timestamp == datetime(
        2024, 2, 5, tzinfo=NY
    )  # Friday 9 Feb 2024 is in the week of Monday the 5th
    monthly = bars_from_chart(result, interval=BarInterval.MONTH)
    assert {b.timestamp for b in monthly} == {datetime(2024, 2, 1, tzinfo=NY)}


def test_quotes_by_symbol_with_zero_bid_and_ask_as_absent() -> None:
    quotes = quotes_from_body(captured("quote_aapl_msft.json"))
    aapl = quotes["AAPL"]
    assert aapl.timestamp == datetime(2024, 2, 12, 21, 0, tzinfo=UTC)
    assert (aapl.bid_price, aapl.ask_price) == (Decimal("187.1"), Decimal("187.18"))
    assert (aapl.bid_size, aapl.ask_size) == (Decimal(4), Decimal(2))
    assert aapl.last_price == Decimal("187.15") and aapl.previous_close == Decimal("188.85")
    assert aapl.change == Decimal("-1.70001") and aapl.change_percent == Decimal("-0.899694")
    assert aapl.volume == Decimal(41781934) and aapl.currency == "USD"
    msft = quotes["MSFT"]
    assert msft.bid_price is None and msft.ask_price is None  # Yahoo sends 0.0 outside the book's hours


def test_a_quote_without_a_time_is_rejected() -> None:
    body = captured("quote_aapl_msft.json")
    del body["quoteResponse"]["result"][0]["regularMarketTime"]
    with pytest.raises(PayloadRejected, match="AAPL has no regularMarketTime"):
        quotes_from_body(body)


def test_fundamentals_from_quote_summary() -> None:
    f = fundamentals_from_summary("AAPL", captured("quote_summary_aapl.json"))
    assert f.name == "Apple Inc." and f.exchange == "NasdaqGS" and f.currency == "USD"
    assert f.sector == "Technology" and f.industry == "Consumer Electronics" and f.country == "United States"
    assert f.market_capitalization == Decimal(2890197286912)
    assert f.pe_ratio == Decimal("29.105755") and f.eps == Decimal("6.43")
    assert f.dividend_yield == Decimal("0.0051") and f.beta == Decimal("1.29")
    assert f.shares_outstanding == Decimal(15441899520)
    assert f.description is not None and f.description.startswith("Apple Inc. designs")


def test_formatted_numbers_are_read_from_raw() -> None:
    body = captured("quote_summary_aapl.json")
    body["quoteSummary"]["result"][0]["summaryDetail"]["trailingPE"] = {"raw": 29.1, "fmt": "29.10"}
    assert fundamentals_from_summary("AAPL", body).pe_ratio == Decimal("29.1")


def test_an_empty_quote_summary_is_not_found() -> None:
    with pytest.raises(NotFound):
        fundamentals_from_summary("AAPL", {"quoteSummary": {"result": [], "error": None}})


def test_search_skips_entries_without_a_symbol() -> None:
    found = instruments_from_search(captured("search_apple.json"))
    assert [i.symbol for i in found] == ["AAPL", "APLE"]
    assert found[0].name == "Apple Inc." and found[0].exchange == "NMS"
    assert found[0].asset_class is AssetClass.EQUITY and found[0].venue_ids == {"yahoo_finance": "AAPL"}
