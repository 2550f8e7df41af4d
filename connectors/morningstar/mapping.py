"""Morningstar answers to portico models: identifiers, fund data frames, return frames, holdings lines.

Morningstar names currencies and countries in words (``US Dollar``, ``United States``) in data points and
with ISO alpha-3 codes (``USA``) in lookups and holdings; portico wants ISO 4217 and ISO 3166 alpha-2.
Names it does not know map to ``None`` rather than to a guess.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from portico.connectors.morningstar.models import FundHolding, FundProfile, ReturnFrequency, ReturnObservation
from portico.connectors.morningstar.wire import TIME_SERIES_COLUMN, WireHoldingLine, WireListing
from portico.errors import PayloadRejected
from portico.models import AssetClass, Fundamentals, Instrument
from portico.models._instrument import isin_check_digit_ok
from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

__all__ = [
    "FUND_DATA_POINTS",
    "country_code",
    "currency_code",
    "fundamentals_from_profile",
    "holdings_from_lines",
    "identifier_for",
    "instrument_from_listing",
    "profiles_from_rows",
    "returns_from_rows",
]

SOURCE = "morningstar"

FUND_DATA_POINTS: tuple[dict[str, Any], ...] = (
    {"datapointId": "OS01W"},  # Name
    {"datapointId": "LS05M"},  # Base Currency
    {"datapointId": "LS01Z"},  # Exchange
    {"datapointId": "OS00F"},  # Inception Date
    {"datapointId": "LS017"},  # Domicile
    {"datapointId": "LF035"},  # Global Broad Category Group
    {"datapointId": "ZZ006"},  # Annual Report Adjusted Expense Ratio
)
"""The data points of a fund profile (ids as the package's documentation uses them)."""

_CURRENCY_NAMES = {
    "US Dollar": "USD", "Euro": "EUR", "British Pound": "GBP", "Pound Sterling": "GBP", "Japanese Yen": "JPY",
    "Swiss Franc": "CHF", "Canadian Dollar": "CAD", "Australian Dollar": "AUD", "New Zealand Dollar": "NZD",
    "Hong Kong Dollar": "HKD", "Singapore Dollar": "SGD", "Swedish Krona": "SEK", "Norwegian Krone": "NOK",
    "Danish Krone": "DKK", "Chinese Yuan Renminbi": "CNY", "Chinese Yuan": "CNY", "Indian Rupee": "INR",
    "South African Rand": "ZAR", "Brazilian Real": "BRL", "Mexican Peso": "MXN", "Korean Won": "KRW",
    "South Korean Won": "KRW", "Taiwan Dollar": "TWD", "New Taiwan Dollar": "TWD",
}  # fmt: skip
_COUNTRY_NAMES = {
    "United States": "US", "United Kingdom": "GB", "Canada": "CA", "Australia": "AU", "Germany": "DE",
    "France": "FR", "Japan": "JP", "Switzerland": "CH", "Netherlands": "NL", "Ireland": "IE",
    "Luxembourg": "LU", "Denmark": "DK", "Sweden": "SE", "Norway": "NO", "Taiwan": "TW", "Hong Kong": "HK",
    "China": "CN", "India": "IN", "South Korea": "KR", "Korea": "KR", "Singapore": "SG", "Spain": "ES",
    "Italy": "IT", "Brazil": "BR", "Belgium": "BE", "Finland": "FI", "Austria": "AT", "New Zealand": "NZ",
    "South Africa": "ZA", "Mexico": "MX",
}  # fmt: skip
_ALPHA3 = {
    "USA": "US", "GBR": "GB", "CAN": "CA", "AUS": "AU", "DEU": "DE", "FRA": "FR", "JPN": "JP", "CHE": "CH",
    "NLD": "NL", "IRL": "IE", "LUX": "LU", "DNK": "DK", "SWE": "SE", "NOR": "NO", "TWN": "TW", "HKG": "HK",
    "CHN": "CN", "IND": "IN", "KOR": "KR", "SGP": "SG", "ESP": "ES", "ITA": "IT", "BRA": "BR", "BEL": "BE",
    "FIN": "FI", "AUT": "AT", "NZL": "NZ", "ZAF": "ZA", "MEX": "MX",
}  # fmt: skip
_UNIVERSES = {"FO": AssetClass.FUND, "FE": AssetClass.ETF, "FC": AssetClass.FUND, "ST": AssetClass.EQUITY,
              "XI": AssetClass.INDEX, "FI": AssetClass.BOND}  # fmt: skip

_SEC_ID = re.compile(r"^[0-9A-Z]{10}(;[A-Z]{2})?$")
_ISIN = re.compile(r"^[A-Z]{2}[0-9A-Z]{9}[0-9]$")
_CUSIP = re.compile(r"^[0-9A-Z]{8}[0-9]$")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-/ ]{0,14}$")


def _cusip_ok(cusip: str) -> bool:
    total = 0
    for i, ch in enumerate(cusip[:8]):
        n = int(ch) if ch.isdigit() else ord(ch) - 55
        if i % 2:
            n *= 2
        total += n // 10 + n % 10
    return (10 - total % 10) % 10 == int(cusip[8])


def identifier_for(symbol: str) -> tuple[str, str]:
    """What kind of identifier ``symbol`` is and its normal form: ``sec_id``, ``isin``, ``cusip`` or ``ticker``.

    A SecId is ten letters and digits with at least one digit (``F00000YOOK``, optionally ``;FO``); an
    ISIN or CUSIP must pass its check digit; anything else of ticker shape is a ticker.

    Raises:
        PayloadRejected: empty, or characters no identifier has.
    """
    text = symbol.strip().upper()
    if not text:
        raise PayloadRejected("an empty symbol names no Morningstar investment")
    if _ISIN.match(text) and isin_check_digit_ok(text):
        return "isin", text
    if _SEC_ID.match(text) and any(ch.isdigit() for ch in text[:10]):
        return "sec_id", text
    if _CUSIP.match(text) and _cusip_ok(text):
        return "cusip", text
    if _TICKER.match(text):
        return "ticker", text
    raise PayloadRejected(
        f"{symbol!r} is neither a Morningstar SecId, an ISIN, a CUSIP nor a ticker "
        "(letters, digits, '.', '-', '/' and spaces, at most 15 characters)"
    )


def currency_code(value: Any) -> str | None:
    """ISO 4217 from ``USD`` or ``US Dollar``; None when unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.upper() in CURRENCY_CODES:
        return text.upper()
    return _CURRENCY_NAMES.get(text)


def country_code(value: Any) -> str | None:
    """ISO 3166 alpha-2 from ``US``, ``USA`` or ``United States``; None when unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if len(text) == 2 and text.upper() in COUNTRY_CODES:
        return text.upper()
    if len(text) == 3 and text.upper() in _ALPHA3:
        return _ALPHA3[text.upper()]
    return _COUNTRY_NAMES.get(text)


def decimal(value: Any) -> Decimal | None:
    """A number from the wire as Decimal (floats through ``str``, so 0.84 stays 0.84); None for null/NaN."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return None if number.is_nan() else number


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def instrument_from_listing(listing: WireListing) -> Instrument:
    """A lookup hit as an Instrument: the ticker as symbol when there is one, the SecId always in venue_ids."""
    venue_ids = {"morningstar": listing.sec_id}
    if listing.fund_id:
        venue_ids["morningstar_fund_id"] = listing.fund_id
    if listing.performance_id:
        venue_ids["morningstar_performance_id"] = listing.performance_id
    return Instrument(
        symbol=listing.ticker or listing.sec_id,
        asset_class=_UNIVERSES.get(listing.security_type or "", AssetClass.OTHER),
        name=listing.name,
        exchange=listing.exchange,
        currency=currency_code(listing.base_currency),
        country=country_code(listing.country),
        isin=listing.isin,
        cusip=listing.cusip,
        venue_ids=venue_ids,
        tradable=False,
    )


def profiles_from_rows(
    rows: list[dict[str, Any]], symbols: dict[str, str], universes: dict[str, str] | None = None
) -> list[FundProfile]:
    """Wide-format ``get_investment_data`` rows as fund profiles.

    Args:
        rows: the feather file's rows (``Id``, ``Name`` and a column per data point).
        symbols: SecId -> the symbol the caller asked for.
        universes: SecId -> security type, when a lookup told it.
    """
    out: list[FundProfile] = []
    for row in rows:
        sec_id = str(row.get("Id") or "").partition(";")[0]
        if not sec_id:
            raise PayloadRejected("a Morningstar investment data row has no Id")
        universe = (universes or {}).get(sec_id) or (str(row["Id"]).partition(";")[2] or None)
        values = {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items() if k not in ("Id",)}
        out.append(
            FundProfile(
                symbol=symbols.get(sec_id, sec_id),
                sec_id=sec_id,
                name=row.get("Name"),
                asset_class=_UNIVERSES.get(universe) if universe else None,
                currency=currency_code(row.get("Base Currency")),
                exchange=row.get("Exchange"),
                domicile=country_code(row.get("Domicile")),
                category_group=row.get("Global Broad Category Group"),
                expense_ratio=decimal(row.get("Annual Report Adjusted Expense Ratio")),
                inception_date=_date(row.get("Inception Date")),
                values=values,
                source=SOURCE,
            )
        )
    return out


def fundamentals_from_profile(profile: FundProfile) -> Fundamentals:
    """The shared Fundamentals view of a profile (its category group as the sector)."""
    return Fundamentals(
        symbol=profile.symbol,
        name=profile.name,
        exchange=profile.exchange,
        currency=profile.currency,
        country=profile.domicile,
        sector=profile.category_group,
        source=SOURCE,
    )


def returns_from_rows(
    rows: list[dict[str, Any]],
    frequency: ReturnFrequency,
    symbols: dict[str, str],
    *,
    currency: str | None = None,
) -> list[ReturnObservation]:
    """Return rows (long without name: ``Id``, ``Date``, ``<Frequency> Return``; or wide
    ``<Frequency> Return YYYY-MM-DD`` columns) as observations, per investment oldest first."""
    out: list[ReturnObservation] = []
    for row in rows:
        sec_id = str(row.get("Id") or "").partition(";")[0]
        if not sec_id:
            raise PayloadRejected("a Morningstar return row has no Id")
        points: list[tuple[date, Any]] = []
        if "Date" in row:
            value = next((v for k, v in row.items() if k.endswith("Return")), None)
            day = _date(row["Date"])
            if day is not None:
                points.append((day, value))
        else:
            for key, value in row.items():
                match = TIME_SERIES_COLUMN.match(key)
                if match and match["name"].endswith("Return"):
                    points.append((date.fromisoformat(match["date"]), value))
        for day, value in points:
            number = decimal(value)
            if number is None:
                continue  # a period without a return (before inception, not yet calculated)
            out.append(
                ReturnObservation(
                    symbol=symbols.get(sec_id, sec_id),
                    sec_id=sec_id,
                    period_end=day,
                    frequency=frequency,
                    total_return=number,
                    currency=currency,
                    source=SOURCE,
                )
            )
    out.sort(key=lambda o: (o.symbol, o.period_end))
    return out


def holdings_from_lines(lines: list[dict[str, Any]], symbols: dict[str, str]) -> list[FundHolding]:
    """Holdings JSON lines as fund holdings (one per line and fund SecId).

    Raises:
        PayloadRejected: a line is not a holdings record (no fund id or no portfolio date).
    """
    out: list[FundHolding] = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = WireHoldingLine.model_validate(raw)
        except ValidationError as exc:
            raise PayloadRejected(f"holdings line {number} is malformed: {exc.errors()[0]['msg']}") from None
        if not line.sec_ids or line.portfolio_date is None:
            raise PayloadRejected(f"holdings line {number} names no fund (secIds) or no portfolioDate")
        for fund in line.sec_ids:
            out.append(
                FundHolding(
                    fund_symbol=symbols.get(fund, fund),
                    fund_sec_id=fund,
                    portfolio_date=line.portfolio_date,
                    name=line.detail("name"),
                    sec_id=line.detail("secId"),
                    ticker=line.detail("ticker"),
                    isin=line.detail("isin"),
                    shares=decimal(line.detail("numberOfShare")),
                    market_value=decimal(line.detail("marketValue")),
                    weight=decimal(line.detail("weight")),
                    currency=currency_code(line.detail("currency")),
                    holding_type=line.detail("detailHoldingType"),
                    country=country_code(line.code("country")) or country_code(line.detail("country")),
                    master_portfolio_id=line.master_portfolio_id,
                    source=SOURCE,
                )
            )
    return out
