"""The aggregates fast path (msgspec rows built straight into Bars) against the pydantic path: equal bars from
good bodies, and every body the fast path does not take whole handed to the pydantic path, which refuses
it with the same message as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.polygon._aggs import AggRow, bars_from_page, decode_aggs
from portico.connectors.polygon.mapping import bars_from_results
from portico.errors import PayloadRejected
from portico.models import Bar, BarInterval

DATA = Path(__file__).parent / "data"
ROW = {
    "v": 642646396.0,
    "vw": 1.469,
    "o": 1.5032,
    "c": 1.4604,
    "h": 1.5064,
    "l": 1.4489,
    "t": 1112331600000,
    "n": 82132,
}


def body(*rows: Any, **extra: Any) -> bytes:
    return json.dumps({"ticker": "AAPL", "status": "OK", "results": list(rows), **extra}).encode()


def pydantic_bars(content: bytes, *, adjusted: bool, interval: BarInterval = BarInterval.DAY) -> list[Bar]:
    exact = json.loads(content, parse_float=Decimal)
    return bars_from_results(exact.get("results") or [], "AAPL", interval, adjusted=adjusted)


def fast_bars(content: bytes, *, adjusted: bool, interval: BarInterval = BarInterval.DAY) -> list[Bar]:
    page = decode_aggs(content, "GET /v2/aggs")
    return bars_from_page(page.get("results"), "AAPL", interval, adjusted=adjusted)


@pytest.mark.parametrize("adjusted", [True, False])
def test_a_captured_body_takes_the_fast_path_and_gives_the_pydantic_bars(adjusted: bool) -> None:
    content = (DATA / "aggs_day.json").read_bytes()
    page = decode_aggs(content, "GET /v2/aggs")
    assert [type(row) for row in page["results"]] == [AggRow, AggRow]
    fast = fast_bars(content, adjusted=adjusted)
    assert fast == pydantic_bars(content, adjusted=adjusted)
    assert [b.model_dump() for b in fast] == [
        b.model_dump() for b in pydantic_bars(content, adjusted=adjusted)
    ]
    first = fast[0]
    assert first.timestamp == datetime(2005, 4, 1, 5, tzinfo=UTC)
    assert (first.open, first.close, first.volume, first.vwap) == (
        Decimal("1.5032"), Decimal("1.4604"), Decimal("642646396.0"), Decimal("1.469"))  # fmt: skip
    assert first.trade_count == 82132
    assert first.adjusted_close == (Decimal("1.4604") if adjusted else None)
    assert repr(first) == repr(pydantic_bars(content, adjusted=adjusted)[0])


def test_the_fast_path_keeps_next_url_and_optional_fields() -> None:
    content = body(
        {"o": 1, "h": 2, "l": "0.5", "c": 1.25, "t": 0}, next_url="https://api.massive.com/v2/aggs?cursor=x"
    )
    page = decode_aggs(content, "GET /v2/aggs")
    assert page["next_url"] == "https://api.massive.com/v2/aggs?cursor=x"
    assert type(page["results"][0]) is AggRow
    [bar] = fast_bars(content, adjusted=False, interval=BarInterval.MIN_1)
    assert bar == pydantic_bars(content, adjusted=False, interval=BarInterval.MIN_1)[0]
    assert (bar.low, bar.volume, bar.vwap, bar.trade_count) == (Decimal("0.5"), Decimal(0), None, None)
    assert bar.timestamp == datetime(1970, 1, 1, tzinfo=UTC)


def test_a_body_without_results_is_no_bars() -> None:
    content = json.dumps({"ticker": "ZZZZ", "status": "OK", "resultsCount": 0}).encode()
    assert decode_aggs(content, "GET /v2/aggs") == {"results": [], "next_url": None}
    assert fast_bars(content, adjusted=False) == []


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"o": 1, "h": 1, "l": 1, "c": 1}, "aggregate 0: t: Field required"),
        ({"o": "x", "h": 1, "l": 1, "c": 1, "t": 0}, "aggregate 0: o:"),
        ({"o": True, "h": 1, "l": 1, "c": 1, "t": 0}, "aggregate 0: o:"),
        ({"o": 1, "h": 1, "l": 1, "c": 1, "t": "soon"}, "aggregate 0: t:"),
        ({"o": "NaN", "h": 1, "l": 1, "c": 1, "t": 0}, "aggregate 0"),
        ({"o": "Infinity", "h": 1, "l": 1, "c": 1, "t": 0}, "aggregate 0"),
    ],
)
def test_a_row_the_fast_path_refuses_is_judged_by_the_pydantic_path(
    row: dict[str, Any], message: str
) -> None:
    content = body(ROW, row)
    page = decode_aggs(content, "GET /v2/aggs")
    assert all(isinstance(r, dict) for r in page["results"])  # handed over as plain JSON
    with pytest.raises(PayloadRejected, match=message.replace("aggregate 0", "aggregate 1")):
        fast_bars(content, adjusted=False)


def test_a_bare_nan_literal_goes_to_the_pydantic_path_and_is_refused() -> None:
    content = b'{"results": [{"o": NaN, "h": 1, "l": 1, "c": 1, "t": 0}]}'
    with pytest.raises(PayloadRejected, match="aggregate 0: o:"):
        fast_bars(content, adjusted=False)


@pytest.mark.parametrize("t", [-86_400_000, 4_000_000_000_000, 1112331600000.0])
def test_a_timestamp_outside_the_fast_range_or_not_an_integer_gives_the_pydantic_bar(t: Any) -> None:
    content = body(dict(ROW, t=t))
    page = decode_aggs(content, "GET /v2/aggs")
    assert isinstance(page["results"][0], dict)
    assert fast_bars(content, adjusted=True) == pydantic_bars(content, adjusted=True)


def test_a_body_that_is_not_json_is_refused_with_the_endpoint() -> None:
    with pytest.raises(
        PayloadRejected, match=r"Polygon answered GET /v2/aggs with a body that is not JSON \('<html>"
    ):
        decode_aggs(b"<html>bad gateway</html>", "GET /v2/aggs")


def test_results_that_are_not_a_list_go_to_the_pydantic_path() -> None:
    content = json.dumps({"results": {"o": 1}}).encode()
    page = decode_aggs(content, "GET /v2/aggs")
    assert page == {"results": {"o": 1}}
    with pytest.raises(PayloadRejected):
        fast_bars(content, adjusted=False)
