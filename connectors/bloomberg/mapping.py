"""Data License rows to portico's models, and portico symbols to Data License identifiers.

An output row carries ``IDENTIFIER`` (the universe member as sent), ``RC`` (0: answered; otherwise the
security was not identified or not entitled), the snapshot's ``DL_SNAPSHOT_START_TIME`` in
``DL_SNAPSHOT_TZ``, a ``DATE`` for history rows, and one value per requested mnemonic. Values come as
strings (CSV, and JSON as the mock writes it) or numbers; both are read into ``Decimal`` without going
through ``float``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portico.connectors.bloomberg.wire import IdentifierType
from portico.errors import NotFound, PayloadRejected
from portico.models import Bar, BarInterval, Fundamentals, FxRate, Quote
from portico.models._iso import CURRENCY_CODES

__all__ = [
    "BAR_FIELDS",
    "FUNDAMENTAL_FIELDS",
    "FX_FIELDS",
    "QUOTE_FIELDS",
    "bars_from_rows",
    "decimal_of",
    "fundamentals_from_row",
    "fx_identifier",
    "fx_rate_from_row",
    "identifier_for",
    "quote_from_row",
    "rows_by_identifier",
    "snapshot_time",
]

QUOTE_FIELDS = ("PX_BID", "PX_ASK", "PX_LAST", "PX_VOLUME", "CRNCY")
FX_FIELDS = ("PX_BID", "PX_ASK", "PX_MID", "PX_LAST")
BAR_FIELDS = ("PX_OPEN", "PX_HIGH", "PX_LOW", "PX_LAST", "PX_VOLUME")
FUNDAMENTAL_FIELDS = (
    "NAME", "CRNCY", "COUNTRY_ISO", "EXCH_CODE", "GICS_SECTOR_NAME", "INDUSTRY_SECTOR", "CUR_MKT_CAP",
    "PE_RATIO", "IS_EPS", "EQY_DVD_YLD_IND", "EQY_BETA", "EQY_SH_OUT",
)  # fmt: skip

_YELLOW_KEYS = ("equity", "curncy", "index", "comdty", "corp", "govt", "mtge", "muni", "pfd", "m-mkt")
_ISIN = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
_FIGI = re.compile(r"^BBG[0-9A-Z]{9}$")
_NOT_AVAILABLE = {"", "N.A.", "N.D.", "N.S.", "FLD UNKNOWN", "NA"}
_SOURCE = "bloomberg"


def identifier_for(symbol: str, yellow_key: str) -> tuple[IdentifierType, str]:
    """The identifier a portico symbol is sent as: an ISIN or FIGI as such, a ticker with a yellow key
    as it is, a bare ticker with ``yellow_key`` appended (``AAPL`` -> ``AAPL US Equity``).

    Raises:
        PayloadRejected: an empty symbol.
    """
    text = " ".join(symbol.split())
    if not text:
        raise PayloadRejected("an empty symbol cannot be sent to Bloomberg", field="symbol")
    upper = text.upper()
    if _FIGI.match(upper):
        return "BB_GLOBAL", upper
    if _ISIN.match(upper) and any(c.isdigit() for c in upper[2:]):
        return "ISIN", upper
    if " " in text and text.rsplit(" ", 1)[-1].lower() in _YELLOW_KEYS:
        return "TICKER", text
    return "TICKER", f"{upper} {yellow_key}"


def fx_identifier(base: str, quote: str) -> str:
    """The spot cross ticker of a currency pair (``EUR``, ``USD`` -> ``EURUSD Curncy``)."""
    return f"{base}{quote} Curncy"


def decimal_of(row: dict[str, Any], field: str) -> Decimal | None:
    """The field's value as a Decimal, None when absent or "not available".

    Raises:
        PayloadRejected: the value is not a number.
    """
    value = row.get(field)
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.upper() in _NOT_AVAILABLE:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PayloadRejected(
            f"Bloomberg sent {field}={text[:40]!r} for {row.get('IDENTIFIER')!r}, which is not a number",
            field=field,
        ) from None
    if not number.is_finite():
        raise PayloadRejected(
            f"Bloomberg sent a non-finite {field} for {row.get('IDENTIFIER')!r}", field=field
        )
    return number


def _text(row: dict[str, Any], field: str) -> str | None:
    value = row.get(field)
    if value is None:
        return None
    text = str(value).strip()
    return None if text.upper() in _NOT_AVAILABLE else text


def snapshot_time(row: dict[str, Any]) -> datetime:
    """When the row's data was taken: ``DL_SNAPSHOT_START_TIME`` in ``DL_SNAPSHOT_TZ`` (UTC when no zone).

    Raises:
        PayloadRejected: the time is missing or unreadable.
    """
    raw = _text(row, "DL_SNAPSHOT_START_TIME")
    if raw is None:
        raise PayloadRejected(
            "a Bloomberg output row has no DL_SNAPSHOT_START_TIME", field="DL_SNAPSHOT_START_TIME"
        )
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadRejected(
            f"unreadable DL_SNAPSHOT_START_TIME {raw!r}", field="DL_SNAPSHOT_START_TIME"
        ) from None
    if when.tzinfo is None:
        zone_name = _text(row, "DL_SNAPSHOT_TZ") or "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise PayloadRejected(f"unknown DL_SNAPSHOT_TZ {zone_name!r}", field="DL_SNAPSHOT_TZ") from None
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def rows_by_identifier(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by the ``IDENTIFIER`` they answer, in file order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        identifier = row.get("IDENTIFIER")
        if not isinstance(identifier, str):
            raise PayloadRejected("a Bloomberg output row has no IDENTIFIER", field="IDENTIFIER")
        grouped.setdefault(identifier, []).append(row)
    return grouped


def return_code(row: dict[str, Any]) -> int:
    """The row's ``RC`` (0 when absent)."""
    value = row.get("RC")
    if value in (None, ""):
        return 0
    try:
        return int(str(value))
    except ValueError:
        raise PayloadRejected(f"unreadable RC {value!r} for {row.get('IDENTIFIER')!r}", field="RC") from None


def require_answered(row: dict[str, Any], symbol: str) -> None:
    """Raise :class:`NotFound` when the row's return code says the security was not answered."""
    code = return_code(row)
    if code != 0:
        raise NotFound(
            f"Bloomberg did not answer {row.get('IDENTIFIER')!r} (for {symbol!r}): RC {code} "
            "(the security is unknown or not entitled)",
            venue_code=f"RC{code}",
        )


def _currency(row: dict[str, Any]) -> str | None:
    # not upper-cased: Bloomberg's "GBp" is pence, and calling it GBP would misstate prices a hundredfold
    code = _text(row, "CRNCY") or ""
    return code if code in CURRENCY_CODES else None


def quote_from_row(row: dict[str, Any], symbol: str) -> Quote:
    """A quote from PX_BID, PX_ASK, PX_LAST and PX_VOLUME at the snapshot time."""
    require_answered(row, symbol)
    return Quote(
        symbol=symbol,
        timestamp=snapshot_time(row),
        bid_price=decimal_of(row, "PX_BID"),
        ask_price=decimal_of(row, "PX_ASK"),
        last_price=decimal_of(row, "PX_LAST"),
        volume=decimal_of(row, "PX_VOLUME"),
        currency=_currency(row),
        source=_SOURCE,
    )


def fx_rate_from_row(row: dict[str, Any], base: str, quote: str) -> FxRate:
    """An FX rate: PX_MID (else PX_LAST, else the bid/ask middle) with PX_BID and PX_ASK.

    Raises:
        NotFound: the cross was not answered (RC not 0).
        PayloadRejected: no price at all, or bid above ask (a crossed quote is refused, never stored).
    """
    pair = f"{base}/{quote}"
    require_answered(row, pair)
    bid, ask = decimal_of(row, "PX_BID"), decimal_of(row, "PX_ASK")
    mid = decimal_of(row, "PX_MID") or decimal_of(row, "PX_LAST")
    if mid is None and bid is not None and ask is not None:
        mid = (bid + ask) / 2
    if mid is None or mid <= 0:
        raise PayloadRejected(
            f"Bloomberg sent no usable price for {pair} ({row.get('IDENTIFIER')!r})", field="PX_MID"
        )
    if bid is not None and ask is not None and bid > ask:
        raise PayloadRejected(f"Bloomberg's {pair} quote is crossed (bid {bid} > ask {ask})", field="PX_BID")
    return FxRate(
        base=base, quote=quote, rate=mid, bid=bid, ask=ask, timestamp=snapshot_time(row), source=_SOURCE
    )


def _day(row: dict[str, Any]) -> date:
    raw = _text(row, "DATE")
    if raw is None:
        raise PayloadRejected(f"a history row for {row.get('IDENTIFIER')!r} has no DATE", field="DATE")
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise PayloadRejected(f"unreadable DATE {raw!r}", field="DATE") from None


def bars_from_rows(
    rows: list[dict[str, Any]], *, symbol: str, interval: BarInterval, currency: str | None = None
) -> list[Bar]:
    """History rows as bars labelled by their ``DATE`` (00:00 UTC), oldest first.

    A row without PX_LAST is skipped (a holiday in the range); a missing open, high or low is the close
    (Data License leaves them empty for series that have only a last price, FX fixings among them).
    """
    bars: list[Bar] = []
    for row in rows:
        require_answered(row, symbol)
        close = decimal_of(row, "PX_LAST")
        if close is None:
            continue
        open_ = decimal_of(row, "PX_OPEN") or close
        high = decimal_of(row, "PX_HIGH") or max(open_, close)
        low = decimal_of(row, "PX_LOW") or min(open_, close)
        day = _day(row)
        bars.append(
            Bar(
                symbol=symbol,
                timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC),
                interval=interval,
                open=open_,
                high=max(high, open_, close),
                low=min(low, open_, close),
                close=close,
                volume=decimal_of(row, "PX_VOLUME") or Decimal(0),
                currency=currency,
                source=_SOURCE,
            )
        )
    bars.sort(key=lambda b: b.timestamp)
    return bars


def fundamentals_from_row(row: dict[str, Any], symbol: str) -> Fundamentals:
    """Company figures from the FUNDAMENTAL_FIELDS mnemonics (EQY_DVD_YLD_IND is a percentage)."""
    require_answered(row, symbol)
    dividend = decimal_of(row, "EQY_DVD_YLD_IND")
    return Fundamentals(
        symbol=symbol,
        name=_text(row, "NAME"),
        exchange=_text(row, "EXCH_CODE"),
        currency=_currency(row),
        country=_text(row, "COUNTRY_ISO"),
        sector=_text(row, "GICS_SECTOR_NAME"),
        industry=_text(row, "INDUSTRY_SECTOR"),
        market_capitalization=decimal_of(row, "CUR_MKT_CAP"),
        pe_ratio=decimal_of(row, "PE_RATIO"),
        eps=decimal_of(row, "IS_EPS"),
        dividend_yield=None if dividend is None else dividend / 100,
        beta=decimal_of(row, "EQY_BETA"),
        shares_outstanding=decimal_of(row, "EQY_SH_OUT"),
        source=_SOURCE,
    )
