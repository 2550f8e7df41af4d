"""Fund data, total returns and fund holdings: what the Morningstar connector returns beyond the shared
canonical models.

portico's canonical models have no fund profile, return series or fund holding yet; these follow the
same rules (immutable, Decimal for money and percentages, ISO codes) so
they can move to :mod:`portico.models` unchanged when core adopts them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field

from portico.models import AssetClass, CanonicalModel, CountryCode, CurrencyCode, Money, Quantity

__all__ = ["FundHolding", "FundProfile", "ReturnFrequency", "ReturnObservation"]


class ReturnFrequency(StrEnum):
    """The period of a total return."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class FundProfile(CanonicalModel):
    """Reference data of a fund, ETF or stock."""

    symbol: str
    sec_id: str
    name: str | None = None
    asset_class: AssetClass | None = None
    currency: CurrencyCode | None = None
    exchange: str | None = None
    domicile: CountryCode | None = None
    category_group: str | None = None
    expense_ratio: Decimal | None = None
    """Annual report adjusted expense ratio, in percent (``0.84`` is 0.84 %)."""
    inception_date: date | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    """Every data point asked for, by the column name the service gave it."""
    source: str | None = None


class ReturnObservation(CanonicalModel):
    """The total return of one period, in percent (``2.07`` is 2.07 %)."""

    symbol: str
    sec_id: str
    period_end: date
    frequency: ReturnFrequency
    total_return: Decimal
    currency: CurrencyCode | None = None
    source: str | None = None


class FundHolding(CanonicalModel):
    """One position of a fund's portfolio on a portfolio date."""

    fund_symbol: str
    fund_sec_id: str
    portfolio_date: date
    name: str | None = None
    sec_id: str | None = None
    ticker: str | None = None
    isin: str | None = None
    shares: Quantity | None = None
    market_value: Money | None = None
    weight: Decimal | None = None
    """Percent of the portfolio's market value."""
    currency: CurrencyCode | None = None
    holding_type: str | None = None
    country: CountryCode | None = None
    master_portfolio_id: int | None = None
    source: str | None = None
