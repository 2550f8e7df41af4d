"""Drives ``morningstar_data`` (unchanged) against a running mock; run as a subprocess by the tests.

The package reads ``MD_API`` once, when it is imported, so it runs in its own interpreter with the
environment set: ``MD_API``, ``UIM_DECODE_KEY``, ``MD_AUTH_TOKEN`` and, for the error cases,
``MS_EXPIRED_TOKEN`` and ``MS_FOREIGN_TOKEN``. It prints one JSON object: each scenario's frame as
records, or the exception it raised (class name and message).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import morningstar_data as md
from morningstar_data.direct import InvestmentIdentifier
from morningstar_data.direct.data_type import Frequency, TimeSeriesFormat
from morningstar_data.utils import _helpers


def frame(df: Any) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in df.columns],
        "rows": json.loads(df.to_json(orient="records", date_format="iso")),
    }


def attempt(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = call()
        result = frame(out) if hasattr(out, "columns") else {"value": out}
        result["warnings"] = [str(w.message) for w in caught if "deprecated" not in str(w.message)]
        return result
    except Exception as exc:  # the test asserts on the class the package raised
        return {"error": type(exc).__name__, "message": str(exc)}


def with_token(token: str, call: Callable[[], Any]) -> dict[str, Any]:
    saved = os.environ["MD_AUTH_TOKEN"]
    os.environ["MD_AUTH_TOKEN"] = token
    try:
        return attempt(call)
    finally:
        os.environ["MD_AUTH_TOKEN"] = saved


POINTS = [
    {"datapointId": "OS01W"},
    {"datapointId": "LS05M"},
    {"datapointId": "ZZ006"},
    {"datapointId": "HP010", "isTsdp": True, "startDate": "2025-09-01", "endDate": "2025-11-30"},
]

results = {
    "data_points": attempt(lambda: md.direct.get_investment_data(["F00000YOOK", "FOUSA00D6E"], POINTS)),
    "by_identifier": attempt(
        lambda: md.direct.get_investment_data(
            [InvestmentIdentifier(isin="US6176971074"), InvestmentIdentifier(ticker="SPY")],
            [{"datapointId": "OS01W"}, {"datapointId": "LF035"}],
        )
    ),
    "returns": attempt(
        lambda: md.direct.get_returns(
            ["F00000YOOK", "FEUSA04AER"],
            start_date="2025-09-01",
            end_date="2025-11-30",
            freq=Frequency.monthly,
        )
    ),
    "daily_returns": attempt(
        lambda: md.direct.get_returns(
            ["F00000YOOK"], start_date="2025-10-01", end_date="2025-10-31", freq=Frequency.daily
        )
    ),
    "long": attempt(
        lambda: md.direct.get_investment_data(
            ["F0AUS05U7H"],
            [
                {"datapointId": "LS05M"},
                {"datapointId": "HP010", "isTsdp": True, "startDate": "2025-10-01", "endDate": "2025-11-30"},
            ],
            time_series_format=TimeSeriesFormat.LONG,
        )
    ),
    "holdings": attempt(
        lambda: md.direct.get_holdings(investments=["F00000YOOK", "FOUSA00D6E"], date="2025-12-31")
    ),
    "holding_dates": attempt(lambda: md.direct.get_holding_dates(["F00000YOOK"])),
    "lookup": attempt(lambda: md.direct.lookup.investments(investment=InvestmentIdentifier(ticker="AAPL"))),
    "user_id": attempt(_helpers._get_user_id_from_uim_token),
    "partly_unknown": attempt(
        lambda: md.direct.get_investment_data(["F00000YOOK", "NOSUCHSEC1"], [{"datapointId": "OS01W"}])
    ),
    "unknown": attempt(lambda: md.direct.get_investment_data(["NOSUCHSEC1"], [{"datapointId": "OS01W"}])),
    "bad_data_point": attempt(
        lambda: md.direct.get_investment_data(["F00000YOOK"], [{"datapointId": "XX999"}])
    ),
    "expired_call": with_token(
        os.environ["MS_EXPIRED_TOKEN"],
        lambda: md.direct.get_investment_data(["F00000YOOK"], [{"datapointId": "OS01W"}]),
    ),
    "expired_user_id": with_token(os.environ["MS_EXPIRED_TOKEN"], _helpers._get_user_id_from_uim_token),
    "foreign_call": with_token(
        os.environ["MS_FOREIGN_TOKEN"],
        lambda: md.direct.get_investment_data(["F00000YOOK"], [{"datapointId": "OS01W"}]),
    ),
    "foreign_user_id": with_token(os.environ["MS_FOREIGN_TOKEN"], _helpers._get_user_id_from_uim_token),
}
json.dump(results, sys.stdout, default=str)
