"""Alpaca market data frames decoded once, straight into canonical models.

A frame of quotes, trades and bars (``T`` of ``q``, ``t``, ``b``) is decoded by one ``msgspec`` decoder
that checks every field's type as the wire models of :mod:`portico.connectors.alpaca.wire` do, and the
canonical models are built without validating the same values again. Timestamps are RFC 3339 text
(``2026-01-05T14:30:00.123456789Z``): they are read as pydantic reads them, the fraction cut (not
rounded) to the microsecond. Anything else takes the pydantic path, message by message, exactly as
before: a frame holding control messages (``success``, ``subscription``, ``error``) or an unknown kind,
a field of the wrong type, ``NaN`` or ``Infinity`` anywhere, a timestamp not in the plain UTC form.
So what is accepted, and what is refused with which message, is what the wire models decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from pydantic import ValidationError

from portico.connectors.alpaca.mapping import bar_from_wire, parse, quote_from_wire, trade_from_wire
from portico.connectors.alpaca.wire import WireBar, WireQuote, WireTrade
from portico.errors import PayloadRejected
from portico.models import Bar, BarInterval, Quote, Trade
from portico.models._trusted import trusted_builder

__all__ = ["BUILD", "CHANNEL_OF", "Control", "Item", "NotPlain", "Rejected", "decode_frame", "to_item", "to_model"]

_SOURCE = "alpaca"


class _Quote(msgspec.Struct, gc=False, tag_field="T", tag="q"):
    S: str
    t: str
    ap: Decimal | None = None
    as_: Decimal | None = msgspec.field(default=None, name="as")
    ax: str | None = None
    bp: Decimal | None = None
    bs: Decimal | None = None
    bx: str | None = None
    c: list[str] = msgspec.field(default_factory=list)
    z: str | None = None


class _Trade(msgspec.Struct, gc=False, tag_field="T", tag="t"):
    S: str
    t: str
    p: Decimal
    s: Decimal
    x: str | None = None
    i: int | str | None = None
    c: list[str] = msgspec.field(default_factory=list)
    z: str | None = None


class _Bar(msgspec.Struct, gc=False, tag_field="T", tag="b"):
    S: str
    t: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - Alpaca's field name
    c: Decimal
    v: Decimal = Decimal(0)
    n: int | None = None
    vw: Decimal | None = None


_decoder = msgspec.json.Decoder(list[_Quote | _Trade | _Bar])
_fromisoformat = datetime.fromisoformat


@dataclass(frozen=True, slots=True)
class Item:
    """A canonical model and the channel (``quotes``, ``trades``, ``bars``) it belongs to."""

    channel: str
    model: Quote | Trade | Bar


@dataclass(frozen=True, slots=True)
class Rejected:
    """A market data message refused, with the wire models' reason."""

    channel: str
    reason: str
    field: str | None


@dataclass(frozen=True, slots=True)
class Control:
    """Any other message (``success``, ``subscription``, ``error``...), as the dict it was."""

    message: dict[str, Any]


class _Slow(Exception):
    pass


_last_stamp: tuple[str, datetime] = ("", datetime.min)
"""The last timestamp read and its text: the messages of a frame mostly share one (datetimes are
immutable, so the models share it too)."""


def _ts(text: str) -> datetime:
    global _last_stamp
    last = _last_stamp
    if text == last[0]:
        return last[1]
    # the plain form Alpaca sends: 2026-01-05T14:30:00[.fraction]Z; anything else is pydantic's to read
    if (
        len(text) < 20
        or text[-1] != "Z"
        or text[10] != "T"
        or text[4] != "-"
        or text[7] != "-"
        or text[19:20] not in ".Z"
    ):
        raise _Slow
    given = text
    if len(text) > 27:
        text = text[:26] + "Z"  # nanoseconds: cut to the microsecond, as pydantic does
    try:
        value = _fromisoformat(text)
    except ValueError:
        raise _Slow from None
    _last_stamp = (given, value)
    return value


_SAMPLE = datetime.fromisoformat("2026-01-05T15:00:00Z")
_quote = trusted_builder(Quote, {"symbol": "X", "timestamp": _SAMPLE, "bid_price": Decimal(1), "bid_size": Decimal(1),
                                 "ask_price": Decimal(2), "ask_size": Decimal(1), "last_price": None, "volume": None,
                                 "change": None, "change_percent": None, "previous_close": None, "currency": "USD",
                                 "source": _SOURCE})  # fmt: skip
_trade = trusted_builder(Trade, {"symbol": "X", "timestamp": _SAMPLE, "price": Decimal(1), "size": Decimal(1),
                                 "exchange": None, "trade_id": None, "conditions": [], "source": _SOURCE})  # fmt: skip
_bar = trusted_builder(Bar, {"symbol": "X", "timestamp": _SAMPLE, "interval": BarInterval.MIN_1, "open": Decimal(1),
                             "high": Decimal(1), "low": Decimal(1), "close": Decimal(1), "volume": Decimal(0), "vwap": None,
                             "trade_count": None, "adjusted_close": None, "dividend": None, "split_coefficient": None,
                             "currency": "USD", "source": _SOURCE})  # fmt: skip


Event = _Quote | _Trade | _Bar
CHANNEL_OF: dict[type, str] = {_Quote: "quotes", _Trade: "trades", _Bar: "bars"}
"""The channel of each typed message (``S`` is its symbol; :func:`to_item` makes its model)."""


def decode_frame(frame: str | bytes) -> list[Any]:
    """The messages of one frame, in order: typed messages (see :data:`CHANNEL_OF`) on the fast path,
    :class:`Item`, :class:`Rejected` and :class:`Control` ones otherwise.

    Raises:
        PayloadRejected: the frame is not JSON at all.
    """
    data = frame.encode() if isinstance(frame, str) else frame
    lowered = data.lower()
    if b"nan" not in lowered and b"inf" not in lowered:
        try:
            events = _decoder.decode(data)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError:
            raise PayloadRejected("Alpaca sent a stream frame that is not JSON", field="body") from None
        else:
            return events  # type: ignore[no-any-return]
    return _one_by_one(data)


def to_item(event: Event) -> Item | Rejected:
    """The canonical model of a typed message, as an :class:`Item` (see :func:`to_model`)."""
    out = to_model(event)
    return out if out.__class__ is Rejected else Item(CHANNEL_OF[event.__class__], out)  # type: ignore[arg-type]


def to_model(event: Event) -> Quote | Trade | Bar | Rejected:
    """The canonical model of a typed message; one whose timestamp is not in the plain UTC form is read
    by the wire models (and refused with their reason when they refuse it)."""
    try:
        return _BUILD[event.__class__](event)  # type: ignore[no-any-return]
    except _Slow:
        [out] = _one_by_one(msgspec.json.encode([event]))
        return out.model if isinstance(out, Item) else out  # type: ignore[return-value]


def _quote_of(q: _Quote) -> Quote:
    return _quote({"symbol": q.S, "timestamp": _ts(q.t), "bid_price": q.bp, "bid_size": q.bs, "ask_price": q.ap,
                   "ask_size": q.as_, "last_price": None, "volume": None, "change": None, "change_percent": None,
                   "previous_close": None, "currency": "USD", "source": _SOURCE})  # fmt: skip


def _trade_of(t: _Trade) -> Trade:
    return _trade({"symbol": t.S, "timestamp": _ts(t.t), "price": t.p, "size": t.s, "exchange": t.x,
                   "trade_id": None if t.i is None else str(t.i), "conditions": list(t.c), "source": _SOURCE})  # fmt: skip


def _bar_of(b: _Bar) -> Bar:
    return _bar({"symbol": b.S, "timestamp": _ts(b.t), "interval": BarInterval.MIN_1, "open": b.o, "high": b.h,
                 "low": b.l, "close": b.c, "volume": b.v, "vwap": b.vw, "trade_count": b.n, "adjusted_close": None,
                 "dividend": None, "split_coefficient": None, "currency": "USD", "source": _SOURCE})  # fmt: skip


_BUILD: dict[type, Any] = {_Quote: _quote_of, _Trade: _trade_of, _Bar: _bar_of}
BUILD = _BUILD
"""The fast builder of each typed message's model; it raises :data:`NotPlain` where :func:`to_model`
takes the wire models' path (a reader calls it straight and falls back to :func:`to_model`)."""
NotPlain = _Slow


_CHANNELS = {"q": "quotes", "t": "trades", "b": "bars"}


def _one_by_one(data: bytes) -> list[Item | Rejected | Control]:
    try:
        body = json.loads(data, parse_float=Decimal)  # the digits as written, as the fast path reads them
    except ValueError:
        raise PayloadRejected("Alpaca sent a stream frame that is not JSON", field="body") from None
    out: list[Item | Rejected | Control] = []
    for message in body if isinstance(body, list) else [body]:
        if not isinstance(message, dict):
            continue
        channel = _CHANNELS.get(str(message.get("T")))
        if channel is None:
            out.append(Control(message))
            continue
        symbol = message.get("S")
        if not isinstance(symbol, str):
            out.append(
                Rejected(channel, f"Alpaca sent an invalid {channel[:-1]}: S: expected the symbol", "S")
            )
            continue
        try:
            if channel == "quotes":
                model: Quote | Trade | Bar = quote_from_wire(parse(WireQuote, message, what="quote"), symbol)
            elif channel == "trades":
                model = trade_from_wire(parse(WireTrade, message, what="trade"), symbol)
            else:
                model = bar_from_wire(parse(WireBar, message, what="bar"), symbol, BarInterval.MIN_1)
        except PayloadRejected as exc:
            out.append(Rejected(channel, exc.message, exc.field))
        except ValidationError as exc:  # the canonical model refused a value (a naive timestamp...)
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            out.append(
                Rejected(channel, f"Alpaca sent an invalid {channel[:-1]}: {field}: {first['msg']}", field)
            )
        else:
            out.append(Item(channel, model))
    return out
