"""FactSet Prices API wire models: the rows of each endpoint, the batch status and the error envelope.

Field names are FactSet's (camelCase aliases, as in the generated SDK's ``attribute_map``); every data
field is optional because the API answers ``null`` for figures it does not have. Numbers are read as
Decimal straight from the JSON text (the client parses with ``parse_float=Decimal``), so no binary
float rounding enters a price. These models stay inside this connector; :mod:`.mapping` turns them
into canonical models.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ENDPOINTS",
    "WireBatchStatus",
    "WireDividend",
    "WireError",
    "WireMarketValue",
    "WirePrice",
    "WireReference",
    "WireReturn",
    "WireRow",
    "WireShares",
    "WireSplit",
]


class WireRow(BaseModel):
    """What every Prices API row carries: the FactSet id and the id it was asked for."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    fsym_id: str | None = Field(default=None, alias="fsymId")
    request_id: str = Field(alias="requestId")


class WirePrice(WireRow):
    """A ``/prices`` row; ``volume`` is in thousands of shares, summed over the row's period."""

    date: dt.date | None = None
    adj_date: dt.date | None = Field(default=None, alias="adjDate")
    currency: str | None = None
    price: Decimal | None = None
    price_open: Decimal | None = Field(default=None, alias="priceOpen")
    price_high: Decimal | None = Field(default=None, alias="priceHigh")
    price_low: Decimal | None = Field(default=None, alias="priceLow")
    volume: Decimal | None = None


class WireReturn(WireRow):
    """A ``/returns`` row; ``totalReturn`` is in percent over the row's period."""

    date: dt.date | None = None
    adj_date: dt.date | None = Field(default=None, alias="adjDate")
    currency: str | None = None
    total_return: Decimal | None = Field(default=None, alias="totalReturn")


class WireDividend(WireRow):
    """A ``/dividends`` row."""

    divs_ex_date: dt.date | None = Field(default=None, alias="divsExDate")
    adj_date: dt.date | None = Field(default=None, alias="adjDate")
    currency: str | None = None
    divs_paid: Decimal | None = Field(default=None, alias="divsPaid")
    divs_rec_date: dt.date | None = Field(default=None, alias="divsRecDate")
    divs_pay_date: dt.date | None = Field(default=None, alias="divsPayDate")
    divs_type_c: int | None = Field(default=None, alias="divsTypeC")
    divs_type_d: str | None = Field(default=None, alias="divsTypeD")


class WireSplit(WireRow):
    """A ``/splits`` row; ``splitFactor`` is what a price is multiplied by (0.5 for a 2-for-1 split)."""

    date: dt.date | None = None
    split_factor: Decimal | None = Field(default=None, alias="splitFactor")
    split_comment: str | None = Field(default=None, alias="splitComment")


class WireShares(WireRow):
    """A ``/shares`` row, in base units."""

    date: dt.date | None = None
    shares_security: Decimal | None = Field(default=None, alias="sharesSecurity")
    shares_company: Decimal | None = Field(default=None, alias="sharesCompany")


class WireMarketValue(WireRow):
    """A ``/market-value`` row."""

    date: dt.date | None = None
    currency: str | None = None
    security_market_value: Decimal | None = Field(default=None, alias="securityMarketValue")
    entity_market_value: Decimal | None = Field(default=None, alias="entityMarketValue")


class WireReference(WireRow):
    """A ``/references`` row."""

    name: str | None = None
    sec_type: str | None = Field(default=None, alias="secType")
    currency: str | None = None
    country: str | None = None
    primary_exchange: str | None = Field(default=None, alias="primaryExchange")
    first_date: dt.date | None = Field(default=None, alias="firstDate")
    last_date: dt.date | None = Field(default=None, alias="lastDate")


class WireBatchStatus(BaseModel):
    """The ``data`` of a batch request's 202 answer and of ``/batch/v1/status``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    id: str
    status: Literal["QUEUED", "EXECUTING", "DONE", "FAILED"]
    start_time: dt.datetime | None = Field(default=None, alias="startTime")
    end_time: dt.datetime | None = Field(default=None, alias="endTime")
    error: Any = None


class WireError(BaseModel):
    """FactSet's error envelope: ``{status, timestamp, path, message, subErrors}``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    status: str | None = None
    timestamp: str | None = None
    path: str | None = None
    message: str | None = None
    sub_errors: Any = Field(default=None, alias="subErrors")

    def rejected_values(self) -> list[str]:
        """The values the API named as rejected (unknown ids, a bad frequency)."""
        subs = self.sub_errors if isinstance(self.sub_errors, list) else [self.sub_errors]
        found: list[str] = []
        for sub in subs:
            if isinstance(sub, dict):
                value = sub.get("rejectedValue")
                found.extend(str(v) for v in (value if isinstance(value, list) else [value]) if v is not None)
        return found

    def field(self) -> str | None:
        """The request field the first sub-error names."""
        subs = self.sub_errors if isinstance(self.sub_errors, list) else [self.sub_errors]
        for sub in subs:
            if isinstance(sub, dict) and sub.get("field"):
                return str(sub["field"])
        return None


ENDPOINTS: dict[str, type[WireRow]] = {
    "prices": WirePrice,
    "returns": WireReturn,
    "dividends": WireDividend,
    "splits": WireSplit,
    "shares": WireShares,
    "market-value": WireMarketValue,
    "references": WireReference,
}
"""Each Prices API endpoint (under ``/factset-prices/v1/``) and the model of its rows."""
