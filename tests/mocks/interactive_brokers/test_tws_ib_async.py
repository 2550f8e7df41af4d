"""Faithfulness: ib_async, unchanged, against the TWS mock.

ib_async is the TWS client the connector uses; if it connects, syncs, trades and streams against the mock
with no patches, the mock speaks the wire protocol it expects at the pinned server version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

ib_async = pytest.importorskip("ib_async")

from portico.mocks.interactive_brokers import DEFAULT_ACCOUNT, IbVenue  # noqa: E402
from portico.mocks.interactive_brokers.tws import SERVER_VERSION, TwsMockServer  # noqa: E402


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds, yielding to the loop between checks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def server() -> AsyncIterator[TwsMockServer]:
    venue = IbVenue(seed=7)
    venue.seed_position(DEFAULT_ACCOUNT, 265598, Decimal(100), Decimal("150.25"))
    server = TwsMockServer(venue, seed=7, tick_interval=0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ib(server: TwsMockServer, caplog: pytest.LogCaptureFixture) -> AsyncIterator[object]:
    client = ib_async.IB()
    caplog.set_level(logging.INFO, logger="ib_async")
    await client.connectAsync("127.0.0.1", server.port, clientId=1, timeout=5, raiseSyncErrors=True)
    yield client
    client.disconnect()


async def test_connect_syncs_without_timeouts(ib: object, caplog: pytest.LogCaptureFixture) -> None:
    assert ib.isConnected()
    assert ib.client.serverVersion() == SERVER_VERSION
    assert ib.managedAccounts() == [DEFAULT_ACCOUNT]
    assert "timed out" not in caplog.text
    assert "Error handling fields" not in caplog.text
    values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
    assert Decimal(values["NetLiquidation"]) > 0
    assert Decimal(values["TotalCashValue"]) == Decimal("1000000.00") - 100 * Decimal("150.25")


async def test_positions_and_portfolio(ib: object) -> None:
    (position,) = ib.positions()
    assert position.account == DEFAULT_ACCOUNT
    assert position.contract.conId == 265598
    assert position.contract.symbol == "AAPL"
    assert position.position == 100
    assert position.avgCost == pytest.approx(150.25)
    (item,) = ib.portfolio()
    assert item.contract.symbol == "AAPL" and item.position == 100 and item.marketPrice > 0


async def test_contract_qualification(ib: object) -> None:
    (contract,) = await ib.qualifyContractsAsync(ib_async.Stock("MSFT", "SMART", "USD"))
    assert contract.conId == 272093
    details = await ib.reqContractDetailsAsync(ib_async.Stock("IBM", "SMART", "USD"))
    assert details[0].longName == "INTL BUSINESS MACHINES CORP"
    assert details[0].minTick == pytest.approx(0.01)
    assert await ib.reqContractDetailsAsync(ib_async.Stock("NOPE", "SMART", "USD")) == []
    matches = await ib.reqMatchingSymbolsAsync("MS")
    assert [(d.contract.symbol, d.contract.conId) for d in matches] == [("MSFT", 272093)]
    assert matches[0].contract.description == "MICROSOFT CORP"


async def test_market_order_fills_with_executions_and_commission(ib: object, server: TwsMockServer) -> None:
    contract = ib_async.Stock("AAPL", "SMART", "USD")
    order = ib_async.MarketOrder("BUY", 10, orderRef="cid-1")
    trade = ib.placeOrder(contract, order)
    await wait_for(
        lambda: (
            trade.orderStatus.status == "Filled"
            and trade.fills
            and trade.fills[0].commissionReport.commission > 0
        )
    )
    assert trade.orderStatus.filled == 10
    assert trade.order.permId > 0
    (fill,) = trade.fills
    assert fill.execution.shares == 10
    assert fill.execution.orderRef == "cid-1"
    assert fill.execution.price == pytest.approx(float(server.venue.venue.price("AAPL")))
    assert fill.commissionReport.commission == pytest.approx(1.0)
    await wait_for(lambda: any(p.position == 110 for p in ib.positions()))
    executions = await ib.reqExecutionsAsync()
    assert [f.execution.execId for f in executions] == [fill.execution.execId]


async def test_limit_order_rests_then_cancels(ib: object) -> None:
    contract = ib_async.Stock("MSFT", "SMART", "USD")
    trade = ib.placeOrder(contract, ib_async.LimitOrder("BUY", 5, 1.00, orderRef="cid-rest"))
    await wait_for(lambda: trade.orderStatus.status == "Submitted")
    open_trades = await ib.reqAllOpenOrdersAsync()
    assert [t.order.orderRef for t in open_trades] == ["cid-rest"]
    ib.cancelOrder(trade.order)
    await wait_for(lambda: trade.orderStatus.status == "Cancelled")
    completed = await ib.reqCompletedOrdersAsync(False)
    assert [(t.order.orderRef, t.orderStatus.status) for t in completed] == [("cid-rest", "Cancelled")]
    assert ib.openTrades() == []


async def test_modify_keeps_order_id(ib: object) -> None:
    contract = ib_async.Stock("IBM", "SMART", "USD")
    order = ib_async.LimitOrder("BUY", 5, 1.00)
    trade = ib.placeOrder(contract, order)
    await wait_for(lambda: trade.orderStatus.status == "Submitted")
    order.totalQuantity = 7
    ib.placeOrder(contract, order)
    await wait_for(lambda: trade.orderStatus.remaining == 7)
    assert trade.order.orderId == order.orderId


async def test_rejected_order_reports_the_venue_error(ib: object) -> None:
    trade = ib.placeOrder(ib_async.Stock("NOPE", "SMART", "USD"), ib_async.MarketOrder("BUY", 1))
    await wait_for(lambda: trade.isDone())
    assert trade.orderStatus.status == "Cancelled"
    assert any(entry.errorCode == 200 for entry in trade.log)


async def test_streaming_ticks(ib: object, server: TwsMockServer) -> None:
    (spy,) = await ib.qualifyContractsAsync(ib_async.Stock("SPY", "SMART", "USD"))
    ticker = ib.reqMktData(spy)
    await wait_for(lambda: ticker.bid > 0 and ticker.ask > 0 and ticker.last > 0)
    seen: list[float] = []
    ticker.updateEvent += lambda t: seen.append(t.last)
    for count in range(1, 4):
        server.venue.step([756733])
        await wait_for(lambda count=count: len(seen) >= count)
    assert ticker.last == pytest.approx(float(server.venue.quotes[756733].last))
    ib.cancelMktData(ticker.contract)


async def test_snapshot_and_historical_bars(ib: object) -> None:
    (aapl,) = await ib.qualifyContractsAsync(ib_async.Stock("AAPL", "SMART", "USD"))
    (ticker,) = await ib.reqTickersAsync(aapl)
    assert ticker.bid > 0 and ticker.close > 0
    bars = await ib.reqHistoricalDataAsync(
        ib_async.Stock("AAPL", "SMART", "USD"),
        endDateTime="",
        durationStr="14 D",
        barSizeSetting="1 day",
        whatToShow="TRADES",
        useRTH=True,
    )
    # 14 calendar days back from Monday 2026-01-05 10:00 New York: 8 sessions (Christmas and New Year's
    # Day are NYSE holidays; today's still forming)
    assert len(bars) == 8
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert [b.date for b in bars] == sorted(b.date for b in bars)
    again = await ib.reqHistoricalDataAsync(
        ib_async.Stock("AAPL", "SMART", "USD"), "", "14 D", "1 day", "TRADES", True
    )
    assert [b.close for b in again] == [b.close for b in bars]


async def test_duplicate_client_id_is_refused(ib: object, server: TwsMockServer) -> None:
    other = ib_async.IB()
    with pytest.raises((ConnectionError, TimeoutError, asyncio.TimeoutError)):
        await other.connectAsync("127.0.0.1", server.port, clientId=1, timeout=2)
    assert not other.isConnected()
