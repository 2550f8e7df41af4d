"""The chart fast path (msgspec, bars built without validating checked values again) against the pydantic
path: equal bars from captured bodies at every interval, adjusted or not, and every body the fast path does
not take whole left to the pydantic path, which refuses it as before."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.yahoo_finance._chart import FastChartResult, decode_chart, trusted_bar
from portico.connectors.yahoo_finance.mapping import bars_from_chart, chart_result
from portico.errors import NotFound, PayloadRejected, VenueRejected
from portico.models import Bar, BarInterval

DATA = Path(__file__).parent / "data"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


def slow(content: bytes, interval: BarInterval, adjusted: bool) -> list[Bar]:
    return bars_from_chart(chart_result(json.loads(content), "X"), interval=interval, adjusted=adjusted)


def fast(content: bytes, interval: BarInterval, adjusted: bool) -> list[Bar]:
    result = decode_chart(content)
    assert isinstance(result, FastChartResult), "the fast path should take this body"
    return bars_from_chart(result, interval=interval, adjusted=adjusted, make=trusted_bar)


@pytest.mark.parametrize(
    ("name", "interval"),
    [
        ("chart_aapl_1d_dividend.json", BarInterval.DAY),
        ("chart_aapl_1d_dividend.json", BarInterval.WEEK),
        ("chart_aapl_1d_dividend.json", BarInterval.MONTH),
        ("chart_nvda_split.json", BarInterval.DAY),
        ("chart_msft_5m_with_null_row.json", BarInterval.MIN_5),
    ],
)
@pytest.mark.parametrize("adjusted", [False, True])
def test_captured_bodies_give_the_pydantic_bars(name: str, interval: BarInterval, adjusted: bool) -> None:
    content = (DATA / name).read_bytes()
    expected = slow(content, interval, adjusted)
    got = fast(content, interval, adjusted)
    assert got == expected
    assert [b.model_dump() for b in got] == [b.model_dump() for b in expected]
    assert [repr(b) for b in got] == [repr(b) for b in expected]
    assert len(got) > 0


def test_the_dividend_and_split_land_on_their_bars_on_the_fast_path() -> None:
    dividend = fast((DATA / "chart_aapl_1d_dividend.json").read_bytes(), BarInterval.DAY, False)
    assert [b.dividend for b in dividend if b.dividend is not None] == [
        b.dividend for b in slow((DATA / "chart_aapl_1d_dividend.json").read_bytes(), BarInterval.DAY, False)
        if b.dividend is not None
    ]  # fmt: skip
    assert any(b.dividend is not None for b in dividend)
    split = fast((DATA / "chart_nvda_split.json").read_bytes(), BarInterval.DAY, False)
    assert any(b.split_coefficient is not None for b in split)


def _first_quote(body: Any) -> dict[str, Any]:
    return body["chart"]["result"][0]["indicators"]["quote"][0]  # type: ignore[no-any-return]


def _with(change: Any) -> bytes:
    body = copy.deepcopy(captured("chart_aapl_1d_dividend.json"))
    change(body)
    return encoded(body)


@pytest.mark.parametrize(
    "content",
    [
        _with(lambda b: _first_quote(b)["open"].__setitem__(0, {"raw": 190.5, "fmt": "190.50"})),
        _with(lambda b: _first_quote(b)["close"].__setitem__(0, "190.5")),
        _with(lambda b: _first_quote(b)["close"].__setitem__(0, True)),
        _with(lambda b: _first_quote(b)["high"].__setitem__(0, 10**400)),
        _with(lambda b: b["chart"]["result"][0]["timestamp"].__setitem__(0, 1.0e9)),
        _with(lambda b: b["chart"]["result"][0]["meta"].__setitem__("regularMarketPrice", {"raw": 1})),
        b'{"chart": {"result": [{"meta": {"symbol": "AAPL"}, "timestamp": [1], '
        b'"indicators": {"quote": [{"open": [NaN], "high": [1], "low": [1], "close": [1]}]}}]}}',
        b'{"chart": {"result": [{"meta": {"symbol": "AAPL"}, "timestamp": [1], '
        b'"indicators": {"quote": [{"open": [1e400], "high": [1], "low": [1], "close": [1]}]}}]}}',
        (DATA / "chart_error_not_found.json").read_bytes(),
        (DATA / "chart_error_1m_range.json").read_bytes(),
        b'{"chart": {"result": [], "error": null}}',
        b"Too Many Requests",
        b'{"chart": {"result": [{"meta": {}}]}}',
    ],
    ids=[
        "formatted number",
        "string price",
        "bool price",
        "int too large",
        "float timestamp",
        "formatted meta price",
        "NaN literal",
        "infinite float",
        "not found",
        "range error",
        "no result",
        "too many requests",
        "meta without symbol",
    ],
)
def test_a_body_the_fast_path_does_not_take_whole_is_left_to_the_pydantic_path(content: bytes) -> None:
    assert decode_chart(content) is None


def test_the_pydantic_path_still_refuses_what_the_fast_path_left_to_it() -> None:
    with pytest.raises(PayloadRejected, match="malformed"):
        slow(_with(lambda b: _first_quote(b)["close"].__setitem__(0, True)), BarInterval.DAY, False)
    with pytest.raises(NotFound):
        slow((DATA / "chart_error_not_found.json").read_bytes(), BarInterval.DAY, False)
    with pytest.raises(VenueRejected):
        slow((DATA / "chart_error_1m_range.json").read_bytes(), BarInterval.MIN_1, False)


def test_a_formatted_number_still_gives_the_same_bars_through_the_pydantic_path() -> None:
    content = _with(lambda b: _first_quote(b)["open"].__setitem__(0, {"raw": 190.5, "fmt": "190.50"}))
    assert decode_chart(content) is None
    [first, *_] = slow(content, BarInterval.DAY, False)
    assert str(first.open) == "190.5"


def test_misaligned_arrays_are_refused_on_the_fast_path_too() -> None:
    content = _with(lambda b: _first_quote(b)["open"].pop())
    result = decode_chart(content)
    assert isinstance(result, FastChartResult)
    with pytest.raises(PayloadRejected, match="open values for"):
        bars_from_chart(result, interval=BarInterval.DAY, make=trusted_bar)
