"""FactSet Prices API rows to canonical models.

Conventions (written here because the API leaves them implicit):

* A row's ``date`` is the last day of its period (the day for ``D``, the week's or month's last trading
  day otherwise). Canonical bars are stamped with their period's *start* at midnight America/New_York
  (the day itself, the Monday, the 1st of the month), as every portico market data connector stamps
  daily bars, so the market data service compares FactSet's days with other providers' on one calendar.
* ``volume`` arrives in thousands of shares; bars carry shares.
* A row with no ``price`` is a day without a close (a holiday on a FIVEDAY calendar) and makes no bar.
  Some securities (indices, funds) have a close and no open, high or low: those take the close, so the
  bar is a flat one rather than none.
* ``splitFactor`` multiplies a price to adjust it (0.25 for a 4-for-1 split): the action's
  ``ratio_from : ratio_to`` is ``1 : 4``; a factor above 1 is a reverse split (``10 : 1``). Factors are
  rounded to six places (0.142857), so a ratio within 0.01 % of a whole number is taken as that number.
* ``totalReturn`` is in percent over the row's period; :class:`PeriodReturn` keeps the percent and the
  simple return (the fraction).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from portico.connectors.factset.wire import (
    WireDividend,
    WireMarketValue,
    WirePrice,
    WireReference,
    WireReturn,
    WireShares,
    WireSplit,
)
from portico.errors import PayloadRejected
from portico.models import (
    AssetClass,
    Bar,
    BarInterval,
    CorporateAction,
    CorporateActionType,
    Fundamentals,
    Instrument,
)
from portico.models._iso import COUNTRY_CODES, CURRENCY_CODES

__all__ = [
    "FREQUENCY_OF",
    "SOURCE",
    "MarketValue",
    "PeriodReturn",
    "SharesOutstanding",
    "bars_from_prices",
    "corporate_actions_from_rows",
    "fundamentals_from_rows",
    "instrument_from_reference",
    "market_values_from_rows",
    "period_start",
    "returns_from_rows",
    "shares_from_rows",
]

SOURCE = "factset"
_NEW_YORK = ZoneInfo("America/New_York")
_THOUSAND = Decimal(1000)

FREQUENCY_OF: dict[BarInterval, str] = {BarInterval.DAY: "D", BarInterval.WEEK: "W", BarInterval.MONTH: "M"}
"""The Prices API ``frequency`` of each bar interval FactSet serves."""

_ASSET_CLASSES = {
    "shares": AssetClass.EQUITY,
    "share": AssetClass.EQUITY,
    "preferred": AssetClass.EQUITY,
    "etf": AssetClass.ETF,
    "exchange traded fund": AssetClass.ETF,
    "mutual fund": AssetClass.FUND,
    "fund": AssetClass.FUND,
    "index": AssetClass.INDEX,
}


class PeriodReturn(BaseModel):
    """One period's total return of a security, as FactSet computes it (dividends reinvested by default).

    Attributes:
        symbol: the id it was asked for (ticker or FactSet id).
        fsym_id: FactSet's permanent security id.
        date: the period's last day.
        currency: the currency the return is measured in.
        return_percent: FactSet's ``totalReturn`` (percent).
        simple_return: the same as a fraction (``return_percent / 100``).
    """

    model_config = ConfigDict(frozen=True)

    symbol: str
    fsym_id: str | None
    date: date
    currency: str | None
    return_percent: Decimal
    simple_return: Decimal
    source: str = SOURCE


class SharesOutstanding(BaseModel):
    """Shares outstanding of a security on a day (``/shares``), in shares.

    Attributes:
        symbol: the id it was asked for.
        fsym_id: FactSet's permanent security id.
        date: the day.
        security: security-level common shares outstanding.
        company: company-level shares outstanding (all share classes).
    """

    model_config = ConfigDict(frozen=True)

    symbol: str
    fsym_id: str | None
    date: date
    security: Decimal | None
    company: Decimal | None
    source: str = SOURCE


class MarketValue(BaseModel):
    """Market value of a security and of its company on a day (``/market-value``).

    Attributes:
        symbol: the id it was asked for.
        fsym_id: FactSet's permanent security id.
        date: the day.
        currency: the currency of both values.
        security: price times security-level shares.
        entity: the company's value (all share classes).
    """

    model_config = ConfigDict(frozen=True)

    symbol: str
    fsym_id: str | None
    date: date
    currency: str | None
    security: Decimal | None
    entity: Decimal | None
    source: str = SOURCE



def _shares(value: Decimal) -> Decimal:
    """A share count without trailing zeros from the thousands scaling (4027.08 x 1000 is 4027080, not
    4027080.00), and without an exponent (``normalize`` alone gives 4.02708E+6)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal

def period_start(day: date, interval: BarInterval) -> date:
    """The first day of the period of ``interval`` that ``day`` ends."""
    if interval is BarInterval.WEEK:
        return day - timedelta(days=day.weekday())
    if interval is BarInterval.MONTH:
        return day.replace(day=1)
    return day


def _stamp(day: date) -> datetime:
    return datetime.combine(day, time(0), _NEW_YORK)


def _currency(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.strip().upper()
    return code if code in CURRENCY_CODES else None


def bars_from_prices(
    rows: Iterable[WirePrice], symbol: str, interval: BarInterval = BarInterval.DAY
) -> list[Bar]:
    """Bars oldest first from ``/prices`` rows of one security (see the module's conventions).

    Raises:
        PayloadRejected: a row with a close but no date, or a low above its high.
    """
    bars: list[Bar] = []
    for row in rows:
        if row.price is None:
            continue
        if row.date is None:
            raise PayloadRejected(f"FactSet price row of {row.request_id} has a close but no date")
        close = row.price
        high = row.price_high if row.price_high is not None else close
        low = row.price_low if row.price_low is not None else close
        open_ = row.price_open if row.price_open is not None else close
        if low > high:
            raise PayloadRejected(
                f"FactSet price row of {row.request_id} on {row.date} has low {low} above high {high}"
            )
        bars.append(
            Bar(
                symbol=symbol,
                timestamp=_stamp(period_start(row.date, interval)),
                interval=interval,
                open=open_,
                high=max(high, open_, close),
                low=min(low, open_, close),
                close=close,
                volume=_shares((row.volume or Decimal(0)) * _THOUSAND),
                currency=_currency(row.currency),
                source=SOURCE,
            )
        )
    bars.sort(key=lambda b: b.timestamp)
    return bars


def returns_from_rows(rows: Iterable[WireReturn]) -> list[PeriodReturn]:
    """Period returns, per requested id then oldest first; rows without a return are left out."""
    out = [
        PeriodReturn(
            symbol=row.request_id,
            fsym_id=row.fsym_id,
            date=row.date,
            currency=_currency(row.currency),
            return_percent=row.total_return,
            simple_return=row.total_return / 100,
        )
        for row in rows
        if row.total_return is not None and row.date is not None
    ]
    out.sort(key=lambda r: (r.symbol, r.date))
    return out


def _whole(ratio: Decimal) -> Decimal:
    # FactSet rounds factors to six places (0.142857 for 7-for-1): a ratio that close to a whole number is one
    nearest = ratio.to_integral_value()
    return nearest if abs(ratio - nearest) < Decimal("0.0001") * nearest else ratio.normalize()


def shares_from_rows(rows: Iterable[WireShares]) -> list[SharesOutstanding]:
    """Shares outstanding per requested id then by day; rows without a date are left out."""
    out = [
        SharesOutstanding(
            symbol=r.request_id,
            fsym_id=r.fsym_id,
            date=r.date,
            security=r.shares_security,
            company=r.shares_company,
        )
        for r in rows
        if r.date is not None
    ]
    out.sort(key=lambda r: (r.symbol, r.date))
    return out


def market_values_from_rows(rows: Iterable[WireMarketValue]) -> list[MarketValue]:
    """Market values per requested id then by day; rows without a date are left out."""
    out = [
        MarketValue(
            symbol=r.request_id,
            fsym_id=r.fsym_id,
            date=r.date,
            currency=_currency(r.currency),
            security=r.security_market_value,
            entity=r.entity_market_value,
        )
        for r in rows
        if r.date is not None
    ]
    out.sort(key=lambda r: (r.symbol, r.date))
    return out


def _split_action(row: WireSplit, symbol: str) -> CorporateAction | None:
    if row.split_factor is None or row.date is None or row.split_factor <= 0:
        return None
    factor = row.split_factor
    if factor < 1:
        ratio_from, ratio_to, kind = Decimal(1), _whole(Decimal(1) / factor), CorporateActionType.SPLIT
    else:
        ratio_from, ratio_to, kind = _whole(factor), Decimal(1), CorporateActionType.REVERSE_SPLIT
    return CorporateAction(
        symbol=symbol,
        action_type=kind,
        ex_date=row.date,
        ratio_from=ratio_from,
        ratio_to=ratio_to,
        source=SOURCE,
    )


def _dividend_action(row: WireDividend, symbol: str) -> CorporateAction | None:
    if row.divs_ex_date is None or row.divs_paid is None:
        return None
    text = (row.divs_type_d or "").lower()
    kind = CorporateActionType.STOCK_DIVIDEND if "stock" in text else CorporateActionType.CASH_DIVIDEND
    return CorporateAction(
        symbol=symbol,
        action_type=kind,
        ex_date=row.divs_ex_date,
        record_date=row.divs_rec_date,
        pay_date=row.divs_pay_date,
        cash_amount=row.divs_paid if kind is CorporateActionType.CASH_DIVIDEND else None,
        currency=_currency(row.currency),
        source=SOURCE,
    )


def corporate_actions_from_rows(
    dividends: Iterable[WireDividend],
    splits: Iterable[WireSplit],
    symbol: str,
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[CorporateAction]:
    """Dividends and splits of one security in ``[start, end]``, by ex-date."""
    actions = [a for r in dividends if (a := _dividend_action(r, symbol)) is not None]
    actions += [a for r in splits if (a := _split_action(r, symbol)) is not None]
    if start is not None:
        actions = [a for a in actions if a.ex_date >= start]
    if end is not None:
        actions = [a for a in actions if a.ex_date <= end]
    actions.sort(key=lambda a: (a.ex_date, a.action_type.value))
    return actions


def instrument_from_reference(row: WireReference, symbol: str | None = None) -> Instrument:
    """An instrument from a ``/references`` row; ``venue_ids["factset"]`` holds the permanent id."""
    country = (row.country or "").strip().upper()
    return Instrument(
        symbol=symbol or row.request_id,
        asset_class=_ASSET_CLASSES.get((row.sec_type or "").strip().lower(), AssetClass.EQUITY),
        name=row.name,
        exchange=row.primary_exchange,
        currency=_currency(row.currency),
        country=country if country in COUNTRY_CODES else None,
        venue_ids={"factset": row.fsym_id} if row.fsym_id else {},
        tradable=False,  # a data vendor's reference row, not a venue's listing
    )


def _latest(rows: Sequence[WireShares] | Sequence[WireMarketValue]) -> WireShares | WireMarketValue | None:
    dated = [r for r in rows if r.date is not None]
    return max(dated, key=lambda r: r.date) if dated else None  # type: ignore[arg-type, return-value]


def fundamentals_from_rows(
    reference: WireReference,
    shares: Sequence[WireShares],
    market_values: Sequence[WireMarketValue],
    symbol: str,
) -> Fundamentals:
    """Company overview: the reference row, the latest shares outstanding and the latest market value."""
    last_shares = _latest(shares)
    last_value = _latest(market_values)
    outstanding = None
    if isinstance(last_shares, WireShares):
        outstanding = last_shares.shares_security
    capitalization = None
    currency = _currency(reference.currency)
    if isinstance(last_value, WireMarketValue):
        capitalization = last_value.entity_market_value or last_value.security_market_value
        currency = _currency(last_value.currency) or currency
    return Fundamentals(
        symbol=symbol,
        name=reference.name,
        exchange=reference.primary_exchange,
        currency=currency,
        country=(reference.country or None),
        market_capitalization=capitalization,
        shares_outstanding=outstanding,
        source=SOURCE,
    )
