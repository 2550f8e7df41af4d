"""Block allocation: a filled block shared between accounts pro-rata by target, exportable with FIX
allocation field names (CSV or JSON).

The shares follow the rounding and residual rule of :mod:`portico.trading._pro_rata`
(:func:`~portico.trading._pro_rata.split_pro_rata`); the fills are consumed first in, first out, so
each account's average price is that of the fills it was given.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Literal

from portico.errors import ConfigurationError, PayloadRejected
from portico.models import Execution, OrderSide
from portico.trading._pro_rata import ZERO, split_pro_rata

__all__ = ["FIX_COLUMNS", "AccountAllocation", "BlockAllocation", "allocate_block"]

_FIX_SIDE = {OrderSide.BUY: "1", OrderSide.SELL: "2", OrderSide.SELL_SHORT: "5"}
FIX_COLUMNS = (
    "AllocID",
    "AllocTransType",
    "Side",
    "Symbol",
    "Quantity",
    "AvgPx",
    "TradeDate",
    "Currency",
    "AllocAccount",
    "AllocQty",
    "AllocAvgPx",
    "Commission",
)


@dataclass(frozen=True)
class AccountAllocation:
    """One account's share of a block."""

    account: str
    target: Decimal
    quantity: Decimal
    average_price: Decimal | None
    commission: Decimal


@dataclass
class BlockAllocation:
    """A filled block shared between accounts; exportable with FIX allocation field names."""

    alloc_id: str
    symbol: str
    side: OrderSide
    trade_date: date
    currency: str
    quantity: Decimal
    average_price: Decimal
    allocations: list[AccountAllocation] = field(default_factory=list)
    price_method: str = "average"

    def to_rows(self) -> list[dict[str, str]]:
        """One row per account: AllocID, AllocTransType (0 = new), Side (FIX code), Symbol, Quantity,
        AvgPx, TradeDate (YYYYMMDD), Currency, AllocAccount, AllocQty, AllocAvgPx, Commission."""
        return [
            {
                "AllocID": self.alloc_id,
                "AllocTransType": "0",
                "Side": _FIX_SIDE[self.side],
                "Symbol": self.symbol,
                "Quantity": str(self.quantity),
                "AvgPx": str(self.average_price),
                "TradeDate": self.trade_date.strftime("%Y%m%d"),
                "Currency": self.currency,
                "AllocAccount": a.account,
                "AllocQty": str(a.quantity),
                "AllocAvgPx": "" if a.average_price is None else str(a.average_price),
                "Commission": str(a.commission),
            }
            for a in self.allocations
        ]

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(FIX_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.to_rows())
        return buf.getvalue()

    def to_json(self) -> str:
        """The allocation as one message: block fields, then ``NoAllocs`` with one entry per account."""
        rows = self.to_rows()
        head = {
            k: v
            for k, v in (rows[0] if rows else {}).items()
            if not k.startswith("Alloc") or k in {"AllocID", "AllocTransType"}
        }
        head.pop("Commission", None)
        allocs = [{k: r[k] for k in ("AllocAccount", "AllocQty", "AllocAvgPx", "Commission")} for r in rows]
        return json.dumps({**head, "NoAllocs": allocs}, indent=2)

    def export(self, path: str | Path, format: str | None = None) -> Path:
        target = Path(path)
        fmt = (format or target.suffix.lstrip(".") or "csv").lower()
        if fmt not in {"csv", "json"}:
            raise ConfigurationError(
                f"allocation export format must be csv or json, not {fmt!r}", path="format"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_csv() if fmt == "csv" else self.to_json(), encoding="utf-8")
        return target


def allocate_block(
    fills: Sequence[Execution],
    targets: Mapping[str, Decimal | int | str],
    *,
    lot_size: Decimal | int = 1,
    price_method: Literal["average", "fifo"] = "average",
    price_places: int = 6,
    commission_places: int = 2,
    alloc_id: str | None = None,
) -> BlockAllocation:
    """Share the fills of one block order among accounts, pro-rata by their target quantities.

    Quantities follow the module's rounding and residual rule. Prices:

    - ``average`` (default): every account gets the block's volume-weighted average price.
    - ``fifo``: accounts, largest allocation first (ties alphabetical), take the fills in execution
      order; each account's price is the average of the fill quantities it took.

    Prices are rounded half-even to ``price_places``. The block's commission and fees are shared
    pro-rata by allocated quantity, rounded to ``commission_places``, the rounding residue going to
    the largest allocation.

    Raises:
        PayloadRejected: no fills, fills of different instruments or sides, or more filled than targeted.
    """
    if not fills:
        raise PayloadRejected("no fills to allocate", field="fills")
    first = fills[0]
    if any(f.symbol != first.symbol or f.side is not first.side for f in fills):
        raise PayloadRejected("a block allocation needs fills of one instrument and side", field="fills")
    tgt = {k: Decimal(str(v)) for k, v in targets.items()}
    if any(v < 0 for v in tgt.values()):
        raise PayloadRejected("targets must not be negative", field="targets")
    total = sum((f.quantity for f in fills), ZERO)
    if total > sum(tgt.values(), ZERO):
        raise PayloadRejected(
            f"filled {total} exceeds the targets' total {sum(tgt.values(), ZERO)}", field="targets"
        )
    quantities = split_pro_rata(total, tgt, lot_size=Decimal(lot_size), caps=tgt)
    value = sum((f.quantity * f.price for f in fills), ZERO)
    quantum = Decimal(1).scaleb(-price_places)
    block_avg = (value / total).quantize(quantum, rounding=ROUND_HALF_EVEN)
    prices: dict[str, Decimal | None] = {}
    if price_method == "average":
        prices = {k: (block_avg if q > 0 else None) for k, q in quantities.items()}
    elif price_method == "fifo":
        queue = deque(
            [f.quantity, f.price] for f in sorted(fills, key=lambda f: (f.executed_at, f.execution_id))
        )
        for account in sorted(quantities, key=lambda k: (-quantities[k], k)):
            need, spent = quantities[account], ZERO
            while need > 0:
                take = min(need, queue[0][0])
                spent += take * queue[0][1]
                queue[0][0] -= take
                need -= take
                if queue[0][0] == 0:
                    queue.popleft()
            prices[account] = (
                (spent / quantities[account]).quantize(quantum, rounding=ROUND_HALF_EVEN)
                if quantities[account]
                else None
            )
    else:
        raise ConfigurationError(
            f"price_method must be average or fifo, not {price_method!r}", path="price_method"
        )
    charges = sum(((f.commission or ZERO) + (f.fees or ZERO) for f in fills), ZERO)
    cq = Decimal(1).scaleb(-commission_places)
    commissions = {k: (charges * q / total).quantize(cq, rounding=ROUND_DOWN) for k, q in quantities.items()}
    residue = charges.quantize(cq, rounding=ROUND_HALF_EVEN) - sum(commissions.values(), ZERO)
    if residue:
        largest = sorted(quantities, key=lambda k: (-quantities[k], k))[0]
        commissions[largest] += residue
    return BlockAllocation(
        alloc_id=alloc_id or uuid.uuid4().hex[:16],
        symbol=first.symbol,
        side=first.side,
        trade_date=min(f.executed_at for f in fills).date(),
        currency=first.currency,
        quantity=total,
        average_price=block_avg,
        allocations=[
            AccountAllocation(
                account=k,
                target=tgt[k],
                quantity=quantities[k],
                average_price=prices[k],
                commission=commissions[k],
            )
            for k in sorted(tgt)
        ],
        price_method=price_method,
    )
