"""The FIX connector through the trading service against the FIX mock: idempotency, restarts, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from portico.connectors.fix import FixConnector
from portico.connectors.fix.sequences import SequenceStore
from portico.connectors.fix.session import SessionConfig
from portico.errors import ConnectionFailed, OutcomeUnknown
from portico.mocks.fix import FixFaults, FixMockServer
from portico.models import OrderEvent, OrderRequest, OrderStatus
from portico.store import Database
from portico.testing import wait_for_async
from portico.testing.conformance import ConnectorConformance
from portico.trading import OrderRejected, TradingService
from tests.connectors.fix.conftest import FAST


def _service(db: Database, connector: FixConnector) -> TradingService:
    return TradingService(
        db=db,
        connectors={"fix": connector},
        config={"validate_account": False, "lookup_backoff": 0.05, "submit_timeout": 10},
    )


def _orders_at_venue(mock: FixMockServer, client_order_id: str) -> int:
    return sum(1 for o in mock.venue.orders.values() if o.client_order_id == client_order_id)


def _sent(mock: FixMockServer, msg_type: str, client_order_id: str) -> int:
    return sum(1 for m in mock.received if m.msg_type == msg_type and m.fields.get(11) == client_order_id)


# -- orders through the trading service ------------------------------------------------------------------


async def test_clordid_is_the_trading_services_client_order_id(
    fix_mock: FixMockServer, fix_connector, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    connector = await fix_connector(fix_mock, db=db)
    service = _service(db, connector)
    record = await service.place_order(
        "fix", {"symbol": "AAPL", "side": "buy", "quantity": "3"}, idempotency_key="key-1"
    )
    assert record.status is not OrderStatus.REJECTED
    assert _sent(fix_mock, "D", record.client_order_id) == 1
    assert _orders_at_venue(fix_mock, record.client_order_id) == 1
    again = await service.place_order(
        "fix", {"symbol": "AAPL", "side": "buy", "quantity": "3"}, idempotency_key="key-1"
    )
    assert again.id == record.id
    assert _sent(fix_mock, "D", record.client_order_id) == 1, "the same key sends nothing the second time"
    await service.stop()
    db.dispose()


async def test_business_reject_is_order_rejected_with_the_venue_reason(
    fix_mock: FixMockServer, fix_connector, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    service = _service(db, await fix_connector(fix_mock, db=db))
    with pytest.raises(OrderRejected) as info:
        await service.place_order(
            "fix", {"symbol": "NOSUCHASSET", "side": "buy", "quantity": "1"}, idempotency_key="bad-1"
        )
    cid = info.value.record.client_order_id
    assert cid in fix_mock.rejected
    assert fix_mock.rejected[cid] in (info.value.record.reject_reason or "")
    await service.stop()
    db.dispose()


async def test_lost_ack_after_a_disconnect_never_becomes_a_second_order(
    fix_connector, tmp_path: Path
) -> None:
    mock = await FixMockServer(seed=11, faults={"drop_after_order": 1.0}).start()
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        # the ack is awaited for less than the reconnect takes: the placement is unknown, then resolved
        events: list[tuple[str, dict[str, Any]]] = []
        connector = await fix_connector(mock, db=db, ack_timeout=0.3, events=events)
        service = _service(db, connector)
        record = await service.place_order(
            "fix", {"symbol": "MSFT", "side": "buy", "quantity": "2"}, idempotency_key="drop-1"
        )
        mock.faults = FixFaults()
        for _ in range(40):
            if not record.is_unresolved:
                break
            record = await service.resolve(record.id)
        assert record.status in (OrderStatus.NEW, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
        assert _orders_at_venue(mock, record.client_order_id) == 1
        assert _sent(mock, "D", record.client_order_id) == 1
        assert mock.fault_hits["drop_after_order"] == 1
        assert any(e == "fix.session.logout" for e, _ in events) and any(
            e == "fix.session.logon" for e, _ in events
        )
        await service.stop()
    finally:
        await mock.stop()
        db.dispose()


async def test_delayed_ack_is_resolved_by_order_status_request(fix_connector, tmp_path: Path) -> None:
    mock = await FixMockServer(seed=12, faults={"delay_ack": 1.0, "ack_delay": 0.8}).start()
    db = Database(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        connector = await fix_connector(mock, db=db, ack_timeout=0.2)
        with pytest.raises(OutcomeUnknown):
            await connector.place_order(
                OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(1), client_order_id="late-1")
            )
        mock.faults = FixFaults()
        # the status request is read after the order on the same session: the answer is definitive
        found = await connector.get_order_by_client_id("late-1")
        assert found.client_order_id == "late-1"
        assert _sent(mock, "H", "late-1") == 1
        assert _orders_at_venue(mock, "late-1") == 1
    finally:
        await mock.stop()
        db.dispose()


async def test_duplicate_reports_are_applied_once(fix_connector) -> None:
    mock = await FixMockServer(seed=13, faults={"duplicate": 1.0}).start()
    try:
        connector = await fix_connector(mock)
        stream = connector.subscribe_order_updates()
        seen: list[OrderEvent] = []

        async def collect() -> None:
            async for event in stream:
                seen.append(event)

        import asyncio

        task = asyncio.create_task(collect())
        await asyncio.sleep(0)
        await connector.place_order(
            OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(4), client_order_id="dup-1")
        )
        await wait_for_async(lambda: any(e.event == "trade" for e in seen), timeout=5)
        await wait_for_async(lambda: connector.duplicates_ignored >= 2, timeout=5)
        trades = [e for e in seen if e.event == "trade"]
        assert len(trades) == 1, "a PossDupFlag copy of a fill must not count twice"
        assert trades[0].execution is not None and trades[0].execution.quantity == Decimal(4)
        assert [e.event for e in seen] == ["new", "trade"]
        task.cancel()
    finally:
        await mock.stop()


# -- the session across restarts --------------------------------------------------------------------


async def test_restart_on_the_same_store_resumes_the_session(
    fix_mock: FixMockServer, fix_connector, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'shared.db'}")
    first = await fix_connector(fix_mock, db=db)
    for i in range(3):
        await first.place_order(
            OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(1), client_order_id=f"r-{i}")
        )
    await first.close()
    stored = SequenceStore(db, "FIX.4.4:PORTICO->VENUE").load()
    assert stored.next_sender == fix_mock.session().getExpectedTargetNum()
    # the venue may send more (a late fill report) after our logout: the stored incoming number is then
    # behind, never ahead, and the restart asks for a resend of the gap
    assert stored.next_target <= fix_mock.session().getExpectedSenderNum()
    second = await fix_connector(fix_mock, db=db)
    assert fix_mock.logons["PORTICO"] == 2
    assert second.session.numbers()[0] > 5, "the restarted process goes on from the stored numbers"
    found = await second.get_order_by_client_id("r-1")
    assert found.client_order_id == "r-1" and found.symbol == "AAPL"
    db.dispose()


async def test_restart_without_the_stored_numbers_is_refused(fix_mock: FixMockServer, fix_connector) -> None:
    first = await fix_connector(fix_mock)
    for i in range(6):
        await first.place_order(
            OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(1), client_order_id=f"x-{i}")
        )
    await first.close()
    # a fresh store logs on at 1, below what the counterparty expects (8): QuickFIX's acceptor logs it
    # out, and the one retry within the timeout (at 2) is still too low
    second = await fix_connector(fix_mock, open=False, logon_timeout=1.5)
    with pytest.raises(ConnectionFailed, match="MsgSeqNum too low"):
        await second.open()


# -- secrets and events -------------------------------------------------------------------------------


def test_credentials_stay_out_of_settings_and_reprs() -> None:
    config = SessionConfig(
        host="127.0.0.1",
        port=9,
        sender_comp_id="A",
        target_comp_id="B",
        data_dictionary="/x.xml",
        username="u-secret",
        password="p-secret",
    )
    assert "p-secret" not in config.settings_text() and "u-secret" not in config.settings_text()
    assert "p-secret" not in repr(config)


async def test_logon_event_reports_sequence_numbers(fix_mock: FixMockServer, fix_connector) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    await fix_connector(fix_mock, events=events)
    logon = [data for event, data in events if event == "fix.session.logon"]
    assert logon == [{"session": "FIX.4.4:PORTICO->VENUE", "next_sender": 2, "next_target": 2}]


# -- the SDK's conformance suite --------------------------------------------------------------------------


@dataclass
class _RunningFix:
    server: FixMockServer

    @property
    def urls(self) -> dict[str, str]:
        return {"fix": self.server.url}


class TestFixConformance(ConnectorConformance):
    connector_class = FixConnector
    connection: ClassVar[dict[str, Any]] = dict(FAST)
    credentials: ClassVar[dict[str, str]] = {"username": "conformance", "password": "conformance-secret"}

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[_RunningFix]:
        server = await FixMockServer(seed=self.mock_seed).start()
        # RequestForPositions names the account: the venue's (this instance's connection only)
        self.connection = {**FAST, "account": server.venue.default_account_id}  # type: ignore[misc]
        try:
            yield _RunningFix(server)
        finally:
            await server.stop()
