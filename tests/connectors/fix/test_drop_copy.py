"""The drop-copy session: reports of every order of the account, orders placed outside portico adopted."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from portico.mocks.fix import FixMockServer
from portico.models import OrderStatus
from portico.store import Database
from portico.testing import wait_for_async
from portico.trading import TradingService
from tests.connectors.fix.script import ScriptClient


async def test_drop_copy_adopts_orders_placed_elsewhere_and_applies_its_own_once(
    fix_mock: FixMockServer, fix_connector, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    events: list[tuple[str, dict]] = []
    connector = await fix_connector(fix_mock, db=db, events=events, drop_copy_comp_id="DROPCOPY")
    assert fix_mock.logons["DROPCOPY"] == 1
    check = await connector.check()
    assert check.ok and check.checks["drop_copy_logged_on"] is True
    service = TradingService(
        db=db,
        connectors={"fix": connector},
        config={"validate_account": False, "lookup_backoff": 0.05, "submit_timeout": 10},
    )
    await service.start()
    try:
        # portico's own order: its reports arrive on both sessions and are applied once
        own = await service.place_order(
            "fix", {"symbol": "AAPL", "side": "buy", "quantity": "3"}, idempotency_key="own-1"
        )

        def own_filled() -> bool:
            record = service.repo.get(own.id)
            return record is not None and record.status is OrderStatus.FILLED

        await wait_for_async(own_filled, timeout=5)
        # the copies of the order session's two reports (new, fill) carry the same ExecIDs
        await wait_for_async(lambda: connector.duplicates_ignored >= 2, timeout=5)

        # an order placed at the venue by another system (a trader's desk): only the drop copy sees it
        placed = fix_mock.venue.place_order(
            symbol="MSFT", side="buy", order_type="market", qty=Decimal(5), client_order_id="desk-1"
        )

        def adopted() -> bool:
            record = service.repo.by_client_id("fix", "desk-1")
            return record is not None and record.status is OrderStatus.FILLED

        await wait_for_async(adopted, timeout=5)
        record = service.repo.by_client_id("fix", "desk-1")
        assert record is not None
        assert record.origin == "external" and record.venue_order_id == placed.id
        assert record.idempotency_key == f"external:{placed.id}"
        assert (record.symbol, record.quantity, record.filled_quantity) == ("MSFT", Decimal(5), Decimal(5))
        assert service.repo.get(own.id).origin == "portico"  # type: ignore[union-attr]
        assert [r.client_order_id for r in service.list_orders(system_id="fix")] == [
            own.client_order_id,
            "desk-1",
        ]
        fills = {e.client_order_id: e.quantity for e in service.repo.executions(system="fix")}
        assert fills == {own.client_order_id: Decimal(3), "desk-1": Decimal(5)}, "each fill recorded once"
        assert not fix_mock.received or all(m.session.endswith("PORTICO") for m in fix_mock.received), (
            "nothing is sent on the drop-copy session"
        )
    finally:
        await service.stop()
        db.dispose()


async def test_the_mock_copies_reports_to_the_drop_copy_session_and_refuses_orders_on_it(
    fix_mock: FixMockServer,
) -> None:
    client = await ScriptClient.connect(fix_mock.host, fix_mock.port)
    try:
        await client.send("A", [(98, "0"), (108, "30")], sender="DROPCOPY")
        await client.expect("A")
        placed = fix_mock.venue.place_order(
            symbol="AAPL", side="sell", order_type="market", qty=Decimal(2), client_order_id="desk-2"
        )
        new = await client.expect("8")
        assert (new[11], new[37], new[150], new[39]) == ("desk-2", placed.id, "0", "0")
        fill = await client.expect("8")
        assert (fill[11], fill[150], fill[39], fill[32], fill[54]) == ("desk-2", "F", "2", "2", "2")
        # a drop-copy session only listens: an order on it is refused, nothing reaches the venue
        before = len(fix_mock.venue.orders)
        order = [(11, "dc-1"), (55, "AAPL"), (54, "1"), (60, "20260101-00:00:00"), (38, "1"), (40, "1")]
        await client.send("D", order, sender="DROPCOPY")
        reject = await client.expect("j")
        assert reject[380] == "3", "BusinessRejectReason 3: unsupported message type"
        assert len(fix_mock.venue.orders) == before
    finally:
        await client.close()
