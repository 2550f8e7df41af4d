"""Instruments and their identifiers."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from portico.models._common import CanonicalModel, CountryCode, CurrencyCode

__all__ = ["AssetClass", "Instrument"]


class AssetClass(StrEnum):
    """What kind of thing an instrument is."""

    EQUITY = "equity"
    ETF = "etf"
    OPTION = "option"
    FUTURE = "future"
    FX = "fx"
    CRYPTO = "crypto"
    BOND = "bond"
    FUND = "fund"
    INDEX = "index"
    OTHER = "other"


_ISIN_LETTERS = {chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)}


def isin_check_digit_ok(isin: str) -> bool:
    """True when an ISIN's last digit is the Luhn check of the first eleven characters."""
    digits = "".join(_ISIN_LETTERS.get(ch, ch) for ch in isin[:-1])
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10 == int(isin[-1])


class Instrument(CanonicalModel):
    """A tradable or quotable instrument with every identifier known for it.

    ``venue_ids`` maps a system name to that venue's own id (IB's conid, Alpaca's asset id).
    """

    symbol: str = Field(min_length=1)
    asset_class: AssetClass = AssetClass.EQUITY
    name: str | None = None
    exchange: str | None = None
    currency: CurrencyCode | None = None
    country: CountryCode | None = None
    isin: str | None = None
    cusip: str | None = None
    figi: str | None = None
    sedol: str | None = None
    venue_ids: dict[str, str] = Field(default_factory=dict)
    tradable: bool = True
    fractionable: bool = False

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("isin")
    @classmethod
    def _isin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if len(value) != 12 or not value[:2].isalpha() or not value.isalnum() or not value[-1].isdigit():
            raise ValueError(f"{value!r} is not an ISIN (2 letters, 9 alphanumerics, 1 check digit)")
        if not isin_check_digit_ok(value):
            raise ValueError(f"{value!r} has a wrong ISIN check digit")
        return value

    @field_validator("cusip")
    @classmethod
    def _cusip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if len(value) != 9 or not value.isalnum():
            raise ValueError(f"{value!r} is not a CUSIP (9 alphanumerics)")
        return value

    @field_validator("figi")
    @classmethod
    def _figi(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if len(value) != 12 or not value.startswith("BBG"):
            raise ValueError(f"{value!r} is not a FIGI (12 characters starting BBG)")
        return value
