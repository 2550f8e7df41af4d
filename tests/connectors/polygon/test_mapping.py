"""Vendor bodies (captured in ``data/``, see its README) to canonical models, with the values written out."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from portico.connectors.polygon.mapping import (
    bar_from_stream,
    bars_from_results,
    dividend_from_wire,
    fundamentals_from_details,
    instrument_from_ticker,
    quote_from_last,
    quote_from_stream,
    quote_from_v3,
    snapshot_from_wire,
    split_from_wire,
    trade_from_last,
    trade_from_stream,
    trade_from_v3,
)
from portico.errors import PayloadRejected
from portico.models import AssetClass, BarInterval, CorporateActionType

DATA = Path(__file__).parent / "data"
NY = ZoneInfo("America/New_York")


def captured(name: str) -> Any:
    # as the client reads them: floats as exact decimals
    return json.loads((DATA / name).read_text(), parse_float=Decimal)


def test_daily_aggregates() -> None:
    bars = bars_from_results(captured("aggs_day.json")["results"], "AAPL", BarInterval.DAY, adjusted=True)
    assert len(bars) == 2
    first = bars[0]
    assert first.timestamp == datetime(2005, 4, 1, tzinfo=NY)  # 1112331600000 ms: midnight New York
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("1.5032"), Decimal("1.5064"), Decimal("1.4489"), Decimal("1.4604"),
    )  # fmt: skip
    assert first.volume == Decimal("642646396.0") and first.vwap == Decimal("1.469")
    assert first.trade_count == 82132 and first.adjusted_close == Decimal("1.4604")
    assert bars[1].timestamp == datetime(2005, 4, 4, tzinfo=NY)
    unadjusted = bars_from_results(
        captured("aggs_day.json")["results"], "AAPL", BarInterval.DAY, adjusted=False
    )
    assert unadjusted[0].adjusted_close is None


def test_previous_close_and_grouped_daily_rows_carry_their_ticker() -> None:
    [prev] = bars_from_results(captured("aggs_prev.json")["results"], "AAPL", BarInterval.DAY, adjusted=True)
    assert prev.close == Decimal("156.8") and prev.timestamp == datetime(2022, 4, 26, 20, 0, tzinfo=UTC)
    [row] = captured("aggs_grouped.json")["results"]
    assert row["T"] == "GIK"
    [bar] = bars_from_results([row], row["T"], BarInterval.DAY, adjusted=True)
    assert (bar.symbol, bar.close, bar.volume) == ("GIK", Decimal("10.02"), Decimal(895345))


def test_last_trade() -> None:
    trade = trade_from_last(captured("last_trade.json")["results"])
    assert (trade.symbol, trade.price, trade.size) == ("AAPL", Decimal("166.25"), Decimal(2))
    assert trade.exchange == "FINR"  # exchange 4: the FINRA trade reporting facility
    assert trade.trade_id == "237688" and trade.conditions == ["12", "37"]
    assert trade.timestamp == datetime(2022, 4, 28, 20, 55, 19, 310617, tzinfo=UTC)


def test_last_nbbo_reads_capital_letters_as_the_ask() -> None:
    quote = quote_from_last(captured("last_nbbo.json")["results"])
    assert (quote.bid_price, quote.bid_size) == (Decimal("155.65"), Decimal(1))
    assert (quote.ask_price, quote.ask_size) == (Decimal("155.66"), Decimal(14))
    assert quote.timestamp == datetime(2022, 5, 10, 14, 25, 54, 171838, tzinfo=UTC)


def test_v3_trades_and_quotes() -> None:
    trades = [trade_from_v3(r, "AAPL") for r in captured("trades.json")["results"]]
    assert [(t.price, t.exchange) for t in trades] == [
        (Decimal("156.43"), "ARCX"),
        (Decimal("157.43"), "XNAS"),
    ]
    assert trades[0].timestamp == datetime(2022, 4, 28, 21, 37, 2, 461979, tzinfo=UTC)
    quote = quote_from_v3(captured("quotes.json")["results"][0], "AAPL")
    assert (quote.bid_price, quote.ask_price) == (Decimal("155.85"), Decimal("155.87"))
    assert (quote.bid_size, quote.ask_size) == (Decimal(4), Decimal(3))
    assert quote.timestamp == datetime(2022, 5, 10, 14, 11, 12, 800638, tzinfo=UTC)


def test_snapshot_with_a_null_condition_list() -> None:
    snap = snapshot_from_wire(captured("snapshot_ticker.json")["ticker"])
    assert snap.symbol == "AAPL"
    assert snap.latest_trade is not None and snap.latest_trade.conditions == []  # the vendor sent "c": null
    assert snap.latest_trade.price == Decimal("159.99") and snap.latest_trade.exchange == "XNAS"
    assert snap.latest_quote is not None
    assert (snap.latest_quote.bid_price, snap.latest_quote.ask_price) == (
        Decimal("159.98"),
        Decimal("159.99"),
    )
    assert snap.latest_quote.change == Decimal("-3.65") and snap.latest_quote.change_percent == Decimal(
        "-2.231"
    )
    assert snap.latest_quote.previous_close == Decimal("163.64")
    # updated 1651251948294080343 ns is Friday 2022-04-29 13:05 New York; prevDay is the Thursday
    assert snap.daily_bar is not None and snap.daily_bar.timestamp == datetime(2022, 4, 29, tzinfo=NY)
    assert snap.daily_bar.close == Decimal("160.315")
    assert snap.previous_daily_bar is not None
    assert snap.previous_daily_bar.timestamp == datetime(2022, 4, 28, tzinfo=NY)
    assert snap.minute_bar is not None and snap.minute_bar.trade_count == 5


def test_reference_ticker_and_details() -> None:
    first, second = (instrument_from_ticker(r) for r in captured("tickers.json")["results"][:2])
    assert (first.symbol, first.name, first.exchange) == ("A", "Agilent Technologies Inc.", "XNYS")
    assert first.asset_class is AssetClass.EQUITY and first.figi == "BBG000C2V3D6"
    assert (first.currency, first.country) == ("USD", "US")
    assert second.symbol == "AA" and second.venue_ids == {"polygon": "AA"}
    facts = fundamentals_from_details(captured("ticker_details.json")["results"])
    assert (facts.symbol, facts.name, facts.exchange) == ("AAPL", "Apple Inc.", "XNAS")
    assert facts.market_capitalization == Decimal(2488795282370)
    assert facts.shares_outstanding == Decimal(16319440000)
    assert facts.industry == "ELECTRONIC COMPUTERS" and facts.currency == "USD"


def test_dividends_and_splits() -> None:
    dividend = dividend_from_wire(captured("dividends.json")["results"][0])
    assert dividend.symbol == "CSSEN" and dividend.action_type is CorporateActionType.CASH_DIVIDEND
    assert dividend.cash_amount == Decimal("0.59375") and dividend.currency == "USD"
    assert (dividend.ex_date, dividend.record_date, dividend.pay_date) == (
        date(2025, 6, 12), date(2025, 6, 15), date(2025, 6, 30),
    )  # fmt: skip
    splits = {
        (s["ticker"], s["execution_date"]): split_from_wire(s) for s in captured("splits.json")["results"]
    }
    googl = splits[("GOOGL", "2022-07-18")]
    assert googl.action_type is CorporateActionType.SPLIT and (googl.ratio_from, googl.ratio_to) == (1, 20)
    brw = splits[("BRW", "2022-05-20")]
    assert brw.action_type is CorporateActionType.REVERSE_SPLIT and (brw.ratio_from, brw.ratio_to) == (2, 1)


def test_stream_events() -> None:
    trade = trade_from_stream({"ev": "T", "sym": "MSFT", "x": 4, "i": "12345", "z": 3, "p": Decimal("114.125"),
                               "s": 100, "c": [0, 12], "t": 1536036818784, "q": 3681328})  # fmt: skip
    assert (trade.symbol, trade.price, trade.exchange, trade.conditions) == (
        "MSFT",
        Decimal("114.125"),
        "FINR",
        ["0", "12"],
    )
    assert trade.timestamp == datetime(2018, 9, 4, 4, 53, 38, 784000, tzinfo=UTC)
    quote = quote_from_stream({"ev": "Q", "sym": "MSFT", "bx": 4, "bp": Decimal("114.125"), "bs": 100, "ax": 7,
                               "ap": Decimal("114.128"), "as": 160, "c": 0, "t": 1536036818784, "z": 3})  # fmt: skip
    assert (quote.bid_price, quote.ask_price, quote.ask_size) == (
        Decimal("114.125"),
        Decimal("114.128"),
        Decimal(160),
    )
    bar = bar_from_stream({"ev": "AM", "sym": "GTE", "v": 4110, "av": 9470157, "op": Decimal("0.4372"),
                           "vw": Decimal("0.4488"), "o": Decimal("0.4488"), "c": Decimal("0.4486"), "h": Decimal("0.4489"),
                           "l": Decimal("0.4486"), "a": Decimal("0.4352"), "z": 685, "s": 1610144640000,
                           "e": 1610144700000})  # fmt: skip
    assert bar.interval is BarInterval.MIN_1 and bar.timestamp == datetime(2021, 1, 8, 22, 24, tzinfo=UTC)
    assert (bar.open, bar.close, bar.volume) == (Decimal("0.4488"), Decimal("0.4486"), Decimal(4110))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"o": 1, "h": 1, "l": 1, "c": 1}, "aggregate 0: t: Field required"),
        ({"o": "x", "h": 1, "l": 1, "c": 1, "t": 0}, "aggregate 0: o:"),
    ],
)
def test_a_malformed_aggregate_names_the_field(row: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadRejected, match=message):
        bars_from_results([row], "AAPL", BarInterval.DAY, adjusted=False)


def test_a_dividend_with_a_bad_date_is_refused() -> None:
    row = dict(captured("dividends.json")["results"][0], pay_date="30/06/2025")
    with pytest.raises(PayloadRejected, match="'30/06/2025' is not a date in Polygon's pay_date"):
        dividend_from_wire(row)
