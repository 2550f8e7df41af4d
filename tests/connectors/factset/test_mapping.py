"""FactSet rows (``data/``, shaped as the Prices API's models name their fields) to canonical models."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portico.connectors.factset.mapping import (
    bars_from_prices,
    corporate_actions_from_rows,
    fundamentals_from_rows,
    instrument_from_reference,
    market_values_from_rows,
    period_start,
    returns_from_rows,
    shares_from_rows,
)
from portico.connectors.factset.wire import (
    WireDividend,
    WireError,
    WireMarketValue,
    WirePrice,
    WireReference,
    WireReturn,
    WireShares,
    WireSplit,
)
from portico.errors import PayloadRejected
from portico.models import AssetClass, BarInterval, CorporateActionType

DATA = Path(__file__).parent / "data"
NY = ZoneInfo("America/New_York")


def rows(name: str, model: type[Any]) -> list[Any]:
    # parse_float=Decimal, as the client reads answers
    body = json.loads((DATA / name).read_text(), parse_float=Decimal)
    return [model.model_validate(r) for r in body["data"]]


def test_daily_prices_become_bars_stamped_at_new_york_midnight_with_volume_in_shares() -> None:
    prices = [r for r in rows("prices.json", WirePrice) if r.request_id == "FDS-US"]
    bars = bars_from_prices(prices, "FDS", BarInterval.DAY)
    # the 6 March row has no close (no trading): no bar
    assert [b.timestamp for b in bars] == [datetime(2024, 3, 4, tzinfo=NY), datetime(2024, 3, 5, tzinfo=NY)]
    first = bars[0]
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("452.12"), Decimal("458.3"), Decimal("451.05"), Decimal("456.81"),
    )  # fmt: skip
    assert first.volume == Decimal("287412")  # 287.412 thousand
    assert first.currency == "USD" and first.source == "factset" and first.symbol == "FDS"


def test_a_close_without_open_high_low_makes_a_flat_bar() -> None:
    index = [r for r in rows("prices.json", WirePrice) if r.request_id == "SP50"]
    (bar,) = bars_from_prices(index, "SP50")
    assert bar.open == bar.high == bar.low == bar.close == Decimal("5130.95")
    assert bar.volume == 0


def test_weekly_rows_are_stamped_with_the_weeks_monday() -> None:
    bars = bars_from_prices(rows("prices_weekly.json", WirePrice), "FDS", BarInterval.WEEK)
    # rows dated Friday 8 March and Thursday 28 March (Good Friday week)
    assert [b.timestamp.date() for b in bars] == [date(2024, 3, 4), date(2024, 3, 25)]
    assert bars[0].currency == "EUR" and bars[0].interval is BarInterval.WEEK


@pytest.mark.parametrize(
    ("day", "interval", "start"),
    [
        (date(2024, 3, 8), BarInterval.WEEK, date(2024, 3, 4)),
        (date(2024, 3, 4), BarInterval.WEEK, date(2024, 3, 4)),
        (date(2024, 2, 29), BarInterval.MONTH, date(2024, 2, 1)),
        (date(2024, 2, 29), BarInterval.DAY, date(2024, 2, 29)),
    ],
)
def test_period_start(day: date, interval: BarInterval, start: date) -> None:
    assert period_start(day, interval) == start


def test_a_row_with_low_above_high_is_rejected() -> None:
    broken = WirePrice.model_validate(
        {"requestId": "X", "date": "2024-03-04", "price": 10, "priceOpen": 10, "priceHigh": 9, "priceLow": 11}
    )
    with pytest.raises(PayloadRejected, match="low 11 above high 9"):
        bars_from_prices([broken], "X")


def test_a_close_without_a_date_is_rejected() -> None:
    with pytest.raises(PayloadRejected, match="has a close but no date"):
        bars_from_prices([WirePrice.model_validate({"requestId": "X", "price": 10})], "X")


def test_returns_keep_percent_and_fraction_per_id_oldest_first() -> None:
    returns = returns_from_rows(rows("returns.json", WireReturn))
    assert [(r.symbol, r.date) for r in returns] == [
        ("AAPL-US", date(2024, 1, 31)),
        ("AAPL-US", date(2024, 2, 29)),
        ("MSFT-US", date(2024, 2, 29)),
    ]  # the null return of 28 March is left out
    assert returns[0].return_percent == Decimal("-4.2227")
    assert returns[0].simple_return == Decimal("-0.042227")
    assert returns[0].fsym_id == "MH33D6-R"


def test_dividends_and_splits_become_corporate_actions_by_ex_date() -> None:
    actions = corporate_actions_from_rows(
        rows("dividends.json", WireDividend), rows("splits.json", WireSplit), "AAPL", start=date(2014, 1, 1)
    )
    kinds = [(a.ex_date, a.action_type) for a in actions]
    assert kinds == [
        (date(2014, 6, 9), CorporateActionType.SPLIT),
        (date(2020, 8, 31), CorporateActionType.SPLIT),
        (date(2023, 5, 1), CorporateActionType.REVERSE_SPLIT),
        (date(2023, 11, 10), CorporateActionType.STOCK_DIVIDEND),
        (date(2024, 2, 9), CorporateActionType.CASH_DIVIDEND),
        (date(2024, 5, 10), CorporateActionType.CASH_DIVIDEND),
    ]
    seven, four, reverse, stock, cash = actions[0], actions[1], actions[2], actions[3], actions[4]
    assert (four.ratio_from, four.ratio_to) == (Decimal(1), Decimal(4))
    assert (seven.ratio_from, seven.ratio_to) == (Decimal(1), Decimal(7))  # 1 / 0.142857, rounded
    assert (reverse.ratio_from, reverse.ratio_to) == (Decimal(10), Decimal(1))
    assert stock.cash_amount is None
    assert (cash.cash_amount, cash.currency, cash.record_date, cash.pay_date) == (
        Decimal("0.24"), "USD", date(2024, 2, 12), date(2024, 2, 15),
    )  # fmt: skip


def test_corporate_actions_are_cut_to_the_range() -> None:
    actions = corporate_actions_from_rows(
        rows("dividends.json", WireDividend), rows("splits.json", WireSplit), "AAPL",
        start=date(2024, 1, 1), end=date(2024, 3, 31),
    )  # fmt: skip
    assert [a.ex_date for a in actions] == [date(2024, 2, 9)]


def test_references_become_instruments_with_the_factset_id() -> None:
    vod, spy = (instrument_from_reference(r) for r in rows("references.json", WireReference))
    assert (vod.symbol, vod.name, vod.currency, vod.country, vod.exchange) == (
        "VOD-GB", "Vodafone Group Plc", "GBP", "GB", "London Stock Exchange",
    )  # fmt: skip
    assert vod.venue_ids == {"factset": "R7DHYB-R"}
    assert vod.asset_class is AssetClass.EQUITY
    assert spy.asset_class is AssetClass.ETF


def test_fundamentals_take_the_latest_shares_and_market_value() -> None:
    (reference,) = [r for r in rows("references.json", WireReference) if r.request_id == "VOD-GB"]
    overview = fundamentals_from_rows(
        reference, rows("shares.json", WireShares), rows("market_value.json", WireMarketValue), "VOD-GB"
    )
    assert overview.shares_outstanding == Decimal("27028111000.0")  # 8 March, the later row
    assert overview.market_capitalization == Decimal("18783.52")  # the entity's value on 8 March
    assert (overview.name, overview.currency, overview.country) == ("Vodafone Group Plc", "GBP", "GB")


def test_the_error_envelope_names_rejected_values_and_field() -> None:
    invalid = WireError.model_validate(json.loads((DATA / "error_invalid_ids.json").read_text()))
    assert invalid.rejected_values() == ["NOSUCH-XX"] and invalid.field() == "ids"
    frequency = WireError.model_validate(json.loads((DATA / "error_bad_frequency.json").read_text()))
    assert frequency.rejected_values() == ["Q"] and frequency.field() == "frequency"
    bare = WireError.model_validate(json.loads((DATA / "error_unauthorized.json").read_text()))
    assert bare.rejected_values() == [] and bare.field() is None


def test_shares_and_market_values_by_id_then_day() -> None:
    shares = shares_from_rows(rows("shares.json", WireShares))
    assert [(s.date, s.security) for s in shares] == [
        (date(2024, 3, 7), Decimal("27033459000.0")),
        (date(2024, 3, 8), Decimal("27028111000.0")),
    ]
    values = market_values_from_rows(rows("market_value.json", WireMarketValue))
    assert [(v.date, v.security, v.entity, v.currency) for v in values] == [
        (date(2024, 3, 7), Decimal("18547.3"), Decimal("18550.0"), "GBP"),
        (date(2024, 3, 8), Decimal("18780.11"), Decimal("18783.52"), "GBP"),
    ]
