"""Polygon stream frames decoded once, straight into canonical models.

A frame (a JSON array of events) is decoded by one ``msgspec`` decoder into typed events: every field's
type is checked there (a price is a decimal, exactly as written; a timestamp an integer), and the
canonical model is then built without validating the same values again. Whatever that fast path does not
take as it is goes through the pydantic wire models of :mod:`portico.connectors.polygon.mapping`, one
event at a time, which decide exactly as they always have:

* a frame ``msgspec`` refuses (an event of a kind it does not know, a field of the wrong type, a lone
  object instead of an array), so one bad event costs only itself: the others are delivered and the bad
  one becomes a :class:`Rejected` naming the field and what was wrong;
* a frame holding ``NaN`` or ``Infinity`` anywhere (``msgspec`` reads them as decimals, the canonical
  models refuse them);
* a timestamp outside the range the fast conversion is exact for.

What the fast path accepts, the pydantic path accepts too, with equal models (tests feed both paths the
same good and bad events). The typed events are not tracked by the garbage collector (``gc=False``:
they hold no cycles), so a busy stream does not set off collections by the thousand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from portico.connectors.polygon.mapping import (
    SOURCE,
    _exchange,
    bar_from_stream,
    from_ms,
    quote_from_stream,
    trade_from_stream,
)
from portico.errors import PayloadRejected
from portico.models import Bar, BarInterval, Quote, Trade
from portico.models._trusted import trusted_builder

__all__ = ["Ready", "Rejected", "Status", "decode_frame", "to_model"]


class StreamQuote(msgspec.Struct, gc=False, tag_field="ev", tag="Q"):
    sym: str
    t: int
    bp: Decimal | None = None
    bs: Decimal | None = None
    ap: Decimal | None = None
    as_: Decimal | None = msgspec.field(default=None, name="as")


class StreamTrade(msgspec.Struct, gc=False, tag_field="ev", tag="T"):
    sym: str
    p: Decimal
    s: Decimal
    t: int
    x: int | None = None
    i: str | None = None
    c: list[int] | None = None


class StreamAgg(msgspec.Struct, gc=False, tag_field="ev", tag="AM"):
    sym: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 (the vendor's key)
    c: Decimal
    s: int
    e: int
    v: Decimal = Decimal(0)
    vw: Decimal | None = None


class StreamSecondAgg(msgspec.Struct, gc=False, tag_field="ev", tag="A"):
    """Second aggregates: read (so a frame holding them stays on the fast path) but not streamed."""


class Status(msgspec.Struct, gc=False, tag_field="ev", tag="status"):
    status: Any = None
    message: Any = None


@dataclass(frozen=True, slots=True)
class Ready:
    """An event the pydantic path already made into its canonical model."""

    channel: str
    symbol: str
    model: Quote | Trade | Bar


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event refused, with the reason (``malformed Polygon stream quote: bp: ...``) and the field."""

    reason: str
    field: str | None = None


Event = StreamQuote | StreamTrade | StreamAgg | StreamSecondAgg | Status
_decoder = msgspec.json.Decoder(list[Event])

# the fast timestamp conversion (float seconds) is exact to the millisecond inside this range
_FAST_MS = (0, 4_000_000_000_000)
_fromtimestamp = datetime.fromtimestamp


_FAST_LOW, _FAST_HIGH = _FAST_MS


def _ms(value: int) -> datetime:
    if _FAST_LOW <= value < _FAST_HIGH:
        return _fromtimestamp(value / 1000, UTC)
    return from_ms(value)


_SAMPLE_TIME = datetime(2026, 1, 5, 15, tzinfo=UTC)
_quote = trusted_builder(Quote, {"symbol": "X", "timestamp": _SAMPLE_TIME, "bid_price": Decimal(1), "bid_size": Decimal(1),
                                 "ask_price": Decimal(2), "ask_size": Decimal(1), "last_price": None, "volume": None,
                                 "change": None, "change_percent": None, "previous_close": None, "currency": "USD",
                                 "source": SOURCE})  # fmt: skip
_trade = trusted_builder(Trade, {"symbol": "X", "timestamp": _SAMPLE_TIME, "price": Decimal(1), "size": Decimal(1),
                                 "exchange": None, "trade_id": None, "conditions": [], "source": SOURCE})  # fmt: skip
_bar = trusted_builder(Bar, {"symbol": "X", "timestamp": _SAMPLE_TIME, "interval": BarInterval.MIN_1, "open": Decimal(1),
                             "high": Decimal(1), "low": Decimal(1), "close": Decimal(1), "volume": Decimal(0), "vwap": None,
                             "trade_count": None, "adjusted_close": None, "dividend": None, "split_coefficient": None,
                             "currency": "USD", "source": SOURCE})  # fmt: skip


def decode_frame(frame: str | bytes) -> list[Any]:
    """The events of one frame: typed events (fast path), or :class:`Ready`, :class:`Rejected` and
    :class:`Status` ones when it needed the pydantic path.

    Raises:
        PayloadRejected: the frame is not JSON at all.
    """
    data = frame.encode() if isinstance(frame, str) else frame
    lowered = data.lower()
    if b"nan" not in lowered and b"inf" not in lowered:
        try:
            return _decoder.decode(data)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError:
            raise PayloadRejected("malformed Polygon stream frame: not JSON", field="body") from None
    return _one_by_one(data)


def _one_by_one(data: bytes) -> list[Any]:
    try:
        body = json.loads(data, parse_float=Decimal)
    except ValueError:
        raise PayloadRejected("malformed Polygon stream frame: not JSON", field="body") from None
    out: list[Any] = []
    for message in body if isinstance(body, list) else [body]:
        if not isinstance(message, dict):
            out.append(
                Rejected(f"malformed Polygon stream event: expected an object, got {type(message).__name__}")
            )
            continue
        event = str(message.get("ev"))
        if event == "status":
            out.append(Status(status=message.get("status"), message=message.get("message")))
            continue
        parse = _PYDANTIC.get(event)
        if parse is None:
            continue  # an event kind portico does not stream
        try:
            model = parse(message)
        except PayloadRejected as exc:
            out.append(Rejected(exc.message, exc.field))
        except (OverflowError, ValueError, OSError):
            field = "s" if event == "AM" else "t"
            out.append(
                Rejected(f"malformed Polygon stream {_WHAT[event]}: {field}: timestamp out of range", field)
            )
        else:
            out.append(Ready(event, model.symbol, model))
    return out


_PYDANTIC: dict[str, Any] = {"Q": quote_from_stream, "T": trade_from_stream, "AM": bar_from_stream}
_WHAT = {"Q": "quote", "T": "trade", "AM": "aggregate"}


def to_model(event: StreamQuote | StreamTrade | StreamAgg) -> Quote | Trade | Bar:
    """The canonical model of a typed event.

    Raises:
        PayloadRejected: its timestamp is out of range.
    """
    try:
        if event.__class__ is StreamQuote:
            return quote_of(event)  # type: ignore[arg-type]
        if event.__class__ is StreamTrade:
            return trade_of(event)  # type: ignore[arg-type]
        return bar_of(event)  # type: ignore[arg-type]
    except (OverflowError, ValueError, OSError):
        what = {StreamQuote: "quote", StreamTrade: "trade"}.get(event.__class__, "aggregate")  # type: ignore[call-overload]
        field = "s" if event.__class__ is StreamAgg else "t"
        raise PayloadRejected(
            f"malformed Polygon stream {what}: {field}: timestamp out of range", field=field
        ) from None


def quote_of(q: StreamQuote) -> Quote:
    """A ``Q`` event as a Quote (what :func:`~portico.connectors.polygon.mapping.quote_from_stream` makes)."""
    t = q.t
    timestamp = _fromtimestamp(t / 1000, UTC) if _FAST_LOW <= t < _FAST_HIGH else from_ms(t)
    return _quote({"symbol": q.sym, "timestamp": timestamp, "bid_price": q.bp, "bid_size": q.bs, "ask_price": q.ap,
                   "ask_size": q.as_, "last_price": None, "volume": None, "change": None, "change_percent": None,
                   "previous_close": None, "currency": "USD", "source": SOURCE})  # fmt: skip


def trade_of(t: StreamTrade) -> Trade:
    """A ``T`` event as a Trade."""
    return _trade({"symbol": t.sym, "timestamp": _ms(t.t), "price": t.p, "size": t.s, "exchange": _exchange(t.x),
                   "trade_id": t.i, "conditions": [str(c) for c in t.c or ()], "source": SOURCE})  # fmt: skip


def bar_of(a: StreamAgg) -> Bar:
    """An ``AM`` event as a one-minute Bar."""
    return _bar({"symbol": a.sym, "timestamp": _ms(a.s), "interval": BarInterval.MIN_1, "open": a.o, "high": a.h,
                 "low": a.l, "close": a.c, "volume": a.v, "vwap": a.vw, "trade_count": None, "adjusted_close": None,
                 "dividend": None, "split_coefficient": None, "currency": "USD", "source": SOURCE})  # fmt: skip
