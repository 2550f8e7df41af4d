"""Aggregates answers decoded once, straight into canonical bars.

A page of aggregates (``/v2/aggs/ticker/.../range``, ``/prev``, grouped daily) is decoded by one ``msgspec``
decoder into typed rows: every field's type is checked there (a price is a decimal exactly as written, a
timestamp an integer), and each :class:`~portico.models.Bar` is then built without validating the same
values again. Whatever the fast path does not take as it is goes through the pydantic path of
:func:`~portico.connectors.polygon.mapping.bars_from_results` (``json`` with exact decimals, the
:class:`~portico.connectors.polygon.wire.WireAgg` model, the validated ``Bar``), which decides exactly as it
always has and names the row and field that is wrong:

* a body ``msgspec`` refuses (a field of the wrong type or missing, ``results`` not a list, a body that is
  not an object, not JSON at all);
* a body holding ``NaN`` or ``Infinity`` anywhere (``msgspec`` reads them as decimals, the canonical models
  refuse them);
* a timestamp outside the range the fast conversion is exact for.

What the fast path accepts, the pydantic path accepts too, with equal bars (tests feed both paths the same
good and bad bodies).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from portico.connectors.polygon.client import loads_exact
from portico.connectors.polygon.mapping import SOURCE, bars_from_results
from portico.models import Bar, BarInterval
from portico.models._trusted import trusted_builder

__all__ = ["AggRow", "bars_from_page", "decode_aggs"]


# the fast timestamp conversion (float seconds) is exact to the millisecond inside this range; msgspec
# checks it while decoding, so a row outside it sends the whole page to the pydantic path
_FAST_LOW, _FAST_HIGH = 0, 4_000_000_000_000
_FastMs = Annotated[int, msgspec.Meta(ge=_FAST_LOW, lt=_FAST_HIGH)]


class AggRow(msgspec.Struct, gc=False):
    """One aggregate as the vendor keys it (what :class:`~portico.connectors.polygon.wire.WireAgg` reads)."""

    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 (the vendor's key)
    c: Decimal
    t: _FastMs
    v: Decimal = Decimal(0)
    vw: Decimal | None = None
    n: int | None = None
    T: str | None = None


class _Page(msgspec.Struct, gc=False):
    results: list[AggRow] | None = None
    next_url: str | None = None


_decoder = msgspec.json.Decoder(_Page)

_fromtimestamp = datetime.fromtimestamp
# bar starts seen lately, each as its datetime: a day's bars of many tickers share their starts, and a
# datetime is immutable, so one object serves them all (cleared when it grows past _STAMPS_KEPT)
_stamps: dict[int, datetime] = {}
_STAMPS_KEPT = 100_000

_SAMPLE_TIME = datetime(2026, 1, 5, 5, tzinfo=UTC)
_bar = trusted_builder(Bar, {"symbol": "X", "timestamp": _SAMPLE_TIME, "interval": BarInterval.DAY, "open": Decimal(1),
                             "high": Decimal(2), "low": Decimal(1), "close": Decimal(2), "volume": Decimal(10),
                             "vwap": Decimal("1.5"), "trade_count": 3, "adjusted_close": Decimal(2), "dividend": None,
                             "split_coefficient": None, "currency": "USD", "source": SOURCE})  # fmt: skip


def decode_aggs(content: bytes, endpoint: str) -> Any:
    """An aggregates body as ``{"results": [AggRow, ...], "next_url": ...}`` when the fast path takes it
    whole, else as the plain JSON (exact decimals) for the pydantic path to judge.

    Raises:
        PayloadRejected: the body is not JSON.
    """
    lowered = content.lower()
    if b"nan" not in lowered and b"inf" not in lowered:
        try:
            page = _decoder.decode(content)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        else:
            return {"results": page.results or [], "next_url": page.next_url}
    return loads_exact(content, endpoint)


def bars_from_page(results: Any, symbol: str, interval: BarInterval, *, adjusted: bool) -> list[Bar]:
    """A page's ``results`` as Bars: fast-path rows built directly (what
    :func:`~portico.connectors.polygon.mapping.bar_from_agg` makes of them), anything else through
    :func:`~portico.connectors.polygon.mapping.bars_from_results`.

    Raises:
        PayloadRejected: a malformed row (the pydantic path), naming it and the field.
    """
    if not results:
        return []
    if not (isinstance(results, list) and results[0].__class__ is AggRow):
        return bars_from_results(results, symbol, interval, adjusted=adjusted)
    rows: list[AggRow] = results
    stamps = _stamps
    if len(stamps) > _STAMPS_KEPT:
        stamps.clear()
    for r in rows:
        if r.t not in stamps:
            stamps[r.t] = _fromtimestamp(r.t / 1000, UTC)
    build = _bar
    return [
        build(
            {
                "symbol": symbol,
                "timestamp": stamps[r.t],
                "interval": interval,
                "open": r.o,
                "high": r.h,
                "low": r.l,
                "close": r.c,
                "volume": r.v,
                "vwap": r.vw,
                "trade_count": r.n,
                "adjusted_close": r.c if adjusted else None,
                "dividend": None,
                "split_coefficient": None,
                "currency": "USD",
                "source": SOURCE,
            }
        )
        for r in rows
    ]
