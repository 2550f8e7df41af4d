"""LSEG Data Platform wire bodies to canonical models.

Conventions (written here because the platform leaves them implicit):

* **Bars.** Equity summaries carry trade prices (``OPEN_PRC``, ``HIGH_1``, ``LOW_1``, ``TRDPRC_1``,
  ``ACVOL_UNS``); FX summaries carry bid and ask sides, and an FX bar is the *bid* side (``OPEN_BID``,
  ``BID_HIGH_1``, ``BID_LOW_1``, ``BID``), LSEG's own convention for FX charts. Rows without a close
  (holidays, an instrument not trading) are skipped.
* **Bar timestamps** are period starts. Interday ``DATE`` values are dates labelled ``endPeriod``: a daily
  bar is stamped at midnight UTC of its date, a weekly bar at its Monday, a monthly bar at the 1st.
  Intraday ``DATE_TIME`` values are UTC; an ``endPeriod`` label is moved back by one interval.
* **FX RICs.** ``EUR=`` quotes EUR/USD for the currencies quoted against the dollar (EUR, GBP, AUD, NZD);
  ``JPY=`` quotes USD/JPY for every other currency; crosses are ``EURGBP=R``. A pair asked the other way
  round is the inverse: bid and ask swap sides (``1/ask``, ``1/bid``) and bars swap high and low.
* **Snapshot times.** ``VALUE_DT1`` + ``VALUE_TS1`` (trade), ``QUOTE_DATE`` + ``QUOTIM`` (quote) are UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from portico.connectors.refinitiv.wire import WireSnapshotMessage, WireSummaries
from portico.errors import PayloadRejected
from portico.models import (
    AssetClass,
    Bar,
    BarInterval,
    Fundamentals,
    FxRate,
    Instrument,
    Quote,
    Snapshot,
    Trade,
)
from portico.models._iso import CURRENCY_CODES

__all__ = [
    "FUNDAMENTAL_FIELDS",
    "INTERVALS",
    "SOURCE",
    "USD_BASED",
    "bars_from_summaries",
    "check_ric",
    "decimal_or_none",
    "fundamentals_from_row",
    "fx_rate_from_snapshot",
    "fx_ric",
    "instrument_from_hit",
    "invert_bars",
    "parse_date",
    "parse_instant",
    "quote_from_snapshot",
    "quotes_and_trades_from_events",
    "snapshot_from_message",
]

SOURCE = "refinitiv"

USD_BASED = frozenset({"EUR", "GBP", "AUD", "NZD"})
"""Currencies whose ``XXX=`` RIC quotes XXX/USD (dollars per unit); every other ``XXX=`` quotes USD/XXX."""

INTERVALS: dict[BarInterval, tuple[str, str]] = {
    BarInterval.MIN_1: ("intraday-summaries", "PT1M"),
    BarInterval.MIN_5: ("intraday-summaries", "PT5M"),
    BarInterval.MIN_30: ("intraday-summaries", "PT30M"),
    BarInterval.HOUR_1: ("intraday-summaries", "PT1H"),
    BarInterval.DAY: ("interday-summaries", "P1D"),
    BarInterval.WEEK: ("interday-summaries", "P1W"),
    BarInterval.MONTH: ("interday-summaries", "P1M"),
}
"""Canonical bar sizes and the historical pricing view and ``interval`` serving each."""

_STEPS = {"PT1M": timedelta(minutes=1), "PT5M": timedelta(minutes=5), "PT30M": timedelta(minutes=30),
          "PT1H": timedelta(hours=1)}  # fmt: skip

FUNDAMENTAL_FIELDS: dict[str, str] = {
    "name": "TR.CommonName",
    "exchange": "TR.ExchangeName",
    "country": "TR.HeadquartersCountry",
    "sector": "TR.TRBCEconomicSector",
    "industry": "TR.TRBCIndustry",
    "currency": "TR.PriceClose.Currency",
    "market_capitalization": "TR.CompanyMarketCap",
    "shares_outstanding": "TR.SharesOutstanding",
    "eps": "TR.EPSActValue",
    "pe_ratio": "TR.PE",
    "dividend_yield": "TR.DividendYield",
    "beta": "TR.Beta",
}
"""The datagrid (TR) field behind each :class:`~portico.models.Fundamentals` attribute."""

_RIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.=_^#&:-]{0,39}$")


def check_ric(symbol: str) -> str:
    """``symbol`` as a RIC (trimmed), or a clear :class:`PayloadRejected` for what cannot be one."""
    ric = symbol.strip() if isinstance(symbol, str) else ""
    if not _RIC.match(ric):
        raise PayloadRejected(
            f"{symbol!r} is not a RIC (an instrument code such as AAPL.O, VOD.L or EUR=)", field="symbol"
        )
    return ric


def _currency(code: str, role: str) -> str:
    value = code.strip().upper() if isinstance(code, str) else ""
    if value not in CURRENCY_CODES:
        raise PayloadRejected(f"{code!r} is not an ISO 4217 currency code ({role})", field=role)
    return value


def fx_ric(base: str, quote: str, *, cross_suffix: str = "=R") -> tuple[str, bool]:
    """The spot RIC quoting ``base``/``quote`` and whether its rate must be inverted.

    >>> fx_ric("EUR", "USD"), fx_ric("USD", "JPY"), fx_ric("JPY", "USD"), fx_ric("EUR", "GBP")
    (('EUR=', False), ('JPY=', False), ('JPY=', True), ('EURGBP=R', False))
    """
    base = _currency(base, "base")
    quote = _currency(quote, "quote")
    if base == quote:
        raise PayloadRejected(f"{base}/{quote} is not a currency pair", field="quote")
    if quote == "USD":
        return f"{base}=", base not in USD_BASED
    if base == "USD":
        return f"{quote}=", quote in USD_BASED
    return f"{base}{quote}{cross_suffix}", False


def decimal_or_none(value: Any) -> Decimal | None:
    """A wire number as Decimal (through its text, so ``0.1`` stays ``0.1``); None for null or blank."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PayloadRejected(f"LSEG sent {value!r} where a number belongs") from None
    return number if number.is_finite() else None


def parse_date(value: Any) -> date:
    """An interday ``DATE`` (``2026-01-06``)."""
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise PayloadRejected(f"LSEG sent {value!r} where a date belongs", field="DATE") from None


def parse_instant(value: Any) -> datetime:
    """An intraday ``DATE_TIME`` (``2026-01-06T15:00:00.000000000Z``, nanoseconds cut to microseconds) in UTC."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value)).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadRejected(f"LSEG sent {value!r} where a time belongs", field="DATE_TIME") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _interday_start(day: date, interval: BarInterval) -> datetime:
    if interval is BarInterval.WEEK:
        day -= timedelta(days=day.weekday())
    elif interval is BarInterval.MONTH:
        day = day.replace(day=1)
    return datetime.combine(day, time(0), UTC)


def bars_from_summaries(
    body: WireSummaries, *, symbol: str, interval: BarInterval, currency: str | None = None
) -> list[Bar]:
    """Canonical bars, oldest first, from one RIC's summaries answer."""
    _, rdp_interval = INTERVALS[interval]
    intraday = rdp_interval in _STEPS
    shift = (
        _STEPS[rdp_interval]
        if intraday and (body.summary_timestamp_label or "") == "endPeriod"
        else timedelta(0)
    )
    bars: list[Bar] = []
    for row in body.rows():
        trade_close = decimal_or_none(row.get("TRDPRC_1"))
        if trade_close is not None:
            prices = ("OPEN_PRC", "HIGH_1", "LOW_1", "TRDPRC_1")
        elif decimal_or_none(row.get("BID")) is not None:
            prices = ("OPEN_BID", "BID_HIGH_1", "BID_LOW_1", "BID")
        else:
            continue  # no close: the instrument did not trade in this period
        close = decimal_or_none(row.get(prices[3]))
        assert close is not None
        open_, high, low = (decimal_or_none(row.get(name)) or close for name in prices[:3])
        high = max(high, open_, close)
        low = min(low, open_, close)
        if intraday:
            stamp = parse_instant(row.get("DATE_TIME")) - shift
        else:
            stamp = _interday_start(parse_date(row.get("DATE")), interval)
        volume = decimal_or_none(row.get("ACVOL_UNS")) if trade_close is not None else None
        moves = row.get("NUM_MOVES") if trade_close is not None else row.get("NUM_BIDS")
        bars.append(
            Bar(
                symbol=symbol,
                timestamp=stamp,
                interval=interval,
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volume or Decimal(0),
                vwap=decimal_or_none(row.get("VWAP")) if trade_close is not None else None,
                trade_count=int(moves)
                if isinstance(moves, int | float) and not isinstance(moves, bool)
                else None,
                currency=currency,
                source=SOURCE,
            )
        )
    bars.sort(key=lambda b: b.timestamp)
    return bars


def _invert(value: Decimal) -> Decimal:
    return (Decimal(1) / value).quantize(Decimal("1e-10")).normalize()


def invert_bars(bars: list[Bar], *, symbol: str, currency: str | None) -> list[Bar]:
    """Bars of the inverse pair: every price ``1/x``, high and low swapped."""
    return [
        b.model_copy(
            update={"symbol": symbol, "open": _invert(b.open), "close": _invert(b.close), "high": _invert(b.low),
                    "low": _invert(b.high), "vwap": None, "currency": currency}
        )
        for b in bars
    ]  # fmt: skip


def _stamp(fields: Mapping[str, Any], date_key: str, time_key: str) -> datetime | None:
    day, clock = fields.get(date_key), fields.get(time_key)
    if not day or not clock:
        return None
    try:
        return datetime.fromisoformat(f"{str(day)[:10]}T{clock}").replace(tzinfo=UTC)
    except ValueError:
        return None


def _iso_currency(value: Any) -> str | None:
    text = str(value).strip().upper() if value else ""
    return text if text in CURRENCY_CODES else None


def quote_from_snapshot(message: WireSnapshotMessage, *, now: datetime) -> Quote:
    """A Refresh message's quote: bid/ask with sizes, last price, day volume and change."""
    f = message.fields
    stamp = _stamp(f, "QUOTE_DATE", "QUOTIM") or _stamp(f, "VALUE_DT1", "VALUE_TS1") or now
    return Quote(
        symbol=message.key.name,
        timestamp=stamp,
        bid_price=decimal_or_none(f.get("BID")),
        bid_size=decimal_or_none(f.get("BIDSIZE")),
        ask_price=decimal_or_none(f.get("ASK")),
        ask_size=decimal_or_none(f.get("ASKSIZE")),
        last_price=decimal_or_none(f.get("TRDPRC_1")),
        volume=decimal_or_none(f.get("ACVOL_1")),
        change=decimal_or_none(f.get("NETCHNG_1")),
        change_percent=decimal_or_none(f.get("PCTCHNG")),
        previous_close=decimal_or_none(f.get("HST_CLOSE")),
        currency=_iso_currency(f.get("CURRENCY")),
        source=SOURCE,
    )


def snapshot_from_message(message: WireSnapshotMessage, *, now: datetime) -> Snapshot:
    """A Refresh message as a snapshot: the quote, the last trade and today's bar when the fields are there."""
    f = message.fields
    ric = message.key.name
    price = decimal_or_none(f.get("TRDPRC_1"))
    trade = None
    if price is not None and price > 0:
        trade = Trade(
            symbol=ric,
            timestamp=_stamp(f, "VALUE_DT1", "TRDTIM_1") or _stamp(f, "VALUE_DT1", "VALUE_TS1") or now,
            price=price,
            size=decimal_or_none(f.get("TRDVOL_1")) or Decimal(0),
            source=SOURCE,
        )
    bar = None
    opening, high, low = (decimal_or_none(f.get(k)) for k in ("OPEN_PRC", "HIGH_1", "LOW_1"))
    if (
        price is not None
        and opening is not None
        and high is not None
        and low is not None
        and f.get("TRADE_DATE")
    ):
        bar = Bar(
            symbol=ric,
            timestamp=datetime.combine(parse_date(f["TRADE_DATE"]), time(0), UTC),
            open=opening,
            high=max(high, opening, price),
            low=min(low, opening, price),
            close=price,
            volume=decimal_or_none(f.get("ACVOL_1")) or Decimal(0),
            currency=_iso_currency(f.get("CURRENCY")),
            source=SOURCE,
        )
    return Snapshot(
        symbol=ric, latest_trade=trade, latest_quote=quote_from_snapshot(message, now=now), daily_bar=bar
    )


def fx_rate_from_snapshot(
    message: WireSnapshotMessage, *, base: str, quote: str, inverted: bool, now: datetime
) -> FxRate:
    """The pair's rate (the bid/ask mid) from its spot RIC's Refresh message.

    Raises:
        PayloadRejected: no bid or ask, a non-positive price, or a crossed quote (bid above ask).
    """
    f = message.fields
    bid, ask = decimal_or_none(f.get("BID")), decimal_or_none(f.get("ASK"))
    ric = message.key.name
    if bid is None or ask is None or bid <= 0 or ask <= 0:
        raise PayloadRejected(f"{ric} has no usable bid and ask (BID={f.get('BID')!r}, ASK={f.get('ASK')!r})")
    if bid > ask:
        raise PayloadRejected(f"{ric} quote is crossed: bid {bid} above ask {ask}")
    if inverted:
        bid, ask = _invert(ask), _invert(bid)
    mid = ((bid + ask) / 2).quantize(Decimal("1e-10")).normalize()
    stamp = _stamp(f, "QUOTE_DATE", "QUOTIM") or _stamp(f, "VALUE_DT1", "VALUE_TS1") or now
    return FxRate(base=base, quote=quote, rate=mid, bid=bid, ask=ask, timestamp=stamp, source=SOURCE)


def fundamentals_from_row(row: Mapping[str, Any], *, symbol: str) -> Fundamentals:
    """A datagrid row (keys upper-case TR field names) as :class:`Fundamentals`."""

    def value(attribute: str) -> Any:
        return row.get(FUNDAMENTAL_FIELDS[attribute].upper())

    def text(attribute: str) -> str | None:
        found = value(attribute)
        return str(found) if found not in (None, "") else None

    return Fundamentals(
        symbol=symbol,
        name=text("name"),
        exchange=text("exchange"),
        country=text("country"),
        sector=text("sector"),
        industry=text("industry"),
        currency=_iso_currency(value("currency")),
        market_capitalization=decimal_or_none(value("market_capitalization")),
        shares_outstanding=decimal_or_none(value("shares_outstanding")),
        eps=decimal_or_none(value("eps")),
        pe_ratio=decimal_or_none(value("pe_ratio")),
        dividend_yield=decimal_or_none(value("dividend_yield")),
        beta=decimal_or_none(value("beta")),
        source=SOURCE,
    )


def instrument_from_hit(hit: Mapping[str, Any]) -> Instrument | None:
    """A discovery search hit as an instrument (None for a hit without a RIC)."""
    ric = str(hit.get("RIC") or "").strip()
    if not ric:
        return None
    name = hit.get("CommonName") or hit.get("DocumentTitle")
    return Instrument(
        symbol=ric,
        asset_class=AssetClass.FX if "=" in ric else AssetClass.EQUITY,
        name=str(name) if name else None,
        exchange=str(hit["ExchangeName"]) if hit.get("ExchangeName") else None,
        venue_ids={SOURCE: ric, **({"permid": str(hit["PermID"])} if hit.get("PermID") else {})},
    )


def quotes_and_trades_from_events(body: WireSummaries, *, symbol: str) -> tuple[list[Quote], list[Trade]]:
    """The quote and trade events of an events answer, each list oldest first."""
    quotes: list[Quote] = []
    trades: list[Trade] = []
    for row in body.rows():
        kind = str(row.get("EVENT_TYPE") or "").lower()
        stamp = parse_instant(row.get("DATE_TIME"))
        if kind == "quote":
            quotes.append(
                Quote(
                    symbol=symbol,
                    timestamp=stamp,
                    bid_price=decimal_or_none(row.get("BID")),
                    bid_size=decimal_or_none(row.get("BIDSIZE")),
                    ask_price=decimal_or_none(row.get("ASK")),
                    ask_size=decimal_or_none(row.get("ASKSIZE")),
                    source=SOURCE,
                )
            )
        elif kind == "trade":
            price = decimal_or_none(row.get("TRDPRC_1"))
            if price is None:
                continue
            trades.append(
                Trade(
                    symbol=symbol,
                    timestamp=stamp,
                    price=price,
                    size=decimal_or_none(row.get("TRDVOL_1")) or Decimal(0),
                    trade_id=str(row["SEQNUM"]) if row.get("SEQNUM") is not None else None,
                    source=SOURCE,
                )
            )
    quotes.sort(key=lambda q: q.timestamp)
    trades.sort(key=lambda t: t.timestamp)
    return quotes, trades
