"""The stream's fast decoder against the pydantic wire models: the same models from good events, the same
clear rejection of bad ones (each alone: the rest of its frame is delivered), exact timestamps, and a
slow consumer's drops counted on its feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from portico.connectors.polygon import _frames
from portico.connectors.polygon._frames import Ready, Rejected, Status, decode_frame, to_model
from portico.connectors.polygon.mapping import bar_from_stream, from_ms, quote_from_stream, trade_from_stream
from portico.connectors.polygon.stream import PolygonStream
from portico.errors import PayloadRejected
from portico.http import StreamFeed
from portico.models import Bar, Quote, Trade
from portico.models._trusted import trusted_builder

T0 = 1_767_625_200_123  # 2026-01-05 15:00:00.123 UTC

QUOTE = {"ev": "Q", "sym": "AAPL", "bx": 4, "bp": 190.01, "bs": 2, "ax": 7, "ap": 190.05, "as": 3, "c": 1,
         "i": [604], "t": T0, "q": 50385480, "z": 3}  # fmt: skip
TRADE = {"ev": "T", "sym": "MSFT", "x": 4, "i": "12345", "z": 3, "p": 114.125, "s": 100, "c": [0, 12],
         "t": T0, "q": 3135876}  # fmt: skip
AGG = {"ev": "AM", "sym": "SPY", "v": 4110, "av": 9470157, "op": 0.4372, "vw": 0.4488, "o": 0.4488,
       "c": 0.4486, "h": 0.4489, "l": 0.4480, "a": 0.4352, "z": 685, "s": T0 - 60_000, "e": T0}  # fmt: skip
PYDANTIC = {"Q": quote_from_stream, "T": trade_from_stream, "AM": bar_from_stream}


def frame(*events: Any) -> bytes:
    return json.dumps(list(events)).encode()


def pydantic_model(event: dict[str, Any]) -> Quote | Trade | Bar:
    # the reference: the wire models over the exact decimals the vendor wrote
    exact = json.loads(json.dumps(event), parse_float=Decimal)
    return PYDANTIC[event["ev"]](exact)  # type: ignore[no-any-return]


def models_of(events: list[Any]) -> list[Any]:
    out = []
    for event in events:
        if isinstance(event, Ready):
            out.append(event.model)
        elif isinstance(event, Rejected | Status):
            out.append(event)
        else:
            out.append(to_model(event))
    return out


@pytest.mark.parametrize(
    "event",
    [
        QUOTE,
        TRADE,
        AGG,
        {**QUOTE, "bp": 0, "bs": 0, "ap": "190.5"},  # decimals as integers and as text
        {"ev": "Q", "sym": "BRK.B", "t": T0},  # both sides absent
        {**QUOTE, "bp": 1e-7, "ap": 123456789012.125},
        {**TRADE, "c": None, "x": None, "i": None},
        {**AGG, "vw": None},
        {k: v for k, v in AGG.items() if k != "v"},  # volume defaults to 0
        {**QUOTE, "t": 0},
        {**QUOTE, "t": 3_999_999_999_999},
        {**QUOTE, "t": 4_000_000_000_000},  # past the fast conversion's range: the exact one
        {**QUOTE, "t": -1},
    ],
)
def test_the_fast_path_makes_what_the_pydantic_path_makes(event: dict[str, Any]) -> None:
    [decoded] = decode_frame(frame(event))
    assert not isinstance(decoded, Ready | Rejected), "expected the fast path"
    fast = to_model(decoded)
    slow = pydantic_model(event)
    assert type(fast) is type(slow)
    assert fast == slow and fast.model_dump() == slow.model_dump() and repr(fast) == repr(slow)
    assert fast.model_dump_json() == slow.model_dump_json()
    # the canonical model is the public one, immutable like any other
    with pytest.raises(Exception, match="frozen"):
        fast.symbol = "X"  # type: ignore[misc]


def test_prices_keep_the_digits_the_vendor_wrote() -> None:
    [decoded] = decode_frame(b'[{"ev":"Q","sym":"A","t":1,"bp":190.10,"ap":1E+2}]')
    quote = to_model(decoded)
    assert isinstance(quote, Quote)
    assert str(quote.bid_price) == "190.10" and quote.ask_price == Decimal(100)


BAD = [
    ({**QUOTE, "bp": "abc"}, "bp"),
    ({**QUOTE, "bp": "NaN"}, "bp"),
    ({**QUOTE, "ap": "-Infinity"}, "ap"),
    ({**QUOTE, "bs": True}, "bs"),
    ({**QUOTE, "sym": 5}, "sym"),
    ({k: v for k, v in QUOTE.items() if k != "sym"}, "sym"),
    ({k: v for k, v in QUOTE.items() if k != "t"}, "t"),
    ({**QUOTE, "t": "soon"}, "t"),
    ({**TRADE, "p": None}, "p"),
    ({**TRADE, "c": ["x"]}, "c.0"),
    ({**AGG, "o": [1]}, "o"),
]


@pytest.mark.parametrize(("event", "field"), BAD)
def test_a_bad_event_is_rejected_alone_with_the_pydantic_reason(event: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadRejected) as expected:
        pydantic_model(event)
    good = {**QUOTE, "sym": "MSFT"}
    events = decode_frame(frame(QUOTE, event, good))
    out = models_of(events)
    assert len(out) == 3
    assert out[0] == pydantic_model(QUOTE) and out[2] == pydantic_model(good)
    assert out[1] == Rejected(expected.value.message, expected.value.field)
    assert out[1].field == field and out[1].reason.startswith("malformed Polygon stream ")


def test_what_the_wire_models_coerce_is_delivered_as_they_coerce_it() -> None:
    # msgspec refuses an integer written as 1.0 or as text; pydantic's lax mode takes them: the
    # slow path decides, so nothing the connector delivered before is refused now
    lax = {**QUOTE, "t": float(T0), "bs": "2"}
    [event] = decode_frame(frame(lax))
    assert isinstance(event, Ready) and event.model == pydantic_model(lax)


def test_a_timestamp_no_datetime_can_hold_is_a_clear_rejection() -> None:
    huge = {**QUOTE, "t": 10**18}
    [event] = decode_frame(frame(huge))
    with pytest.raises(PayloadRejected, match=r"malformed Polygon stream quote: t: timestamp out of range"):
        to_model(event)
    [event] = decode_frame(frame({**AGG, "s": 10**18}))
    with pytest.raises(PayloadRejected, match=r"aggregate: s: timestamp out of range"):
        to_model(event)


def test_frames_that_are_not_arrays_of_objects() -> None:
    with pytest.raises(PayloadRejected, match="not JSON"):
        decode_frame(b"[{")
    [lone] = decode_frame(json.dumps(QUOTE).encode())  # a lone object is one event
    assert isinstance(lone, Ready) and lone.model == pydantic_model(QUOTE)
    [odd, status, kept] = decode_frame(frame(7, {"ev": "status", "status": "connected"}, {"ev": "XQ"}, QUOTE))
    assert isinstance(odd, Rejected) and "expected an object, got int" in odd.reason
    assert status == Status(status="connected", message=None) and isinstance(kept, Ready)


def test_the_fast_millisecond_conversion_is_exact_over_its_range() -> None:
    low, high = _frames._FAST_MS
    step = (high - low) // 20_011
    for ms in [*range(low, high, step), high - 1, 1_767_625_200_999, 1_767_625_200_001]:
        assert _frames._ms(ms) == from_ms(ms), ms
    assert _frames._ms(high) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=high)


def test_the_trusted_builder_builds_what_validation_builds_or_falls_back() -> None:
    sample = {"symbol": "X", "timestamp": datetime(2026, 1, 5, tzinfo=UTC), "price": Decimal(1), "size": Decimal(2),
              "exchange": None, "trade_id": None, "conditions": [], "source": None}  # fmt: skip
    build = trusted_builder(Trade, sample)
    assert build(dict(sample)) == Trade.model_validate(sample)
    assert build.__qualname__.endswith("trusted_builder.<locals>.build")
    with pytest.raises(ValueError, match="lacks"):
        trusted_builder(Trade, {"symbol": "X"})

    from pydantic import BaseModel

    class Mutable(BaseModel):
        a: int

    assert trusted_builder(Mutable, {"a": 1})({"a": 2}) == Mutable(a=2)  # not frozen: model_construct
    assert trusted_builder(Mutable, {"a": 1}).__qualname__.startswith("_constructing")


def _stream(events: list[tuple[str, dict[str, Any]]]) -> PolygonStream:
    return PolygonStream("ws://unused/stocks", system="poly", api_key="k", clock=None,  # type: ignore[arg-type]
                         emit=lambda event, **data: events.append((event, data)))  # fmt: skip


def test_events_go_to_the_feeds_that_want_them_and_rejections_are_reported() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    stream = _stream(seen)
    quotes: StreamFeed[Any] = StreamFeed(size=100)
    both: StreamFeed[Any] = StreamFeed(size=100)
    stream._feeds[quotes] = {"Q.AAPL"}
    stream._feeds[both] = {"Q.AAPL", "T.MSFT"}
    stream._reroute()
    stream._on_frame(frame(QUOTE, TRADE, {**QUOTE, "sym": "IBM"}, {**QUOTE, "bp": "abc"}, AGG))
    assert [q.symbol for q in quotes._items] == ["AAPL"]
    assert [type(i).__name__ for i in both._items] == ["Quote", "Trade"]
    assert quotes._items[0] is both._items[0]  # one model, shared (it is immutable)
    [(_name, data)] = [e for e in seen if e[0] == "stream.rejected"]
    assert data["field"] == "bp" and data["reason"].startswith("malformed Polygon stream quote: bp:")
    assert stream.rejected == 1
    stream._on_frame(b"not json")
    assert stream.rejected == 2


def test_a_consumer_that_falls_behind_loses_the_oldest_and_the_feed_counts_them() -> None:
    stream = _stream([])
    feed: StreamFeed[Any] = StreamFeed(size=50)
    counted: list[int] = []
    feed.watch_drops(counted.append)
    stream._feeds[feed] = {"Q.AAPL"}
    stream._reroute()
    for n in range(3):
        stream._on_frame(frame(*({**QUOTE, "t": T0 + n * 40 + i} for i in range(40))))
    assert feed.dropped == 70 and sum(counted) == 70
    assert [q.timestamp for q in feed._items][-1] == from_ms(T0 + 2 * 40 + 39)
