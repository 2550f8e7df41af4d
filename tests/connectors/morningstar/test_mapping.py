"""Morningstar answers to portico models: identifiers, codes, fund data, returns and holdings."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portico.connectors.morningstar.mapping import (
    country_code,
    currency_code,
    decimal,
    fundamentals_from_profile,
    holdings_from_lines,
    identifier_for,
    instrument_from_listing,
    profiles_from_rows,
    returns_from_rows,
)
from portico.connectors.morningstar.models import ReturnFrequency
from portico.connectors.morningstar.wire import WireListing
from portico.errors import PayloadRejected
from portico.models import AssetClass

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("F00000YOOK", ("sec_id", "F00000YOOK")),
        ("f00000yook;fo", ("sec_id", "F00000YOOK;FO")),
        ("0P000000GY", ("sec_id", "0P000000GY")),
        ("US0378331005", ("isin", "US0378331005")),
        ("037833100", ("cusip", "037833100")),
        ("78462F103", ("cusip", "78462F103")),
        ("spy", ("ticker", "SPY")),
        ("BRK.B", ("ticker", "BRK.B")),
        ("NOVO B", ("ticker", "NOVO B")),
        ("US0378331006", ("ticker", "US0378331006")),  # a wrong ISIN check digit: not an ISIN
        ("MORNINGSTR", ("ticker", "MORNINGSTR")),  # ten letters without a digit: no SecId
    ],
)
def test_identifier_kinds(symbol: str, expected: tuple[str, str]) -> None:
    assert identifier_for(symbol) == expected


@pytest.mark.parametrize("symbol", ["", "   ", "AAPL;DROP TABLE", "a" * 16, "<script>"])
def test_identifiers_refused(symbol: str) -> None:
    with pytest.raises(PayloadRejected):
        identifier_for(symbol)


def test_currency_and_country_codes() -> None:
    assert currency_code("US Dollar") == "USD"
    assert currency_code("aud") == "AUD"
    assert currency_code("Australian Dollar") == "AUD"
    assert currency_code("Doubloons") is None
    assert currency_code(None) is None
    assert country_code("USA") == "US"
    assert country_code("United Kingdom") == "GB"
    assert country_code("dk") == "DK"
    assert country_code("Atlantis") is None


def test_decimal_keeps_the_printed_value() -> None:
    assert decimal(0.84) == Decimal("0.84")
    assert decimal(2.070271) == Decimal("2.070271")
    assert decimal(float("nan")) is None
    assert decimal(True) is None
    assert decimal("n/a") is None


def test_lookup_hit_to_instrument() -> None:
    hits = [
        WireListing.model_validate(h)
        for h in json.loads((DATA / "search_security_aapl.json").read_text())["investments"]
    ]
    first = instrument_from_listing(hits[0])
    assert (first.symbol, first.asset_class, first.currency, first.country) == (
        "AAPL",
        AssetClass.EQUITY,
        "USD",
        "US",
    )
    assert first.venue_ids == {"morningstar": "0P000000GY", "morningstar_performance_id": "0P000000GY"}
    assert first.tradable is False
    assert instrument_from_listing(hits[2]).currency == "EUR"


def test_wide_rows_to_profiles_and_fundamentals() -> None:
    rows = [{
        "Id": "F00000YOOK;FO", "Name": "Morningstar US Equity", "Base Currency": "US Dollar",
        "Exchange": "Nasdaq - All Markets", "Inception Date": date(2018, 11, 2), "Domicile": "United States",
        "Global Broad Category Group": "Equity", "Annual Report Adjusted Expense Ratio": 0.84,
    }]  # fmt: skip
    [profile] = profiles_from_rows(rows, {"F00000YOOK": "MSTQX"})
    assert (profile.symbol, profile.sec_id, profile.asset_class) == ("MSTQX", "F00000YOOK", AssetClass.FUND)
    assert (profile.currency, profile.domicile, profile.expense_ratio) == ("USD", "US", Decimal("0.84"))
    assert profile.inception_date == date(2018, 11, 2)
    assert profile.values["Inception Date"] == "2018-11-02"
    fundamentals = fundamentals_from_profile(profile)
    assert (fundamentals.symbol, fundamentals.country, fundamentals.sector) == ("MSTQX", "US", "Equity")


def test_a_row_without_id_is_refused() -> None:
    with pytest.raises(PayloadRejected, match="no Id"):
        profiles_from_rows([{"Name": "x"}], {})


def test_long_and_wide_return_rows() -> None:
    long_rows = [
        {"Id": "F00000VKPI", "Date": date(2020, 11, 30), "Monthly Return": 6.337255},
        {"Id": "F00000VKPI", "Date": date(2020, 10, 31), "Monthly Return": -2.121865},
        {"Id": "F00000VKPI", "Date": date(2020, 12, 31), "Monthly Return": None},  # not yet calculated
    ]
    got = returns_from_rows(long_rows, ReturnFrequency.MONTHLY, {"F00000VKPI": "VKPI"})
    assert [(o.symbol, o.period_end, o.total_return) for o in got] == [
        ("VKPI", date(2020, 10, 31), Decimal("-2.121865")),
        ("VKPI", date(2020, 11, 30), Decimal("6.337255")),
    ]
    wide = [{"Id": "F0AUS05U7H", "Name": "Walter Scott Global Equity", "Base Currency": "Australian Dollar",
             "Monthly Return 2021-03-31": 3.726094, "Monthly Return 2021-04-30": 3.078352}]  # fmt: skip
    got = returns_from_rows(wide, ReturnFrequency.MONTHLY, {})
    assert [(o.sec_id, o.period_end, o.total_return) for o in got] == [
        ("F0AUS05U7H", date(2021, 3, 31), Decimal("3.726094")),
        ("F0AUS05U7H", date(2021, 4, 30), Decimal("3.078352")),
    ]


def test_holdings_lines() -> None:
    lines = [json.loads(line) for line in (DATA / "holdings_page.jsonl").read_text().splitlines()]
    holdings = holdings_from_lines(lines, {"FOUSA00KZH": "FUND"})
    assert [(h.fund_symbol, h.name, h.weight, h.shares, h.currency, h.country) for h in holdings] == [
        ("FUND", "Microsoft Corp", Decimal("11.16649"), Decimal("1200"), "USD", "US"),
        ("FUND", "Apple Inc", Decimal("10.49672"), Decimal("1900"), "USD", "US"),
    ]
    assert holdings[0].master_portfolio_id == 6079
    assert holdings[0].market_value == Decimal("266892.0")


def test_a_holdings_line_without_fund_or_date_is_refused() -> None:
    with pytest.raises(PayloadRejected, match="line 1"):
        holdings_from_lines([{"secIds": [], "portfolioDate": "2020-12-31"}], {})
    with pytest.raises(PayloadRejected, match="line 2"):
        holdings_from_lines([{"secIds": ["A"], "portfolioDate": "2020-12-31"}, {"secIds": ["A"]}], {})
    with pytest.raises(PayloadRejected, match="malformed"):
        holdings_from_lines([{"secIds": "A", "portfolioDate": "not a date"}], {})
