"""LSEG wire bodies (captured in ``data/``) to canonical models; FX RIC conventions; bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.refinitiv.mapping import (
    bars_from_summaries,
    check_ric,
    fundamentals_from_row,
    fx_rate_from_snapshot,
    fx_ric,
    invert_bars,
    quote_from_snapshot,
)
from portico.connectors.refinitiv.wire import WireDatagrid, WireSnapshotMessage, WireSummaries
from portico.errors import PayloadRejected
from portico.models import BarInterval

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_interday_rows_become_bars_oldest_first_at_midnight_utc() -> None:
    body = WireSummaries.model_validate(captured("interday_summaries_gs_n.json")[0])
    bars = bars_from_summaries(body, symbol="GS.N", interval=BarInterval.DAY)
    assert [b.timestamp for b in bars] == [
        datetime(2023, 8, 15, tzinfo=UTC),
        datetime(2023, 8, 16, tzinfo=UTC),
        datetime(2023, 8, 21, tzinfo=UTC),
    ]
    # bid-only rows (no TRDPRC_1): the bid is the bar, open/high/low fall back to it
    assert [b.close for b in bars] == [Decimal("332.37"), Decimal("329.03"), Decimal("322.08")]
    assert bars[0].open == bars[0].high == bars[0].low == Decimal("332.37")
    assert all(b.volume == 0 and b.source == "refinitiv" for b in bars)


def _summaries(label: str, interval: str, header: list[str], rows: list[list[Any]]) -> WireSummaries:
    return WireSummaries.model_validate(
        {"universe": {"ric": "X"}, "interval": interval, "summaryTimestampLabel": label,
         "headers": [{"name": h} for h in header], "data": rows}
    )  # fmt: skip


def test_equity_rows_use_trade_prices_and_skip_rows_without_a_close() -> None:
    header = ["DATE", "OPEN_PRC", "HIGH_1", "LOW_1", "TRDPRC_1", "ACVOL_UNS", "VWAP", "NUM_MOVES", "BID"]
    rows = [["2026-01-06", 100.5, 102.25, 99.75, 101.0, 12345, 100.9, 321, 100.99],
            ["2026-01-05", None, None, None, None, None, None, None, None]]  # fmt: skip
    bars = bars_from_summaries(
        _summaries("endPeriod", "P1D", header, rows), symbol="AAPL.O", interval=BarInterval.DAY
    )
    assert len(bars) == 1
    bar = bars[0]
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("100.5"),
        Decimal("102.25"),
        Decimal("99.75"),
        Decimal("101.0"),
    )
    assert bar.volume == Decimal("12345") and bar.vwap == Decimal("100.9") and bar.trade_count == 321


def test_weekly_and_monthly_dates_become_period_starts() -> None:
    header = ["DATE", "TRDPRC_1"]
    weekly = bars_from_summaries(_summaries("endPeriod", "P1W", header, [["2026-01-09", 10]]), symbol="X",
                                 interval=BarInterval.WEEK)  # fmt: skip
    monthly = bars_from_summaries(_summaries("endPeriod", "P1M", header, [["2026-01-30", 10]]), symbol="X",
                                  interval=BarInterval.MONTH)  # fmt: skip
    assert weekly[0].timestamp == datetime(2026, 1, 5, tzinfo=UTC)  # the Monday
    assert monthly[0].timestamp == datetime(2026, 1, 1, tzinfo=UTC)


def test_intraday_end_period_labels_move_back_one_interval() -> None:
    header = ["DATE_TIME", "TRDPRC_1"]
    rows = [["2026-01-06T15:05:00.000000000Z", 10.0]]
    start_label = bars_from_summaries(_summaries("startPeriod", "PT5M", header, rows), symbol="X",
                                      interval=BarInterval.MIN_5)  # fmt: skip
    end_label = bars_from_summaries(_summaries("endPeriod", "PT5M", header, rows), symbol="X",
                                    interval=BarInterval.MIN_5)  # fmt: skip
    assert start_label[0].timestamp == datetime(2026, 1, 6, 15, 5, tzinfo=UTC)
    assert end_label[0].timestamp == datetime(2026, 1, 6, 15, 0, tzinfo=UTC)


def test_a_malformed_date_is_a_payload_error_naming_it() -> None:
    body = _summaries("endPeriod", "P1D", ["DATE", "TRDPRC_1"], [["21/08/2023", 1.0]])
    with pytest.raises(PayloadRejected, match="21/08/2023"):
        bars_from_summaries(body, symbol="X", interval=BarInterval.DAY)


@pytest.mark.parametrize(
    ("base", "quote", "expected"),
    [
        ("EUR", "USD", ("EUR=", False)),
        ("USD", "EUR", ("EUR=", True)),
        ("GBP", "USD", ("GBP=", False)),
        ("USD", "JPY", ("JPY=", False)),
        ("JPY", "USD", ("JPY=", True)),
        ("usd", "chf", ("CHF=", False)),
        ("EUR", "GBP", ("EURGBP=R", False)),
    ],
)
def test_fx_rics_follow_lseg_quoting_conventions(base: str, quote: str, expected: tuple[str, bool]) -> None:
    assert fx_ric(base, quote) == expected


@pytest.mark.parametrize(("base", "quote", "message"), [("EUR", "EUR", "not a currency pair"),
                                                         ("EURO", "USD", "not an ISO 4217"),
                                                         ("EUR", "", "not an ISO 4217")])  # fmt: skip
def test_bad_currency_pairs_are_refused_with_a_clear_message(base: str, quote: str, message: str) -> None:
    with pytest.raises(PayloadRejected, match=message):
        fx_ric(base, quote)


@pytest.mark.parametrize("bad", ["", "   ", "AAPL O", "../etc", "A" * 41])
def test_what_cannot_be_a_ric_is_refused(bad: str) -> None:
    with pytest.raises(PayloadRejected, match="is not a RIC"):
        check_ric(bad)


def test_a_snapshot_refresh_is_an_fx_rate_at_the_quote_time() -> None:
    message = WireSnapshotMessage.model_validate(captured("pricing_snapshots_eur.json")[0])
    rate = fx_rate_from_snapshot(message, base="EUR", quote="USD", inverted=False, now=NOW)
    assert (rate.bid, rate.ask, rate.rate) == (Decimal("1.0857"), Decimal("1.0861"), Decimal("1.0859"))
    assert rate.timestamp == datetime(2026, 1, 6, 14, 59, 58, tzinfo=UTC)


def test_an_inverted_pair_swaps_bid_and_ask() -> None:
    message = WireSnapshotMessage.model_validate(captured("pricing_snapshots_eur.json")[0])
    rate = fx_rate_from_snapshot(message, base="USD", quote="EUR", inverted=True, now=NOW)
    assert rate.bid == Decimal("0.9207255317")  # 1 / 1.0861
    assert rate.ask == Decimal("0.9210647509")  # 1 / 1.0857
    assert rate.bid < rate.ask


def test_a_crossed_quote_is_rejected() -> None:
    message = WireSnapshotMessage.model_validate(
        {"Type": "Refresh", "Key": {"Name": "EUR="}, "Fields": {"BID": 1.0870, "ASK": 1.0860}}
    )
    with pytest.raises(PayloadRejected, match="crossed: bid 1.087 above ask 1.086"):
        fx_rate_from_snapshot(message, base="EUR", quote="USD", inverted=False, now=NOW)


def test_a_quote_without_bid_or_ask_is_rejected() -> None:
    message = WireSnapshotMessage.model_validate(
        {"Type": "Refresh", "Key": {"Name": "EUR="}, "Fields": {"BID": 1.08}}
    )
    with pytest.raises(PayloadRejected, match="no usable bid and ask"):
        fx_rate_from_snapshot(message, base="EUR", quote="USD", inverted=False, now=NOW)


def test_inverted_bars_swap_high_and_low() -> None:
    header = ["DATE", "OPEN_BID", "BID_HIGH_1", "BID_LOW_1", "BID"]
    bars = bars_from_summaries(_summaries("endPeriod", "P1D", header, [["2026-01-06", 150, 160, 125, 125]]),
                               symbol="JPY=", interval=BarInterval.DAY)  # fmt: skip
    inverted = invert_bars(bars, symbol="JPY/USD", currency="USD")[0]
    assert inverted.symbol == "JPY/USD"
    assert inverted.high == Decimal("0.008") and inverted.low == Decimal("0.00625")
    assert inverted.close == Decimal("0.008")


def test_an_equity_snapshot_is_a_quote_with_decimal_prices() -> None:
    message = WireSnapshotMessage.model_validate(
        {"Type": "Refresh", "Key": {"Name": "AAPL.O"},
         "Fields": {"BID": 181.53, "ASK": 181.55, "BIDSIZE": 500, "ASKSIZE": 300, "TRDPRC_1": 181.54,
                    "HST_CLOSE": 181.28, "NETCHNG_1": 0.26, "CURRENCY": "USD", "QUOTE_DATE": "2026-01-06",
                    "QUOTIM": "15:59:59"}}
    )  # fmt: skip
    quote = quote_from_snapshot(message, now=NOW)
    assert quote.symbol == "AAPL.O"
    assert (quote.bid_price, quote.ask_price, quote.last_price) == (
        Decimal("181.53"),
        Decimal("181.55"),
        Decimal("181.54"),
    )
    assert quote.previous_close == Decimal("181.28") and quote.currency == "USD"
    assert quote.timestamp == datetime(2026, 1, 6, 15, 59, 59, tzinfo=UTC)


def test_datagrid_rows_become_fundamentals() -> None:
    grid = WireDatagrid.model_validate(captured("datagrid_ibm.json"))
    fundamentals = fundamentals_from_row(grid.rows()[0], symbol="IBM.N")
    assert fundamentals.name == "International Business Machines Corp"
    assert fundamentals.market_capitalization == Decimal("178523456789.5")
    assert fundamentals.pe_ratio == Decimal("21.37")
    assert fundamentals.currency == "USD"
    assert fundamentals.sector is None  # not asked for in this capture
