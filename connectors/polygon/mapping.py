"""Polygon (Massive) wire bodies to canonical models.

Conventions (documented here because the vendor leaves them implicit):

* Aggregate ``t`` is the bar's start in Unix milliseconds; daily and longer bars start at midnight
  New York, which is what the vendor sends.
* v3 trades and quotes, ``last`` answers and snapshots stamp in Unix nanoseconds (SIP time); the stream
  stamps in milliseconds. Canonical timestamps keep microseconds.
* Exchanges arrive as the vendor's numeric ids; they become ISO 10383 MICs (:data:`EXCHANGE_MICS`), an
  unknown id stays as its number.
* A snapshot's ``prevDay`` carries no date: it is stamped on the weekday before the snapshot's session
  (a session right after a holiday is stamped one day late; the figures are the vendor's).
* Prices are the exact decimals of the JSON text (bodies are parsed with ``parse_float=Decimal``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from portico.connectors.polygon.wire import (
    WireAgg,
    WireDividend,
    WireLastQuote,
    WireLastTrade,
    WireNews,
    WireQuote,
    WireSnapshot,
    WireSplit,
    WireStreamAgg,
    WireStreamQuote,
    WireStreamTrade,
    WireTicker,
    WireTickerDetails,
    WireTrade,
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
    NewsItem,
    Quote,
    Snapshot,
    Trade,
)
from portico.models._iso import CURRENCY_CODES

__all__ = [
    "EXCHANGE_MICS",
    "SOURCE",
    "TIMESPANS",
    "bar_from_agg",
    "bar_from_stream",
    "bars_from_results",
    "dividend_from_wire",
    "from_ms",
    "from_ns",
    "fundamentals_from_details",
    "instrument_from_ticker",
    "news_from_wire",
    "parse",
    "quote_from_last",
    "quote_from_stream",
    "quote_from_v3",
    "snapshot_from_wire",
    "split_from_wire",
    "trade_from_last",
    "trade_from_stream",
    "trade_from_v3",
]

SOURCE = "polygon"
NEW_YORK = ZoneInfo("America/New_York")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TIMESPANS: dict[BarInterval, tuple[int, str]] = {
    BarInterval.MIN_1: (1, "minute"),
    BarInterval.MIN_5: (5, "minute"),
    BarInterval.MIN_15: (15, "minute"),
    BarInterval.MIN_30: (30, "minute"),
    BarInterval.HOUR_1: (1, "hour"),
    BarInterval.DAY: (1, "day"),
    BarInterval.WEEK: (1, "week"),
    BarInterval.MONTH: (1, "month"),
}
"""Each canonical interval as the vendor's ``multiplier`` and ``timespan``."""

EXCHANGE_MICS: dict[int, str] = {
    1: "XASE", 2: "XBOS", 3: "XCIS", 4: "FINR", 7: "EDGA", 8: "EDGX", 9: "XCHI", 10: "XNYS", 11: "ARCX",
    12: "XNAS", 15: "IEXG", 17: "XPHL", 18: "BATY", 19: "BATS", 20: "EPRL", 21: "MEMX",
}  # fmt: skip
"""The vendor's stock exchange ids (``/v3/reference/exchanges``) as MICs."""

_TYPES = {"CS": AssetClass.EQUITY, "ADRC": AssetClass.EQUITY, "PFD": AssetClass.EQUITY, "ETF": AssetClass.ETF,
          "ETN": AssetClass.ETF, "ETV": AssetClass.ETF, "FUND": AssetClass.FUND, "INDEX": AssetClass.INDEX}  # fmt: skip

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], data: Any, *, what: str) -> ModelT:
    """``data`` as ``model``; a :class:`PayloadRejected` naming ``what`` and the first problem otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise PayloadRejected(
            f"malformed Polygon {what}: {where or 'body'}: {error['msg']}", field=where
        ) from None


def from_ms(value: int) -> datetime:
    """Unix milliseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=value)


def from_ns(value: int) -> datetime:
    """Unix nanoseconds as an aware UTC datetime (to the microsecond)."""
    return _EPOCH + timedelta(microseconds=value // 1000)


def _exchange(value: int | None) -> str | None:
    return None if value is None else EXCHANGE_MICS.get(value, str(value))


def bar_from_agg(agg: WireAgg, symbol: str, interval: BarInterval, *, adjusted: bool) -> Bar:
    """One aggregate as a Bar; adjusted bars also carry their close as ``adjusted_close``."""
    return Bar(
        symbol=symbol,
        timestamp=from_ms(agg.timestamp_ms),
        interval=interval,
        open=agg.open,
        high=agg.high,
        low=agg.low,
        close=agg.close,
        volume=agg.volume,
        vwap=agg.vwap,
        trade_count=agg.transactions,
        adjusted_close=agg.close if adjusted else None,
        currency="USD",
        source=SOURCE,
    )


def bars_from_results(
    results: Iterable[Any], symbol: str, interval: BarInterval, *, adjusted: bool
) -> list[Bar]:
    """Aggregate ``results`` (raw dicts) as Bars, in the order given."""
    return [
        bar_from_agg(parse(WireAgg, row, what=f"aggregate {i}"), symbol, interval, adjusted=adjusted)
        for i, row in enumerate(results)
    ]


def trade_from_v3(row: Mapping[str, Any], symbol: str) -> Trade:
    """A ``/v3/trades`` result as a Trade."""
    wire = parse(WireTrade, row, what="trade")
    return Trade(
        symbol=symbol,
        timestamp=from_ns(wire.sip_timestamp),
        price=wire.price,
        size=wire.size,
        exchange=_exchange(wire.exchange),
        trade_id=wire.id,
        conditions=[str(c) for c in wire.conditions or ()],
        source=SOURCE,
    )


def quote_from_v3(row: Mapping[str, Any], symbol: str) -> Quote:
    """A ``/v3/quotes`` result as a Quote."""
    wire = parse(WireQuote, row, what="quote")
    return Quote(
        symbol=symbol,
        timestamp=from_ns(wire.sip_timestamp),
        bid_price=wire.bid_price,
        bid_size=wire.bid_size,
        ask_price=wire.ask_price,
        ask_size=wire.ask_size,
        currency="USD",
        source=SOURCE,
    )


def trade_from_last(results: Mapping[str, Any]) -> Trade:
    """``/v2/last/trade`` ``results`` as a Trade."""
    wire = parse(WireLastTrade, results, what="last trade")
    return Trade(
        symbol=wire.ticker,
        timestamp=from_ns(wire.sip_timestamp),
        price=wire.price,
        size=wire.size,
        exchange=_exchange(wire.exchange),
        trade_id=wire.id,
        conditions=[str(c) for c in wire.conditions or ()],
        source=SOURCE,
    )


def quote_from_last(results: Mapping[str, Any]) -> Quote:
    """``/v2/last/nbbo`` ``results`` as a Quote."""
    wire = parse(WireLastQuote, results, what="last quote")
    return Quote(
        symbol=wire.ticker,
        timestamp=from_ns(wire.sip_timestamp),
        bid_price=wire.bid_price,
        bid_size=wire.bid_size,
        ask_price=wire.ask_price,
        ask_size=wire.ask_size,
        currency="USD",
        source=SOURCE,
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), NEW_YORK)


def _weekday_before(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def snapshot_from_wire(row: Mapping[str, Any]) -> Snapshot:
    """A snapshot ticker as a Snapshot: last trade and quote, the minute, today's and the previous bar."""
    wire = parse(WireSnapshot, row, what="snapshot")
    symbol = wire.ticker
    trade = quote = minute = day = prev = None
    if wire.last_trade is not None:
        t = wire.last_trade
        trade = Trade(symbol=symbol, timestamp=from_ns(t.timestamp_ns), price=t.price, size=t.size,
                      exchange=_exchange(t.exchange), trade_id=t.id, conditions=[str(c) for c in t.conditions or ()],
                      source=SOURCE)  # fmt: skip
    if wire.last_quote is not None:
        q = wire.last_quote
        quote = Quote(symbol=symbol, timestamp=from_ns(q.timestamp_ns), bid_price=q.bid_price, bid_size=q.bid_size,
                      ask_price=q.ask_price, ask_size=q.ask_size, last_price=trade.price if trade else None,
                      change=wire.todays_change, change_percent=wire.todays_change_percent,
                      previous_close=wire.prev_day.close if wire.prev_day else None, currency="USD",
                      source=SOURCE)  # fmt: skip
    if wire.minute is not None:
        m = wire.minute
        minute = Bar(symbol=symbol, timestamp=from_ms(m.timestamp_ms), interval=BarInterval.MIN_1, open=m.open,
                     high=m.high, low=m.low, close=m.close, volume=m.volume, vwap=m.vwap, trade_count=m.transactions,
                     currency="USD", source=SOURCE)  # fmt: skip
    stamp = wire.updated or (wire.last_trade.timestamp_ns if wire.last_trade else None)
    if stamp is not None:
        session = from_ns(stamp).astimezone(NEW_YORK).date()
        for which, ohlc in (("day", wire.day), ("prev", wire.prev_day)):
            if ohlc is None:
                continue
            when = _midnight(session if which == "day" else _weekday_before(session))
            bar = Bar(symbol=symbol, timestamp=when, interval=BarInterval.DAY, open=ohlc.open, high=ohlc.high,
                      low=ohlc.low, close=ohlc.close, volume=ohlc.volume, vwap=ohlc.vwap, currency="USD",
                      source=SOURCE)  # fmt: skip
            if which == "day":
                day = bar
            else:
                prev = bar
    return Snapshot(
        symbol=symbol, latest_trade=trade, latest_quote=quote, minute_bar=minute, daily_bar=day,
        previous_daily_bar=prev,
    )  # fmt: skip


def instrument_from_ticker(row: Mapping[str, Any]) -> Instrument:
    """A reference ticker as an Instrument (FIGI, primary exchange MIC, currency)."""
    wire = parse(WireTicker, row, what="ticker")
    currency = (wire.currency_name or "").upper()
    return Instrument(
        symbol=wire.ticker,
        asset_class=_TYPES.get(wire.type or "", AssetClass.OTHER),
        name=wire.name,
        exchange=wire.primary_exchange,
        currency=currency if currency in CURRENCY_CODES else None,
        country="US" if wire.locale == "us" else None,
        figi=wire.composite_figi,
        venue_ids={SOURCE: wire.ticker},
        tradable=wire.active,
    )


def fundamentals_from_details(row: Mapping[str, Any]) -> Fundamentals:
    """Ticker details as Fundamentals: name, description, exchange, industry, market cap, shares."""
    wire = parse(WireTickerDetails, row, what="ticker details")
    currency = (wire.currency_name or "").upper()
    return Fundamentals(
        symbol=wire.ticker,
        name=wire.name,
        description=wire.description,
        exchange=wire.primary_exchange,
        currency=currency if currency in CURRENCY_CODES else None,
        country="US" if wire.locale == "us" else None,
        industry=wire.sic_description,
        market_capitalization=wire.market_cap,
        shares_outstanding=wire.share_class_shares_outstanding or wire.weighted_shares_outstanding,
        source=SOURCE,
    )


def _date(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PayloadRejected(f"{text!r} is not a date in Polygon's {field}", field=field) from None


def dividend_from_wire(row: Mapping[str, Any]) -> CorporateAction:
    """A ``/v3/reference/dividends`` result as a cash (or special) dividend."""
    wire = parse(WireDividend, row, what="dividend")
    ex_date = _date(wire.ex_dividend_date, "ex_dividend_date")
    assert ex_date is not None  # a required field, parsed above
    currency = (wire.currency or "USD").upper()
    return CorporateAction(
        symbol=wire.ticker,
        action_type=CorporateActionType.CASH_DIVIDEND,
        ex_date=ex_date,
        record_date=_date(wire.record_date, "record_date"),
        pay_date=_date(wire.pay_date, "pay_date"),
        cash_amount=wire.cash_amount,
        currency=currency if currency in CURRENCY_CODES else None,
        source=SOURCE,
    )


def split_from_wire(row: Mapping[str, Any]) -> CorporateAction:
    """A ``/v3/reference/splits`` result: a split, or a reverse split when fewer shares come out."""
    wire = parse(WireSplit, row, what="split")
    ex_date = _date(wire.execution_date, "execution_date")
    assert ex_date is not None
    kind = (
        CorporateActionType.SPLIT if wire.split_to >= wire.split_from else CorporateActionType.REVERSE_SPLIT
    )
    return CorporateAction(
        symbol=wire.ticker, action_type=kind, ex_date=ex_date, ratio_from=wire.split_from, ratio_to=wire.split_to,
        source=SOURCE,
    )  # fmt: skip


def trade_from_stream(message: Mapping[str, Any]) -> Trade:
    """A ``T`` stream event as a Trade."""
    wire = parse(WireStreamTrade, message, what="stream trade")
    return Trade(symbol=wire.symbol, timestamp=from_ms(wire.timestamp_ms), price=wire.price, size=wire.size,
                 exchange=_exchange(wire.exchange), trade_id=wire.id, conditions=[str(c) for c in wire.conditions or ()],
                 source=SOURCE)  # fmt: skip


def quote_from_stream(message: Mapping[str, Any]) -> Quote:
    """A ``Q`` stream event as a Quote."""
    wire = parse(WireStreamQuote, message, what="stream quote")
    return Quote(symbol=wire.symbol, timestamp=from_ms(wire.timestamp_ms), bid_price=wire.bid_price,
                 bid_size=wire.bid_size, ask_price=wire.ask_price, ask_size=wire.ask_size, currency="USD",
                 source=SOURCE)  # fmt: skip


def bar_from_stream(message: Mapping[str, Any]) -> Bar:
    """An ``AM`` stream event as a one-minute Bar."""
    wire = parse(WireStreamAgg, message, what="stream aggregate")
    return Bar(symbol=wire.symbol, timestamp=from_ms(wire.start_ms), interval=BarInterval.MIN_1, open=wire.open,
               high=wire.high, low=wire.low, close=wire.close, volume=wire.volume, vwap=wire.vwap, currency="USD",
               source=SOURCE)  # fmt: skip


def news_from_wire(wire: WireNews, *, system: str) -> NewsItem:
    """A ``/v2/reference/news`` article as a news item; ``insights`` give per-ticker sentiment words."""
    labels = {str(i.get("ticker")).upper(): str(i.get("sentiment"))
              for i in wire.insights if i.get("ticker") and i.get("sentiment")}  # fmt: skip
    return NewsItem(
        id=wire.id,
        published_at=datetime.fromisoformat(wire.published_utc.replace("Z", "+00:00")),
        headline=wire.title,
        summary=wire.description or None,
        url=wire.article_url,
        source=wire.publisher.get("name"),
        provider=system,
        symbols=tuple(wire.tickers),
        authors=(wire.author,) if wire.author else (),
        symbol_sentiment_label=labels,
        topics=tuple(wire.keywords),
    )
