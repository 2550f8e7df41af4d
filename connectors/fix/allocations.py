"""Block allocations over FIX 4.4: AllocationInstruction (J) out, AllocationInstructionAck (P) and
AllocationReport (AS) in.

The instruction carries a :class:`~portico.trading.BlockAllocation` (the allocation service's result:
block quantity and average price, one ``NoAllocs`` entry per account) and, when given, the orders that
make up the block (``NoOrders``: ClOrdID and OrderID), so the counterparty can check the block against
its fills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from portico.connectors.fix.mapping import SIDES, Fields, _decimal
from portico.connectors.fix.session import FixMessage
from portico.errors import PayloadRejected

if TYPE_CHECKING:
    from portico.trading import BlockAllocation

__all__ = ["ALLOC_STATUS", "AllocationResult", "allocation_instruction", "read_allocations", "status_of"]

ALLOC_STATUS = {
    "0": "accepted",
    "1": "block_rejected",
    "2": "account_rejected",
    "3": "received",
    "4": "incomplete",
    "5": "rejected_by_intermediary",
}
"""AllocStatus (87) to a name."""
ALLOC_REJ_CODES = {
    "0": "unknown account",
    "1": "incorrect quantity",
    "2": "incorrect average price",
    "3": "unknown executing broker mnemonic",
    "4": "commission difference",
    "5": "unknown OrderID",
    "6": "unknown ListID",
    "7": "other",
}
"""AllocRejCode (88) to its meaning."""


def allocation_instruction(
    block: BlockAllocation, *, orders: list[tuple[str, str]] | None = None
) -> tuple[str, Fields]:
    """A new AllocationInstruction (J) for ``block``; ``orders``: (ClOrdID, OrderID) of the block's orders.

    Raises:
        PayloadRejected: the block has no allocations, or an allocation has no quantity.
    """
    if not block.allocations:
        raise PayloadRejected(f"allocation {block.alloc_id} has no accounts", field="allocations")
    entries: list[Fields] = []
    for share in block.allocations:
        if share.quantity <= 0:
            continue  # an account that gets nothing is not instructed
        entry: Fields = [(79, share.account), (80, _decimal(share.quantity))]
        if share.average_price is not None:
            entry.append((366, _decimal(share.average_price)))
        entries.append(entry)
    if not entries:
        raise PayloadRejected(f"allocation {block.alloc_id} allocates nothing", field="allocations")
    fields: Fields = [(70, block.alloc_id), (71, "0"), (626, "1")]  # new, calculated
    if orders:
        fields += [(857, "1"), (73, [[(11, cl_ord_id), (37, order_id)] for cl_ord_id, order_id in orders])]
    else:
        fields.append((857, "0"))  # orders not specified
    fields += [
        (54, SIDES[block.side]),
        (55, block.symbol),
        (53, _decimal(block.quantity)),
        (6, _decimal(block.average_price)),
        (15, block.currency),
        (75, block.trade_date.strftime("%Y%m%d")),
        (60, datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]),
        (78, entries),
    ]
    return "J", fields


@dataclass
class AllocationResult:
    """What the counterparty answered to an AllocationInstruction.

    Attributes:
        alloc_id: the instruction's AllocID.
        status: ``accepted``, ``block_rejected``, ``account_rejected``, ``received``... (AllocStatus).
        reason: the rejection's AllocRejCode meaning and Text, when refused.
        accounts: account -> quantity as the AllocationReport confirmed them (empty until it came).
        report_id: the AllocationReport's AllocReportID.
    """

    alloc_id: str
    status: str
    reason: str | None = None
    accounts: dict[str, Decimal] = field(default_factory=dict)
    report_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


def status_of(message: FixMessage) -> tuple[str, str | None]:
    """(status name, reason) of an ack or report."""
    code = message.get(87) or ""
    status = ALLOC_STATUS.get(code, f"status {code}")
    reason = None
    if code in ("1", "2", "5"):
        rej = message.get(88)
        parts = [ALLOC_REJ_CODES.get(rej or "", f"AllocRejCode {rej}") if rej else None, message.get(58)]
        reason = ": ".join(p for p in parts if p) or "refused"
    return status, reason


def read_allocations(raw_fields: list[tuple[int, str]], *, seq_num: int = 0) -> dict[str, Decimal]:
    """The NoAllocs entries (AllocAccount -> AllocQty) of a raw message's fields.

    Raises:
        PayloadRejected: an AllocQty that is not a number.
    """
    out: dict[str, Decimal] = {}
    account: str | None = None
    for tag, value in raw_fields:
        if tag == 79:
            account = value
        elif tag == 80 and account is not None:
            try:
                out[account] = out.get(account, Decimal(0)) + Decimal(value)
            except InvalidOperation:
                raise PayloadRejected(
                    f"AllocationReport {seq_num}: AllocQty (80) is not a number: {value!r}", field="80"
                ) from None
    return out
