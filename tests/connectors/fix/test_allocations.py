"""Block allocations: AllocationInstruction (J) from the allocation service's result, answered by
AllocationInstructionAck (P) and AllocationReport (AS) from the FIX mock."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from portico.mocks.fix import FixMockServer
from portico.models import Execution, OrderRequest
from portico.testing import wait_for_async
from portico.trading import AccountAllocation, BlockAllocation, allocate_block


async def test_a_block_is_allocated_to_accounts_and_a_wrong_one_refused_with_the_reason(
    fix_mock: FixMockServer, fix_connector
) -> None:
    connector = await fix_connector(fix_mock)
    fills: list[Execution] = []

    async def collect() -> None:
        async for event in connector.subscribe_order_updates():
            if event.execution is not None:
                fills.append(event.execution)

    task = asyncio.create_task(collect())
    try:
        await asyncio.sleep(0)
        orders = []
        for i, quantity in enumerate((3, 2)):
            order = await connector.place_order(
                OrderRequest(
                    symbol="AAPL", side="buy", quantity=Decimal(quantity), client_order_id=f"blk-{i}"
                )
            )
            orders.append((order.client_order_id, order.order_id))
        await wait_for_async(lambda: sum(f.quantity for f in fills) == 5, timeout=5)
        block = allocate_block(fills, {"ACC-A": 3, "ACC-B": 2}, alloc_id="alloc-1")

        result = await connector.send_allocation(block, orders=orders)
        assert result.accepted and result.reason is None
        assert result.accounts == {"ACC-A": Decimal(3), "ACC-B": Decimal(2)}
        assert result.report_id == "ar-alloc-1"
        sent = fix_mock.allocations["alloc-1"]
        assert (sent[53], sent[54], sent[55], sent[857], sent[78]) == ("5", "1", "AAPL", "1", "2")
        assert Decimal(sent[6]) == block.average_price

        # shares that do not add up to the block: refused at block level, no report
        wrong = BlockAllocation(
            alloc_id="alloc-2",
            symbol="AAPL",
            side=block.side,
            trade_date=date(2026, 12, 3),
            currency="USD",
            quantity=Decimal(5),
            average_price=block.average_price,
            allocations=[AccountAllocation("ACC-A", Decimal(3), Decimal(4), None, Decimal(0))],
        )
        refused = await connector.send_allocation(wrong)
        assert refused.status == "block_rejected" and not refused.accounts
        assert refused.reason is not None and refused.reason.startswith("incorrect quantity: ")
        # a block naming an order the venue does not hold
        ghost = await connector.send_allocation(
            allocate_block(fills, {"ACC-A": 5}, alloc_id="alloc-3"), orders=[("no-such", "NONE")]
        )
        assert ghost.status == "block_rejected" and "unknown OrderID" in (ghost.reason or "")
    finally:
        task.cancel()
