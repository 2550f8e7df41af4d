"""Sharing a quantity pro-rata in whole lots: the rounding and residual rule of splitting a parent
order across brokers (:mod:`portico.trading._allocation`) and of allocating a block fill to accounts
(:mod:`portico.trading._block_allocation`).

**Rounding and residual rule** (both splitting and block allocation):

1. Only whole lots are shared pro-rata: each party's ideal share of the round-lot quantity is
   rounded down to whole lots.
2. The lots left over go one at a time to the party with the largest fractional remainder; ties go
   to the larger weight/target, then to the name first in alphabetical order. A party never gets
   more than its target.
3. An odd lot (quantity that is not a whole number of lots) goes to the party with the largest
   weight/target (ties: alphabetical).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal

from portico.errors import ConfigurationError, PayloadRejected

__all__ = ["ZERO", "split_pro_rata"]

ZERO = Decimal(0)


def split_pro_rata(
    total: Decimal,
    weights: Mapping[str, Decimal],
    *,
    lot_size: Decimal = Decimal(1),
    caps: Mapping[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    """Share ``total`` by ``weights`` in whole lots, with the module's residual rule.

    Args:
        total: the quantity to share.
        weights: relative weights (or target quantities) by party; zero-weight parties get nothing.
        lot_size: the trading lot.
        caps: the most each party may get (its target); default unlimited.

    Returns:
        Quantity by party (every party in ``weights``, possibly zero), summing to ``total``.
    """
    if lot_size <= 0:
        raise ConfigurationError("lot_size must be positive", path="lot_size")
    live = {k: Decimal(w) for k, w in weights.items() if Decimal(w) > 0}
    if not live:
        raise PayloadRejected("no party has a positive weight to share with", field="weights")
    wsum = sum(live.values(), ZERO)
    lots = (total / lot_size).to_integral_value(rounding=ROUND_DOWN)
    round_part = lots * lot_size
    odd = total - round_part
    out = dict.fromkeys(weights, ZERO)
    remainders: dict[str, Decimal] = {}
    for name, w in live.items():
        ideal_lots = lots * w / wsum
        base = ideal_lots.to_integral_value(rounding=ROUND_DOWN)
        out[name] = base * lot_size
        remainders[name] = ideal_lots - base
    left = int(lots - sum((out[n] / lot_size for n in live), ZERO))
    order = sorted(live, key=lambda n: (-remainders[n], -live[n], n))
    while left > 0:
        progressed = False
        for name in order:
            if left == 0:
                break
            if caps is not None and out[name] + lot_size > caps.get(name, out[name] + lot_size):
                continue
            out[name] += lot_size
            left -= 1
            progressed = True
        if not progressed:
            raise PayloadRejected(
                f"{total} cannot be shared within the targets in lots of {lot_size}", field="quantity"
            )
    if odd:
        biggest = sorted(live, key=lambda n: (-live[n], n))[0]
        out[biggest] += odd
    return out
