"""Morningstar's own package (morningstar-data 1.13.0) unchanged against the mock over TCP.

The package reads ``MD_API`` once at import (and two modules keep two different defaults), so it runs in
a fresh interpreter with its own settings pointing at the mock: ``MD_API``, ``UIM_DECODE_KEY`` (the JWKS
PyJWT's ``PyJWKClient`` fetches) and ``MD_AUTH_TOKEN`` (a token the mock signed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico.mocks import start_mock
from portico.mocks.morningstar import create_app

pytest.importorskip("morningstar_data")

RUNNER = Path(__file__).with_name("md_client_run.py")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def package() -> Iterator[dict[str, Any]]:
    """Every scenario of ``md_client_run.py``, run once against one mock."""
    app = create_app(seed=7)
    mock = app.state.mock
    mock.page_size = 4  # 9 positions of the two funds: three pages for the package to merge
    foreign = create_app(seed=1).state.mock  # another issuer's key: not in the mock's JWKS
    with start_mock(app) as running:
        env = {
            **os.environ,
            "MD_API": running.urls["base"],
            "UIM_DECODE_KEY": running.urls["jwks"],
            "MD_AUTH_TOKEN": mock.issue_token("6d3e2c1a-0b4f-4e5d-9c8b-7a6f5e4d3c2b"),
            "MS_EXPIRED_TOKEN": mock.issue_token(lifetime=-120),  # past PyJWT's 60 s leeway
            "MS_FOREIGN_TOKEN": foreign.issue_token(),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("UIM_JWT", None)
        done = subprocess.run(
            [sys.executable, str(RUNNER)], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        results = json.loads(done.stdout)
        results["holdings_pages_fetched"] = len(
            [e for e in running.app.journal.entries("GET", None) if "-page-" in e.path]
        )
        yield results


def test_data_points_of_two_funds(package: dict[str, Any]) -> None:
    got = package["data_points"]
    assert got["columns"] == [
        "Id", "Name", "Base Currency", "Annual Report Adjusted Expense Ratio",
        "Monthly Return 2025-09-30", "Monthly Return 2025-10-31", "Monthly Return 2025-11-30",
    ]  # fmt: skip
    first, second = got["rows"]
    assert (first["Id"], first["Name"], first["Base Currency"]) == (
        "F00000YOOK",
        "Morningstar US Equity",
        "US Dollar",
    )
    assert first["Annual Report Adjusted Expense Ratio"] == 0.84
    assert (second["Id"], second["Annual Report Adjusted Expense Ratio"]) == ("FOUSA00D6E", 0.58)
    # seeded values, captured from the mock at seed 7
    assert first["Monthly Return 2025-10-31"] == 2.070271
    assert got["warnings"] == []


def test_investments_given_as_identifiers(package: dict[str, Any]) -> None:
    rows = package["by_identifier"]["rows"]
    assert [(r["Id"], r["Global Broad Category Group"]) for r in rows] == [
        ("F00000YOOK", "Equity"),
        ("FEUSA04AER", "Equity"),
    ]


def test_get_returns_long_without_name(package: dict[str, Any]) -> None:
    got = package["returns"]
    assert got["columns"] == ["Id", "Date", "Monthly Return"]
    assert [(r["Id"], r["Date"][:10]) for r in got["rows"]] == [
        ("F00000YOOK", "2025-09-30"), ("F00000YOOK", "2025-10-31"), ("F00000YOOK", "2025-11-30"),
        ("FEUSA04AER", "2025-09-30"), ("FEUSA04AER", "2025-10-31"), ("FEUSA04AER", "2025-11-30"),
    ]  # fmt: skip
    # the same fund's returns agree whichever call asked for them
    assert got["rows"][1]["Monthly Return"] == package["data_points"]["rows"][0]["Monthly Return 2025-10-31"]


def test_daily_returns_compound_to_the_monthly_return(package: dict[str, Any]) -> None:
    daily = package["daily_returns"]["rows"]
    assert len(daily) == 23  # business days of October 2025
    growth = 1.0
    for row in daily:
        growth *= 1 + row["Daily Return"] / 100
    monthly = package["returns"]["rows"][1]["Monthly Return"]
    assert abs((growth - 1) * 100 - monthly) < 1e-3


def test_long_format_keeps_name_and_repeats_static_values(package: dict[str, Any]) -> None:
    got = package["long"]
    assert got["columns"] == ["Id", "Name", "Date", "Base Currency", "Monthly Return"]
    assert {r["Base Currency"] for r in got["rows"]} == {"Australian Dollar"}
    assert len(got["rows"]) == 2


def test_holdings_of_two_funds(package: dict[str, Any]) -> None:
    got = package["holdings"]
    for column in ("masterPortfolioId", "investmentId", "portfolioDate", "name", "isin", "weight", "marketValue",
                   "detailHoldingType", "country"):  # fmt: skip
        assert column in got["columns"]
    rows = got["rows"]
    assert {r["investmentId"] for r in rows} == {"F00000YOOK", "FOUSA00D6E"}
    assert len([r for r in rows if r["investmentId"] == "F00000YOOK"]) == 5
    assert len([r for r in rows if r["investmentId"] == "FOUSA00D6E"]) == 4
    assert {r["portfolioDate"] for r in rows} == {"2025-12-31"}
    msft = next(r for r in rows if r["investmentId"] == "F00000YOOK" and r["ticker"] == "MSFT")
    assert (msft["isin"], msft["country"], msft["detailHoldingType"]) == (
        "US5949181045",
        "United States",
        "EQUITY",
    )
    assert package["holdings_pages_fetched"] == 3
    for fund in ("F00000YOOK", "FOUSA00D6E"):
        assert abs(sum(r["weight"] for r in rows if r["investmentId"] == fund) - 100) < 0.01


def test_holding_dates(package: dict[str, Any]) -> None:
    assert package["holding_dates"]["rows"] == [
        {"secId": "F00000YOOK", "date": "2025-12-31"},
        {"secId": "F00000YOOK", "date": "2025-11-30"},
        {"secId": "F00000YOOK", "date": "2025-10-31"},
    ]


def test_lookup_by_ticker(package: dict[str, Any]) -> None:
    rows = package["lookup"]["rows"]
    assert [(r["SecId"], r["ISIN"], r["Security Type"]) for r in rows] == [
        ("0P000000GY", "US0378331005", "ST")
    ]


def test_user_id_read_from_the_token_through_the_jwks(package: dict[str, Any]) -> None:
    assert package["user_id"]["value"] == "6D3E2C1A-0B4F-4E5D-9C8B-7A6F5E4D3C2B"


def test_unknown_investments_warn_or_fail(package: dict[str, Any]) -> None:
    partly = package["partly_unknown"]
    assert [r["Id"] for r in partly["rows"]] == ["F00000YOOK"]
    assert partly["warnings"] == ["Investments not found: NOSUCHSEC1"]
    assert package["unknown"]["error"] == "ResourceNotFoundError"
    assert "NOSUCHSEC1" in package["unknown"]["message"]


def test_bad_data_point_is_a_bad_request(package: dict[str, Any]) -> None:
    assert package["bad_data_point"]["error"] == "BadRequestError"
    assert "XX999" in package["bad_data_point"]["message"]


def test_expired_token_is_refused_by_the_service_and_by_the_package(package: dict[str, Any]) -> None:
    assert package["expired_call"]["error"] == "AccessDeniedError"
    assert "expired" in package["expired_call"]["message"]
    assert package["expired_user_id"]["error"] == "ExpiredSignatureError"


def test_token_signed_by_another_key_is_refused(package: dict[str, Any]) -> None:
    assert package["foreign_call"]["error"] == "AccessDeniedError"
    assert package["foreign_user_id"]["error"] == "PyJWKClientError"
