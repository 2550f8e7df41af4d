"""Morningstar Data API wire models: the task envelope, error body, lookup hits and holdings lines,
keyed exactly as the service keys them (read from ``morningstar_data`` 1.13.0's ``mdapi/_types.py``).

They stay inside this connector; :mod:`portico.connectors.morningstar.mapping` turns them into models.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RETURN_DATA_POINTS",
    "TIME_SERIES_COLUMN",
    "WireError",
    "WireHoldingLine",
    "WireListing",
    "WirePage",
    "WireTask",
    "WireTaskResult",
    "holdings_request",
    "investment_data_request",
]

RETURN_DATA_POINTS: dict[str, str] = {
    "daily": "HS793",
    "weekly": "HP002",
    "monthly": "HP010",
    "quarterly": "HP020",
    "yearly": "HS803",
}
"""The total return data point ``md.direct.get_returns`` asks for per frequency (its ``Frequency`` enum)."""

TIME_SERIES_COLUMN = re.compile(r"^(?P<name>.+) (?P<date>\d{4}-\d{2}-\d{2})$")
"""A wide-format time series column: ``Monthly Return 2021-03-31``."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class WirePage(_Wire):
    """One page of a paged result (holdings): a pre-signed URL to a gzipped JSON-lines file."""

    url: str
    id: int = 0
    expiry_time: str | None = None


class WireTaskResult(_Wire):
    """What a successful task produced."""

    dataframe_file_url: str = ""
    columns_with_list_values: list[str] = Field(default_factory=list)
    warning_messages: list[str] | None = None
    pages: list[WirePage] = Field(default_factory=list)


class WireTask(_Wire):
    """The task envelope every asynchronous function answers with, and every poll."""

    id: str
    poll_url: str
    status: Literal["success", "pending", "failure"] = "pending"
    result: WireTaskResult | None = None
    error_class: str | None = None
    error_message: str | None = None
    next_poll_delay_milliseconds: int = Field(default=1000, ge=0)
    task_timeout_seconds: int = Field(default=900, ge=0)


class WireError(_Wire):
    """The body of an HTTP error: the package raises the ``mdapi`` exception named ``error_class``."""

    error_class: str = ""
    error_message: str = ""


class WireListing(_Wire):
    """One ``search_security`` hit (the columns ``md.direct.lookup.investments`` selects)."""

    name: str | None = Field(default=None, alias="Name")
    sec_id: str = Field(alias="SecId")
    ticker: str | None = Field(default=None, alias="Ticker")
    isin: str | None = Field(default=None, alias="ISIN")
    cusip: str | None = Field(default=None, alias="CUSIP")
    base_currency: str | None = Field(default=None, alias="Base Currency")
    exchange: str | None = Field(default=None, alias="Exchange")
    country: str | None = Field(default=None, alias="Country")
    security_type: str | None = Field(default=None, alias="Security Type")
    fund_id: str | None = Field(default=None, alias="Fund Id")
    performance_id: str | None = Field(default=None, alias="Performance Id")


class WireHoldingLine(_Wire):
    """One line of a holdings file: the fund, its portfolio date and one position's details.

    ``holdingDetails`` values may be plain, ``{"code", "value"}`` pairs or ``{"i": date, "v": value}``
    time series points; the package keeps the ``value`` / ``v`` part and so does :func:`detail`.
    """

    master_portfolio_id: int | None = Field(default=None, alias="masterPortfolioId")
    sec_ids: list[str] = Field(default_factory=list, alias="secIds")
    portfolio_date: date | None = Field(default=None, alias="portfolioDate")
    holding_details: dict[str, Any] = Field(default_factory=dict, alias="holdingDetails")

    def detail(self, key: str) -> Any:
        """A detail's value, unwrapped from ``{"code", "value"}`` or ``{"i", "v"}``."""
        value = self.holding_details.get(key)
        if isinstance(value, dict):
            if "value" in value:
                return value["value"]
            if "v" in value:
                return value["v"]
        return value

    def code(self, key: str) -> Any:
        """The ``code`` of a ``{"code", "value"}`` detail (``USA`` for a country), None otherwise."""
        value = self.holding_details.get(key)
        return value.get("code") if isinstance(value, dict) else None


def investment_data_request(
    investments: list[str],
    datapoints: list[dict[str, Any]],
    *,
    time_series_format: str = "Wide",
    unmatched_investment_behavior: str = "WARNING",
) -> dict[str, Any]:
    """The body of ``POST v1/get_investment_data``, field for field as the package's InvestmentDataRequest."""
    return {
        "investments": investments,
        "datapoints": datapoints,
        "time_series_format": time_series_format,
        "display_name": False,
        "unmatched_investment_behavior": unmatched_investment_behavior,
        "preview": False,
    }


def holdings_request(investments: list[str], dates: list[str] | None) -> dict[str, Any]:
    """The body of ``POST v1/get_holdings_task``, field for field as the package's AsyncHoldingsRequest."""
    return {
        "investments": investments,
        "date": None,
        "start_date": None,
        "end_date": None,
        "data_points": None,
        "dates": dates,
        "frequency": "m",
        "holdings_view": "full",
        "preview": False,
        "enrichment_type": "pointInTime",
        "suppression_client_id": None,
        "delta_start_time": None,
        "delta_include_unchanged_data": None,
        "portfolio_depth": "baseLevel",
    }
