"""Alpaca's market data frames: the fast decoder makes what the wire models make, refuses what they
refuse with their message (each bad message alone), and reads timestamps as pydantic does."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from portico.connectors.alpaca._frames import CHANNEL_OF, Control, Item, Rejected, to_item
from portico.connectors.alpaca._frames import decode_frame as decode_typed
from portico.connectors.alpaca.mapping import bar_from_wire, parse, quote_from_wire, trade_from_wire
from portico.connectors.alpaca.stream import MarketDataStream
from portico.connectors.alpaca.wire import WireBar, WireQuote, WireTrade
from portico.errors import PayloadRejected
from portico.http import StreamFeed
from portico.models import BarInterval

QUOTE = {"T": "q", "S": "AAPL", "bx": "V", "bp": 187.24, "bs": 3, "ax": "V", "ap": 187.26, "as": 2,
         "c": ["R"], "z": "C", "t": "2026-01-05T14:30:00.123456789Z"}  # fmt: skip
TRADE = {"T": "t", "S": "MSFT", "i": 52983525029461, "x": "V", "p": 415.5, "s": 100, "c": ["@"], "z": "C",
         "t": "2026-01-05T14:30:00.5Z"}  # fmt: skip
BAR = {"T": "b", "S": "SPY", "o": 480.1, "h": 480.5, "l": 479.9, "c": 480.25, "v": 12045, "n": 87, "vw": 480.2,
       "t": "2026-01-05T14:29:00Z"}  # fmt: skip


def frame(*messages: Any) -> bytes:
    return json.dumps(list(messages)).encode()


def decode_frame(data: bytes) -> list[Any]:
    # what the stream does with each message some feed wants
    return [to_item(m) if type(m) in CHANNEL_OF else m for m in decode_typed(data)]


def reference(message: dict[str, Any]) -> Any:
    exact = json.loads(json.dumps(message), parse_float=Decimal)
    if message["T"] == "q":
        return quote_from_wire(parse(WireQuote, exact, what="quote"), exact["S"])
    if message["T"] == "t":
        return trade_from_wire(parse(WireTrade, exact, what="trade"), exact["S"])
    return bar_from_wire(parse(WireBar, exact, what="bar"), exact["S"], BarInterval.MIN_1)


@pytest.mark.parametrize(
    "message",
    [
        QUOTE,
        TRADE,
        BAR,
        {**QUOTE, "t": "2026-01-05T14:30:00.9999999Z"},  # cut, not rounded, to the microsecond
        {**QUOTE, "t": "2026-01-05T14:30:00Z", "bp": 0, "ap": "187.5"},
        {"T": "q", "S": "BRK.B", "t": "2026-01-05T14:30:00.1Z"},
        {**TRADE, "i": "abc", "x": None},
        {**BAR, "n": None, "vw": None},
        {k: v for k, v in BAR.items() if k != "v"},
        {**QUOTE, "t": "2026-01-05T09:30:00-05:00"},  # an offset: pydantic's reading
        {**QUOTE, "t": "2026-01-05 14:30:00Z"},
        {**QUOTE, "t": 1767623400},  # unix seconds: the wire models take them
    ],
)
def test_the_fast_path_makes_what_the_wire_models_make(message: dict[str, Any]) -> None:
    [item] = decode_frame(frame(message))
    assert isinstance(item, Item)
    expected = reference(message)
    assert item.model == expected and item.model.model_dump_json() == expected.model_dump_json()
    assert item.model.timestamp.utcoffset() == expected.timestamp.utcoffset()


BAD = [
    ({**QUOTE, "bp": "abc"}, "bp"),
    ({**QUOTE, "bp": "NaN"}, "bp"),
    ({**QUOTE, "as": "Infinity"}, "as"),
    ({**QUOTE, "c": None}, "c"),
    ({**QUOTE, "t": "yesterday"}, "t"),
    ({**QUOTE, "t": "2026-02-30T14:30:00Z"}, "t"),
    ({**TRADE, "p": None}, "p"),
    ({**TRADE, "c": [1]}, "c.0"),
    ({**BAR, "o": [1]}, "o"),
]


@pytest.mark.parametrize(("message", "field"), BAD)
def test_a_bad_message_is_refused_alone_with_the_wire_models_reason(
    message: dict[str, Any], field: str
) -> None:
    with pytest.raises(PayloadRejected) as expected:
        reference(message)
    out = decode_frame(frame(QUOTE, message, TRADE))
    assert [type(o) for o in out] == [Item, Rejected, Item]
    assert out[1].reason == expected.value.message and out[1].field == field  # type: ignore[union-attr]
    assert out[0].model == reference(QUOTE) and out[2].model == reference(TRADE)  # type: ignore[union-attr]


def test_plain_frames_take_the_fast_path() -> None:
    typed = decode_typed(frame(QUOTE, TRADE, BAR))
    assert [CHANNEL_OF.get(type(m)) for m in typed] == ["quotes", "trades", "bars"]


def test_a_naive_timestamp_is_refused_by_the_canonical_model() -> None:
    [out] = decode_frame(frame({**QUOTE, "t": "2026-01-05T14:30:00"}))
    assert isinstance(out, Rejected) and "timestamp" in out.reason and "timezone" in out.reason


def test_control_messages_and_frames_that_are_not_json() -> None:
    success = {"T": "success", "msg": "authenticated"}
    out = decode_frame(frame(success, QUOTE))
    assert out[0] == Control(success) and isinstance(out[1], Item)
    with pytest.raises(PayloadRejected, match="not JSON"):
        decode_frame(b"{oops")


def test_the_stream_routes_each_model_once_to_the_feeds_that_want_it_and_reports_rejections() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    stream = MarketDataStream("ws://unused/v2/iex", system="alpaca", key_id="k", secret_key="s",
                              clock=None, emit=lambda e, **d: events.append((e, d)))  # type: ignore[arg-type]  # fmt: skip
    quotes: StreamFeed[Any] = StreamFeed(size=3)
    trades: StreamFeed[Any] = StreamFeed(size=100)
    stream._feeds[quotes] = ("quotes", {"AAPL"})
    stream._feeds[trades] = ("trades", {"MSFT"})
    stream._reroute()
    stream._on_frame(frame(*([QUOTE] * 5), TRADE, {**QUOTE, "S": "IBM"}, {**TRADE, "p": "x"}))
    assert quotes.pending == 3 and quotes.dropped == 2 and trades.pending == 1
    [(_, data)] = [e for e in events if e[0] == "stream.rejected"]
    assert data["field"] == "p" and data["reason"].startswith("Alpaca sent an invalid trade: p:")
    stream._on_frame(frame({"T": "error", "code": 405, "msg": "symbol limit exceeded"}))
    assert (
        "stream.error",
        {"stream": "market_data", "code": 405, "message": "symbol limit exceeded"},
    ) in events


def test_a_stamp_shared_by_consecutive_messages_is_read_once_and_a_new_one_afresh() -> None:
    stamps = ["2026-01-05T14:30:00.123456789Z", "2026-01-05T14:30:00.123456789Z", "2026-01-05T14:30:00.123456999Z",
              "2026-01-05T14:30:01Z", "2026-01-05T14:30:00.123456789Z", "2026-01-05T14:30:00+00:00"]  # fmt: skip
    items = decode_frame(frame(*({**QUOTE, "S": f"S{i}", "t": t} for i, t in enumerate(stamps))))
    times = [item.model.timestamp for item in items]
    assert [t.isoformat() for t in times] == [
        "2026-01-05T14:30:00.123456+00:00",
        "2026-01-05T14:30:00.123456+00:00",
        "2026-01-05T14:30:00.123456+00:00",
        "2026-01-05T14:30:01+00:00",
        "2026-01-05T14:30:00.123456+00:00",
        "2026-01-05T14:30:00+00:00",  # not the plain form: read by the wire models, and the same instant
    ]
    assert times[0] is times[1]  # one datetime for a repeated stamp
    for item, stamp in zip(items, stamps, strict=True):
        assert item.model == reference({**QUOTE, "S": item.model.symbol, "t": stamp})


def test_each_feed_gets_its_models_in_frame_order_whichever_feeds_share_a_symbol() -> None:
    stream = MarketDataStream("ws://unused/v2/iex", system="alpaca", key_id="k", secret_key="s",
                              clock=None, emit=lambda e, **d: None)  # type: ignore[arg-type]  # fmt: skip
    both: StreamFeed[Any] = StreamFeed(size=100)
    msft_only: StreamFeed[Any] = StreamFeed(size=100)
    stream._feeds[both] = ("quotes", {"AAPL", "MSFT", "IBM"})
    stream._feeds[msft_only] = ("quotes", {"MSFT"})
    stream._reroute()
    assert stream._routes[("quotes", "AAPL")] is stream._routes[("quotes", "IBM")]  # one list per set of feeds
    order = ["AAPL", "MSFT", "IBM", "MSFT", "AAPL", "SPY", "IBM"]
    stream._on_frame(frame(*({**QUOTE, "S": s, "bs": i} for i, s in enumerate(order))))
    seen = [(q.symbol, q.bid_size) for q in both._items]
    assert seen == [(s, Decimal(i)) for i, s in enumerate(order) if s != "SPY"]
    assert [(q.symbol, q.bid_size) for q in msft_only._items] == [("MSFT", Decimal(1)), ("MSFT", Decimal(3))]
