"""Shared field types: ISO codes, aware timestamps, the frozen model base."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

__all__ = [
    "AwareDatetime",
    "CanonicalModel",
    "CountryCode",
    "CurrencyCode",
    "Money",
    "Quantity",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCY_CODES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("timestamp must be timezone-aware")
    return value


def _decimal(value: Any) -> Any:
    # floats go through str() so 0.1 becomes Decimal("0.1"), not its binary expansion
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


CurrencyCode = Annotated[str, AfterValidator(_currency)]
"""An ISO 4217 alphabetic code, upper case."""

CountryCode = Annotated[str, AfterValidator(_country)]
"""An ISO 3166-1 alpha-2 code, upper case."""

AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
"""A timezone-aware timestamp; naive values are rejected."""

Money = Annotated[Decimal, BeforeValidator(_decimal), PlainSerializer(str, return_type=str, when_used="json")]
"""A monetary amount as Decimal (serialised as a string in JSON so no precision is lost)."""

Quantity = Money
"""A quantity of an instrument as Decimal (fractional shares allowed)."""


class CanonicalModel(BaseModel):
    """Base of every canonical model: immutable, strict about unknown fields, vendor extras kept apart.

    ``raw`` keeps the vendor's wire payload for debugging; it is excluded from equality and dumps.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_enum_values=False)
