"""Performance arithmetic: time- and money-weighted returns, benchmarks and active return.

All amounts are ``Decimal`` and so are the returns, so a hand-computed case (the GIPS examples, a
spreadsheet) is met digit for digit. Conventions, chosen once and named in every result:

- A **valuation** is the portfolio's value at the end of a day; an **external cash flow** is money
  the owner moved in (positive) or out (negative), never a trade, a dividend or a fee.
- ``flow_timing="start"`` (the default) treats a day's flows as arriving before that day's market
  move, so they earn the day's return: ``r = (V_t - V_{t-1} - CF_t) / (V_{t-1} + CF_t)``;
  ``"end"`` treats them as arriving after it: ``r = (V_t - V_{t-1} - CF_t) / V_{t-1}``.
- Daily returns are geometrically linked: ``(1 + r_1)(1 + r_2)... - 1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from portico.errors import PayloadRejected

__all__ = [
    "DailyReturn",
    "FlowTiming",
    "active_return",
    "annualize",
    "blend_returns",
    "link",
    "modified_dietz",
    "money_weighted_return",
    "returns_from_prices",
    "time_weighted_returns",
]

FlowTiming = Literal["start", "end"]
ONE = Decimal(1)


@dataclass(frozen=True)
class DailyReturn:
    """One day's time-weighted return and the values it was computed from."""

    day: date
    begin_value: Decimal
    end_value: Decimal
    flow: Decimal
    value: Decimal


def time_weighted_returns(
    valuations: Mapping[date, Decimal],
    flows: Mapping[date, Decimal] | None = None,
    *,
    flow_timing: FlowTiming = "start",
) -> list[DailyReturn]:
    """Daily time-weighted returns between consecutive valuations.

    Args:
        valuations: end-of-day value per day (at least two days).
        flows: net external cash flow per day (in: positive, out: negative); a flow on a day that has
            no valuation is refused, since its effect cannot be separated from the market's.
        flow_timing: ``start`` or ``end`` of the day, see the module docstring.

    Raises:
        PayloadRejected: fewer than two valuations, a flow on an unvalued day or before the first
            valuation, or a base of zero or less (the return is undefined).
    """
    days = sorted(valuations)
    if len(days) < 2:
        raise PayloadRejected(f"time-weighted return needs at least two valuations, got {len(days)}")
    flows = dict(flows or {})
    valued = set(days)
    for day in sorted(flows):
        if day not in valued:
            raise PayloadRejected(
                f"external cash flow on {day} has no valuation that day; value the portfolio then"
            )
        if day == days[0] and flows[day]:
            raise PayloadRejected(
                f"external cash flow on {day}, the first valuation day, falls before the measured period"
            )
    out = []
    for prev, day in pairwise(days):
        begin, end, flow = valuations[prev], valuations[day], flows.get(day, Decimal(0))
        base = begin + flow if flow_timing == "start" else begin
        if base <= 0:
            raise PayloadRejected(f"return on {day} is undefined: its base value is {base}")
        out.append(DailyReturn(day, begin, end, flow, (end - begin - flow) / base))
    return out


def link(returns: Iterable[Decimal]) -> Decimal:
    """Geometric linking of period returns: ``prod(1 + r) - 1`` (0 for none)."""
    growth = ONE
    for r in returns:
        growth *= ONE + r
    return growth - ONE


def annualize(total: Decimal, days: int, *, basis: int = 365) -> Decimal:
    """A cumulative return over ``days`` calendar days as an annual rate; periods under a year are not
    annualized (GIPS forbids it), so ``total`` is returned unchanged for them."""
    if days <= 0:
        raise PayloadRejected(f"cannot annualize over {days} days")
    if days < basis:
        return total
    if total <= -1:
        return Decimal(-1)
    return Decimal(repr(round(float(ONE + total) ** (basis / days) - 1, 12)))


def modified_dietz(
    begin_value: Decimal,
    end_value: Decimal,
    flows: Sequence[tuple[date, Decimal]],
    start: date,
    end: date,
) -> Decimal:
    """The Modified Dietz return of one period: ``(EMV - BMV - sum CF) / (BMV + sum w_i CF_i)`` with
    ``w_i = (days from the flow to the end) / (days in the period)``, a flow counted at the end of its day.

    Raises:
        PayloadRejected: an empty period, a flow outside it, or a non-positive denominator.
    """
    total_days = (end - start).days
    if total_days <= 0:
        raise PayloadRejected(f"Modified Dietz needs end after start, got {start}..{end}")
    weighted = Decimal(0)
    net = Decimal(0)
    for day, amount in flows:
        if not start < day <= end:
            raise PayloadRejected(f"cash flow on {day} is outside the period {start}..{end}")
        weighted += Decimal((end - day).days) / Decimal(total_days) * amount
        net += amount
    denominator = begin_value + weighted
    if denominator <= 0:
        raise PayloadRejected(f"Modified Dietz return is undefined: average capital is {denominator}")
    return (end_value - begin_value - net) / denominator


def money_weighted_return(
    begin_value: Decimal,
    end_value: Decimal,
    flows: Sequence[tuple[date, Decimal]],
    start: date,
    end: date,
    *,
    tolerance: Decimal = Decimal("1e-12"),
) -> Decimal:
    """The internal rate of return, as an annual rate on an actual/365 basis (XIRR's convention).

    Solves ``BMV(1+r)^(T/365) + sum CF_i (1+r)^((end - d_i)/365) = EMV`` by bisection, which needs no
    derivative and always converges when a root is bracketed.

    Raises:
        PayloadRejected: an empty period, a flow outside it, or no rate between -99.99% and 10,000%.
    """
    if (end - start).days <= 0:
        raise PayloadRejected(f"money-weighted return needs end after start, got {start}..{end}")
    for day, _ in flows:
        if not start <= day <= end:
            raise PayloadRejected(f"cash flow on {day} is outside the period {start}..{end}")

    def surplus(rate: float) -> float:
        years = (end - start).days / 365
        value = float(begin_value) * (1 + rate) ** years
        for day, amount in flows:
            value += float(amount) * (1 + rate) ** ((end - day).days / 365)
        return value - float(end_value)

    low, high = -0.9999, 100.0
    f_low, f_high = surplus(low), surplus(high)
    if f_low * f_high > 0:
        raise PayloadRejected("no money-weighted return between -99.99% and 10,000% fits these flows")
    for _ in range(200):
        mid = (low + high) / 2
        f_mid = surplus(mid)
        if abs(high - low) < float(tolerance):
            break
        if (f_mid < 0) == (f_low < 0):
            low, f_low = mid, f_mid
        else:
            high = mid
    return Decimal(repr(round((low + high) / 2, 12)))


def returns_from_prices(prices: Mapping[date, Decimal]) -> dict[date, Decimal]:
    """Simple returns ``p_t / p_{t-1} - 1`` of a price or index level series, keyed by the later day."""
    days = sorted(prices)
    out = {}
    for prev, day in pairwise(days):
        if prices[prev] <= 0:
            raise PayloadRejected(f"price on {prev} is {prices[prev]}: a return from it is undefined")
        out[day] = prices[day] / prices[prev] - ONE
    return out


def blend_returns(
    components: Mapping[str, Mapping[date, Decimal]], weights: Mapping[str, Decimal]
) -> dict[date, Decimal]:
    """A blended benchmark rebalanced to its weights each period: ``r_t = sum w_i r_i,t``.

    Raises:
        PayloadRejected: weights that do not sum to 1, a weight for an unknown series, or a day one
            component lacks (a blend with a hole would silently drift).
    """
    total = sum(weights.values(), Decimal(0))
    if total != ONE:
        raise PayloadRejected(f"benchmark weights sum to {total}, not 1")
    unknown = sorted(set(weights) - set(components))
    if unknown:
        raise PayloadRejected(f"benchmark weights name series with no returns: {unknown}")
    names = [n for n in weights if weights[n]]
    days = sorted(set().union(*(components[n] for n in names)))
    out = {}
    for day in days:
        missing = [n for n in names if day not in components[n]]
        if missing:
            raise PayloadRejected(f"benchmark component(s) {missing} have no return on {day}")
        out[day] = sum((weights[n] * components[n][day] for n in names), Decimal(0))
    return out


def active_return(
    portfolio: Decimal, benchmark: Decimal, *, method: Literal["arithmetic", "geometric"] = "arithmetic"
) -> Decimal:
    """Portfolio minus benchmark (``arithmetic``), or ``(1 + r_p) / (1 + r_b) - 1`` (``geometric``)."""
    if method == "geometric":
        return (ONE + portfolio) / (ONE + benchmark) - ONE
    return portfolio - benchmark
