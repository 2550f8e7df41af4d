"""Chart answers decoded once with ``msgspec``, their bars built without validating the same values again.

The v8 chart body is decoded by one typed decoder whose structs mirror the pydantic wire models of
:mod:`portico.connectors.yahoo_finance.wire` field for field (same attribute names, same keys), with each
number typed as a JSON integer or float. Its number arrays then become Decimals exactly as the wire models
make them (a float from its shortest text, an integer as it is), and
:func:`~portico.connectors.yahoo_finance.mapping.bars_from_chart` builds the bars from it, with a builder
that skips validation of values already checked.

Whatever the fast path does not take as it is goes to the pydantic path, which decides exactly as it always
has (its errors name the symbol and what is wrong):

* a body ``msgspec`` refuses: not JSON (``Too Many Requests``), ``NaN`` or ``Infinity`` literals, a field
  of another type (a ``{"raw", "fmt"}`` number, a float where an integer belongs, ``true`` for a price);
* a body whose ``chart.error`` is set, or with no result (the pydantic path raises the right error);
* a number too large for a float (it would be infinite), anywhere the wire models read a number.

What the fast path accepts, the pydantic path accepts too, with equal bars (tests feed both the same good
and bad bodies).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from math import isfinite
from typing import Any

import msgspec

from portico.connectors.yahoo_finance.mapping import SOURCE
from portico.models import Bar, BarInterval
from portico.models._trusted import trusted_builder

__all__ = ["FastChartResult", "decode_chart", "trusted_bar"]

Number = int | float | None


class _Struct(msgspec.Struct, gc=False):
    pass


class _Meta(_Struct):
    symbol: str
    currency: str | None = None
    exchange_name: str | None = msgspec.field(default=None, name="exchangeName")
    instrument_type: str | None = msgspec.field(default=None, name="instrumentType")
    exchange_timezone: str = msgspec.field(default="America/New_York", name="exchangeTimezoneName")
    granularity: str | None = msgspec.field(default=None, name="dataGranularity")
    regular_market_price: Number = msgspec.field(default=None, name="regularMarketPrice")


class _QuoteArrays(_Struct):
    open: list[Any] = msgspec.field(default_factory=list)
    high: list[Any] = msgspec.field(default_factory=list)
    low: list[Any] = msgspec.field(default_factory=list)
    close: list[Any] = msgspec.field(default_factory=list)
    volume: list[Any] = msgspec.field(default_factory=list)


class _AdjClose(_Struct):
    adjclose: list[Any] = msgspec.field(default_factory=list)


class _Indicators(_Struct):
    quote: list[_QuoteArrays] = msgspec.field(default_factory=list)
    adjclose: list[_AdjClose] = msgspec.field(default_factory=list)


class _Dividend(_Struct):
    date: int
    amount: Any = None
    currency: str | None = None


class _Split(_Struct):
    date: int
    numerator: Any = None
    denominator: Any = None
    split_ratio: str | None = msgspec.field(default=None, name="splitRatio")


class _Events(_Struct):
    dividends: dict[str, _Dividend] = msgspec.field(default_factory=dict)
    splits: dict[str, _Split] = msgspec.field(default_factory=dict)


class FastChartResult(_Struct):
    """``chart.result[0]`` as the fast path read it (numbers already Decimals once :func:`decode_chart` returns)."""

    meta: _Meta
    timestamp: list[int] = msgspec.field(default_factory=list)
    indicators: _Indicators = msgspec.field(default_factory=_Indicators)
    events: _Events = msgspec.field(default_factory=_Events)


class _Error(_Struct):
    code: str | None = None
    description: str | None = None


class _Chart(_Struct):
    result: list[FastChartResult] | None = None
    error: _Error | None = None


class _Body(_Struct):
    chart: _Chart


# arrays are read as lists of anything and checked below (cheaper than a union per element in msgspec)
_decoder = msgspec.json.Decoder(_Body)


class _Slow(Exception):
    """A value the fast path leaves to the pydantic path."""


def _decimals(values: list[Any]) -> list[Decimal | None]:
    """An array of JSON numbers and nulls as the wire models' Decimals (floats from their shortest text)."""
    for v in values:
        cls = v.__class__
        if cls is not float and cls is not int and v is not None:
            raise _Slow  # bool, string, object: the wire models judge it
    try:
        if not isfinite(sum(filter(None, values))):
            raise _Slow
    except OverflowError:
        raise _Slow from None
    return [None if v is None else Decimal(repr(v)) if v.__class__ is float else Decimal(v) for v in values]


def _number(value: Any) -> Decimal | None:
    if value is None:
        return None
    return _decimals([value])[0]


def decode_chart(content: bytes) -> FastChartResult | None:
    """The chart's single result with every number a Decimal, or None: the pydantic path decides."""
    try:
        chart = _decoder.decode(content).chart
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if chart.error is not None and (chart.error.code or chart.error.description):
        return None
    if not chart.result:
        return None
    try:
        for result in chart.result:  # the wire models check every result, so does this
            result.meta.regular_market_price = _number(result.meta.regular_market_price)  # type: ignore[assignment]
            for arrays in result.indicators.quote:
                arrays.open = _decimals(arrays.open)
                arrays.high = _decimals(arrays.high)
                arrays.low = _decimals(arrays.low)
                arrays.close = _decimals(arrays.close)
                arrays.volume = _decimals(arrays.volume)
            for adj in result.indicators.adjclose:
                adj.adjclose = _decimals(adj.adjclose)
            for dividend in result.events.dividends.values():
                dividend.amount = _number(dividend.amount)
            for split in result.events.splits.values():
                split.numerator = _number(split.numerator)
                split.denominator = _number(split.denominator)
    except _Slow:
        return None
    return chart.result[0]


_SAMPLE_TIME = datetime(2026, 1, 5, 5, tzinfo=UTC)
_build = trusted_builder(Bar, {"symbol": "X", "timestamp": _SAMPLE_TIME, "interval": BarInterval.DAY, "open": Decimal(1),
                               "high": Decimal(2), "low": Decimal(1), "close": Decimal(2), "volume": Decimal(10),
                               "vwap": None, "trade_count": None, "adjusted_close": Decimal(2),
                               "dividend": Decimal("0.25"), "split_coefficient": Decimal(4), "currency": "USD",
                               "source": SOURCE})  # fmt: skip


_FIELDS = tuple(Bar.model_fields)


def trusted_bar(**values: Any) -> Bar:
    """A Bar from values :func:`bars_from_chart` made of a fast-path result (all checked already); a field
    it does not give (``vwap``, ``trade_count``) is None. Fields in the model's order, as validation sets them."""
    return _build({name: values.get(name) for name in _FIELDS})
