"""Trade confirmations: every recorded execution with its commission and fees, exportable."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from portico.errors import ConfigurationError
from portico.models import Execution, OrderSide

__all__ = ["TradeConfirmation", "confirmations_to_csv", "confirmations_to_json", "export_confirmations"]


@dataclass(frozen=True)
class TradeConfirmation:
    """One execution as confirmed: quantities, price, charges and the net cash effect.

    ``net_amount`` is what the account pays (buys: gross plus charges) or receives (sells: gross less
    charges), always positive.
    """

    system: str
    execution_id: str
    order_id: str | None
    client_order_id: str | None
    venue_order_id: str
    account_id: str | None
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    gross_amount: Decimal
    commission: Decimal
    fees: Decimal
    net_amount: Decimal
    currency: str
    executed_at: datetime
    venue: str | None

    @classmethod
    def from_execution(cls, system: str, execution: Execution, order_id: str | None) -> TradeConfirmation:
        gross = execution.quantity * execution.price
        commission = execution.commission or Decimal(0)
        fees = execution.fees or Decimal(0)
        charges = commission + fees
        net = gross + charges if execution.side is OrderSide.BUY else gross - charges
        return cls(
            system=system,
            execution_id=execution.execution_id,
            order_id=order_id,
            client_order_id=execution.client_order_id,
            venue_order_id=execution.order_id,
            account_id=execution.account_id,
            symbol=execution.symbol,
            side=execution.side.value,
            quantity=execution.quantity,
            price=execution.price,
            gross_amount=gross,
            commission=commission,
            fees=fees,
            net_amount=net,
            currency=execution.currency,
            executed_at=execution.executed_at,
            venue=execution.venue,
        )

    def to_row(self) -> dict[str, str]:
        row = asdict(self)
        return {
            k: "" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v))
            for k, v in row.items()
        }


_COLUMNS = tuple(TradeConfirmation.__dataclass_fields__)


def confirmations_to_csv(confirmations: Sequence[TradeConfirmation]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(c.to_row() for c in confirmations)
    return buf.getvalue()


def confirmations_to_json(confirmations: Sequence[TradeConfirmation]) -> str:
    return json.dumps([c.to_row() for c in confirmations], indent=2)


def export_confirmations(
    confirmations: Sequence[TradeConfirmation], path: str | Path, format: str | None = None
) -> Path:
    """Write confirmations as ``csv`` or ``json`` (default from the file suffix)."""
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".") or "csv").lower()
    if fmt not in {"csv", "json"}:
        raise ConfigurationError(
            f"confirmation export format must be csv or json, not {fmt!r}", path="format"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        confirmations_to_csv(confirmations) if fmt == "csv" else confirmations_to_json(confirmations),
        encoding="utf-8",
    )
    return target
