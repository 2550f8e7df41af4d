"""The vendor's wire details the Polygon mock shares: its error refusal, cursors, parameter parsing, time
stamps and the JSON rows it serves (aggregates, trades, quotes, news articles)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portico.mocks._kit import NEW_YORK, BarData, QuoteData, TradeData
from portico.mocks.polygon._universe import EXCHANGE_IDS

__all__ = [
    "EPOCH",
    "TAPES",
    "PolygonRefusal",
    "agg_row",
    "article",
    "combine",
    "day_end",
    "day_start",
    "decode_cursor",
    "digest",
    "encode_cursor",
    "from_ns",
    "group_bars",
    "local_day",
    "matches",
    "parse_bound",
    "parse_limit",
    "parse_order",
    "quote_row",
    "to_ms",
    "to_ns",
    "trade_row",
]

TAPES = {"A": 1, "B": 2, "C": 3}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PolygonRefusal(Exception):
    """Stop handling and answer with the vendor's error envelope."""

    def __init__(self, status: int, message: str, kind: str = "ERROR") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def to_ms(when: datetime) -> int:
    return (when - EPOCH) // timedelta(milliseconds=1)


def to_ns(when: datetime) -> int:
    return ((when - EPOCH) // timedelta(microseconds=1)) * 1000


def from_ns(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value // 1000)


def digest(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)


def day_end(day: date) -> datetime:
    return day_start(day + timedelta(days=1)) - timedelta(microseconds=1)


def agg_row(bar: BarData) -> dict[str, Any]:
    return {"v": bar.volume, "vw": bar.vwap, "o": bar.open, "c": bar.close, "h": bar.high, "l": bar.low,
            "t": to_ms(bar.timestamp), "n": bar.trade_count}  # fmt: skip


def combine(bars: list[BarData]) -> BarData:
    volume = sum(b.volume for b in bars)
    vwap = sum(b.vwap * b.volume for b in bars) / volume if volume else bars[-1].close
    return BarData(
        bars[0].symbol, bars[0].timestamp, bars[0].open, max(b.high for b in bars), min(b.low for b in bars),
        bars[-1].close, volume, sum(b.trade_count for b in bars), round(vwap, 4),
    )  # fmt: skip


def group_bars(bars: list[BarData], key: Callable[[BarData], object], size: int) -> list[BarData]:
    """Bars merged by ``key`` (a period), then ``size`` consecutive periods merged into one bar."""
    periods: dict[object, list[BarData]] = {}
    for bar in bars:
        periods.setdefault(key(bar), []).append(bar)
    merged = [combine(group) for group in periods.values()]
    if size == 1:
        return merged
    return [combine(merged[i : i + size]) for i in range(0, len(merged), size)]


def local_day(bar: BarData) -> date:
    return bar.timestamp.astimezone(NEW_YORK).date()


def encode_cursor(params: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(params), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise PolygonRefusal(400, "The cursor parameter is invalid.") from None
    if not isinstance(data, dict):
        raise PolygonRefusal(400, "The cursor parameter is invalid.")
    return {str(k): str(v) for k, v in data.items()}


def parse_limit(params: Mapping[str, str], default: int, top: int) -> int:
    text = params.get("limit")
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise PolygonRefusal(400, f"The parameter 'limit' must be an integer, got {text!r}.") from None
    if value < 1:
        raise PolygonRefusal(400, "The parameter 'limit' must be at least 1.")
    return min(value, top)


def parse_order(params: Mapping[str, str], name: str, default: str) -> bool:
    """True for ascending."""
    value = params.get(name, default).lower()
    if value not in ("asc", "desc"):
        raise PolygonRefusal(400, f"The parameter '{name}' must be 'asc' or 'desc', got {value!r}.")
    return value == "asc"


def matches(value: str, params: Mapping[str, str], name: str) -> bool:
    """``value`` against ``name`` and its ``.gte|.gt|.lte|.lt`` filters (ISO dates and tickers compare as text)."""
    checks = (
        (name, lambda v, p: v == p), (f"{name}.gte", lambda v, p: v >= p), (f"{name}.gt", lambda v, p: v > p),
        (f"{name}.lte", lambda v, p: v <= p), (f"{name}.lt", lambda v, p: v < p),
    )  # fmt: skip
    return all(test(value, params[key]) for key, test in checks if key in params)


def parse_bound(text: str, name: str, *, end: bool) -> datetime:
    """A ``from``/``to`` or ``timestamp`` value: ``YYYY-MM-DD`` (the whole New York day) or epoch digits."""
    text = text.strip()
    if text.isdigit():
        number = int(text)
        # aggregates take milliseconds, trades and quotes nanoseconds: the size tells which
        return from_ns(number) if number > 10**14 else EPOCH + timedelta(milliseconds=number)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise PolygonRefusal(400, f"Could not parse the time parameter: '{name}'.") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    start = day_start(day)
    return day_end(day) if end else start


def trade_row(trade: TradeData) -> dict[str, Any]:
    ns = to_ns(trade.timestamp)
    return {
        "exchange": EXCHANGE_IDS[trade.exchange],
        "id": str(trade.trade_id),
        "participant_timestamp": ns - 137_000,
        "price": trade.price,
        "sequence_number": (ns // 1000) % 10**10,
        "sip_timestamp": ns,
        "size": trade.size,
        "tape": TAPES.get(trade.tape, 3),
    }


def quote_row(quote: QuoteData) -> dict[str, Any]:
    ns = to_ns(quote.timestamp)
    return {
        "ask_exchange": EXCHANGE_IDS[quote.ask_exchange],
        "ask_price": quote.ask_price,
        "ask_size": quote.ask_size,
        "bid_exchange": EXCHANGE_IDS[quote.bid_exchange],
        "bid_price": quote.bid_price,
        "bid_size": quote.bid_size,
        "participant_timestamp": ns - 91_000,
        "sequence_number": (ns // 1000) % 10**10,
        "sip_timestamp": ns,
        "tape": TAPES.get(quote.tape, 3),
    }


_HEADLINES = (
    ("{name} shares move as analysts revisit estimates", "positive"),
    ("{name} faces questions over quarterly guidance", "negative"),
    ("What to watch as {ticker} heads into earnings", "neutral"),
    ("{name} announces new product line", "positive"),
)


def article(symbol: str, name: str, published: datetime, h: int) -> dict[str, Any]:
    title, sentiment = _HEADLINES[(h >> 16) % len(_HEADLINES)]
    article_id = f"{h:016x}{digest(symbol, published):016x}"
    return {
        "id": article_id,
        "publisher": {
            "name": "Portico Wire",
            "homepage_url": "https://wire.portico.example/",
            "logo_url": "https://wire.portico.example/logo.png",
            "favicon_url": "https://wire.portico.example/favicon.ico",
        },
        "title": title.format(name=name, ticker=symbol),
        "author": "Mock Newsroom",
        "published_utc": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "article_url": f"https://wire.portico.example/{symbol.lower()}/{article_id}",
        "tickers": [symbol],
        "image_url": f"https://wire.portico.example/{symbol.lower()}/{article_id}.jpg",
        "description": f"A simulated article about {name} ({symbol}).",
        "keywords": [symbol, "markets"],
        "insights": [
            {
                "ticker": symbol,
                "sentiment": sentiment,
                "sentiment_reasoning": f"The simulated article reads {sentiment} for {symbol}.",
            }
        ],
    }
