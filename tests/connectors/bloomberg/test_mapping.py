"""Data License rows to portico models, on output files written in the documented layout (``data/``):
identifier choice, number reading, snapshot zones, return codes, crossed quotes and history gaps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from portico.connectors.bloomberg.client import parse_output
from portico.connectors.bloomberg.mapping import (
    bars_from_rows,
    decimal_of,
    fundamentals_from_row,
    fx_identifier,
    fx_rate_from_row,
    identifier_for,
    quote_from_row,
    rows_by_identifier,
    snapshot_time,
)
from portico.errors import NotFound, PayloadRejected
from portico.models import BarInterval

DATA = Path(__file__).parent / "data"


def json_rows() -> dict[str, dict[str, object]]:
    rows = parse_output((DATA / "output_data_request.json").read_bytes(), "application/json", what="test")
    return {k: v[0] for k, v in rows_by_identifier(rows).items()}


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("AAPL", ("TICKER", "AAPL US Equity")),
        ("aapl", ("TICKER", "AAPL US Equity")),
        ("VOD LN Equity", ("TICKER", "VOD LN Equity")),
        ("SPX  Index", ("TICKER", "SPX Index")),
        ("EURUSD Curncy", ("TICKER", "EURUSD Curncy")),
        ("US0378331005", ("ISIN", "US0378331005")),
        ("BBG000B9XRY4", ("BB_GLOBAL", "BBG000B9XRY4")),
        ("GOOGLEXAMPLE", ("TICKER", "GOOGLEXAMPLE US Equity")),  # 12 letters, no check digit: not an ISIN
    ],
)
def test_identifier_for(symbol: str, expected: tuple[str, str]) -> None:
    assert identifier_for(symbol, "US Equity") == expected


def test_identifier_for_an_empty_symbol_is_refused() -> None:
    with pytest.raises(PayloadRejected, match="empty symbol"):
        identifier_for("   ", "US Equity")


def test_fx_identifier_is_the_spot_cross_ticker() -> None:
    assert fx_identifier("EUR", "USD") == "EURUSD Curncy"


def test_an_fx_row_maps_mid_bid_and_ask_as_decimals_without_float_noise() -> None:
    rate = fx_rate_from_row(json_rows()["EURUSD Curncy"], "EUR", "USD")
    assert (rate.bid, rate.rate, rate.ask) == (Decimal("1.08412"), Decimal("1.084215"), Decimal("1.08431"))
    # 11:01:30 in New York on 2026-03-10 (EDT, UTC-4)
    assert rate.timestamp == datetime(2026, 3, 10, 15, 1, 30, tzinfo=UTC)
    assert rate.source == "bloomberg"


def test_numbers_sent_as_json_numbers_and_no_mid_fall_back_to_the_bid_ask_middle() -> None:
    rate = fx_rate_from_row(json_rows()["USDJPY Curncy"], "USD", "JPY")
    assert rate.rate == Decimal("147.225")  # PX_MID null, PX_LAST "N.A.": the middle of 147.21 and 147.24


def test_a_crossed_quote_is_refused() -> None:
    with pytest.raises(PayloadRejected, match="crossed"):
        fx_rate_from_row(json_rows()["GBPUSD Curncy"], "GBP", "USD")


def test_a_nonzero_return_code_is_not_found_with_the_code() -> None:
    with pytest.raises(NotFound) as caught:
        fx_rate_from_row(json_rows()["XXXYYY Curncy"], "EUR", "USD")
    assert caught.value.venue_code == "RC10"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("190.41", Decimal("190.41")),
        (190.5, Decimal("190.5")),
        ("N.A.", None),
        ("", None),
        (None, None),
        ("1e3", Decimal("1E+3")),
    ],
)
def test_decimal_of(value: object, expected: Decimal | None) -> None:
    assert decimal_of({"IDENTIFIER": "X", "PX_LAST": value}, "PX_LAST") == expected


@pytest.mark.parametrize("value", ["12,5", "abc", "NaN", "Infinity"])
def test_decimal_of_garbage_names_the_field_and_security(value: str) -> None:
    with pytest.raises(PayloadRejected, match="PX_LAST") as caught:
        decimal_of({"IDENTIFIER": "IBM US Equity", "PX_LAST": value}, "PX_LAST")
    assert "IBM US Equity" in caught.value.message


def test_snapshot_time_with_an_explicit_offset_or_no_zone() -> None:
    assert snapshot_time({"DL_SNAPSHOT_START_TIME": "2026-03-10T11:01:30Z"}) == datetime(
        2026, 3, 10, 11, 1, 30, tzinfo=UTC
    )
    assert snapshot_time(
        {"DL_SNAPSHOT_START_TIME": "2026-01-10T11:01:30", "DL_SNAPSHOT_TZ": "Europe/London"}
    ) == datetime(2026, 1, 10, 11, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({}, "no DL_SNAPSHOT_START_TIME"),
        ({"DL_SNAPSHOT_START_TIME": "yesterday"}, "unreadable"),
        (
            {"DL_SNAPSHOT_START_TIME": "2026-03-10T11:01:30", "DL_SNAPSHOT_TZ": "Mars/Olympus"},
            "unknown DL_SNAPSHOT_TZ",
        ),
    ],
)
def test_snapshot_time_refuses_what_it_cannot_read(row: dict[str, str], message: str) -> None:
    with pytest.raises(PayloadRejected, match=message):
        snapshot_time(row)


def test_history_csv_fills_a_missing_open_high_low_from_the_close_skips_empty_days_and_sorts() -> None:
    rows = parse_output((DATA / "output_history_request.csv").read_bytes(), "text/csv", what="test")
    bars = bars_from_rows(rows, symbol="IBM", interval=BarInterval.DAY, currency="USD")
    assert [b.timestamp for b in bars] == [datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)]
    first, second = bars
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("188.95"), Decimal("188.95"), Decimal("188.95"), Decimal("188.95"), Decimal(0),
    )  # fmt: skip
    assert (second.open, second.high, second.low, second.close) == (
        Decimal("189.10"), Decimal("191.25"), Decimal("188.40"), Decimal("190.77"),
    )  # fmt: skip
    assert second.volume == Decimal("2150331") and second.currency == "USD"


def test_quote_row_maps_bid_ask_last_and_currency() -> None:
    row = {
        "IDENTIFIER": "IBM US Equity", "RC": "0", "DL_SNAPSHOT_START_TIME": "2026-03-10T11:01:30",
        "DL_SNAPSHOT_TZ": "America/New_York", "PX_BID": "190.1", "PX_ASK": "190.2", "PX_LAST": "190.15",
        "PX_VOLUME": "1200", "CRNCY": "USD",
    }  # fmt: skip
    quote = quote_from_row(row, "IBM")
    assert (quote.bid_price, quote.ask_price, quote.last_price, quote.volume) == (
        Decimal("190.1"), Decimal("190.2"), Decimal("190.15"), Decimal("1200"),
    )  # fmt: skip
    assert quote.currency == "USD"


def test_an_unknown_currency_code_is_left_out_rather_than_invented() -> None:
    row = {
        "IDENTIFIER": "X",
        "RC": 0,
        "DL_SNAPSHOT_START_TIME": "2026-03-10T11:01:30Z",
        "CRNCY": "GBp",
        "PX_LAST": "1",
    }
    assert quote_from_row(row, "X").currency is None  # GBp (pence) is Bloomberg's, not ISO 4217


def test_fundamentals_dividend_yield_is_a_fraction() -> None:
    row = {
        "IDENTIFIER": "AAPL US Equity",
        "RC": 0,
        "NAME": "APPLE INC",
        "EQY_DVD_YLD_IND": "0.52",
        "CUR_MKT_CAP": "3.1E12",
    }
    found = fundamentals_from_row(row, "AAPL")
    assert found.dividend_yield == Decimal("0.0052")
    assert found.market_capitalization == Decimal("3.1E12")
    assert found.name == "APPLE INC"


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (b'[{"IDENTIFIER": ', "application/json", "not valid JSON"),
        (b'{"IDENTIFIER": "X"}', "application/json", "not a JSON array of records"),
        (b"<html>maintenance</html>", "text/html", "no IDENTIFIER column"),
    ],
)
def test_an_output_that_is_not_a_data_license_file_is_refused(
    content: bytes, kind: str, message: str
) -> None:
    with pytest.raises(PayloadRejected, match=message):
        parse_output(content, kind, what="DataRequest r1")


def test_a_row_without_identifier_is_refused() -> None:
    with pytest.raises(PayloadRejected, match="no IDENTIFIER"):
        rows_by_identifier([{"RC": 0}])


def test_the_captured_json_output_has_the_documented_columns() -> None:
    records = json.loads((DATA / "output_data_request.json").read_text())
    assert {
        "DL_REQUEST_ID",
        "DL_REQUEST_NAME",
        "DL_SNAPSHOT_START_TIME",
        "DL_SNAPSHOT_TZ",
        "IDENTIFIER",
        "RC",
    } <= set(records[0])
