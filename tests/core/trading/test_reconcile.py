"""Reconciliation finds every planted break, and nothing else."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portico.clock import FakeClock
from portico.errors import PayloadRejected
from portico.hookspecs import hookimpl
from portico.models import Execution, Instrument, OrderRequest, Position
from portico.plugins import PluginManager
from portico.testing import wait_for_async
from portico.trading import (
    BookPosition,
    BreakKind,
    DailyReconciliationJob,
    FileBook,
    InstrumentXref,
    TradingService,
    XrefEntry,
)
from tests.core.trading.fakes import FakeBroker, FakeVenue

D = Decimal


def _xref() -> InstrumentXref:
    xref = InstrumentXref()
    xref.add_instrument(Instrument(symbol="AAPL", isin="US0378331005", venue_ids={"fake": "asset-aapl"}))
    xref.add_instrument(Instrument(symbol="MSFT", isin="US5949181045"), systems=["fake"])
    xref.add_entry(XrefEntry("ID-META", system="fake", venue_id="asset-meta"))
    xref.add_entry(XrefEntry("ID-BRKB", system="fake", symbol="BRK.B"))
    xref.add_entry(XrefEntry("ID-GOOG", system="fake", symbol="GOOG"))
    xref.add_entry(XrefEntry("ID-NVDA", system="fake", symbol="NVDA"))
    xref.add_entry(XrefEntry("ID-TSLA", system="fake", symbol="TSLA"))
    xref.add_entry(XrefEntry("ID-XYZ", system="fake", symbol="XYZ"))
    return xref


BOOK_CSV = """system,account_id,instrument_id,quantity,average_cost,currency,symbol,kind,amount
fake,ACC-1,US0378331005,100,100,USD,AAPL,,
fake,ACC-1,US5949181045,40,200,USD,MSFT,,
fake,ACC-1,ID-XYZ,10,10,USD,XYZ,,
fake,ACC-1,ID-META,7,300,USD,FB,,
fake,ACC-1,ID-BRKB,3,400,USD,BRK B,,
fake,ACC-1,ID-GOOG,20,150,USD,GOOG,,
fake,ACC-1,ID-NVDA,30,100.004,USD,NVDA,,
fake,ACC-1,ID-CLOSED,0,,USD,OLD,,
other,ACC-9,ID-TSLA,99,1,USD,TSLA,,
fake,ACC-1,,,,USD,,cash,1000.00
"""


def _broker_positions() -> list[Position]:
    def pos(symbol: str, qty: str, cost: str, **kw: str) -> Position:
        return Position(account_id="ACC-1", symbol=symbol, quantity=D(qty), average_cost=D(cost), **kw)

    return [
        # matched through the venue's asset id, whatever the ticker says
        pos("AAPL", "100", "100", venue_instrument_id="asset-aapl"),
        pos("META", "7", "300", venue_instrument_id="asset-meta"),
        # matched through the per-system alias
        pos("BRK.B", "3", "400"),
        pos("MSFT", "50", "200"),  # quantity break
        pos("GOOG", "20", "151"),  # cost break
        pos("NVDA", "30", "100.00"),  # cost difference within tolerance: no break
        pos("TSLA", "5", "250"),  # unexpected at broker
        pos("ZZZ", "1", "1"),  # unmapped
    ]


@pytest.fixture
def book_file(tmp_path: Path) -> Path:
    path = tmp_path / "book.csv"
    path.write_text(BOOK_CSV, encoding="utf-8")
    return path


async def test_positions_and_cash_breaks_are_exactly_the_planted_ones(
    make_service, venue: FakeVenue, book_file: Path, recorder
) -> None:
    venue.reported_positions = _broker_positions()
    venue.cash = D("1000.50")
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, xref=_xref())
    report = await service.reconcile(["fake"], book=FileBook(book_file))
    found = {(b.kind, b.instrument_id or b.reference, b.field): (b.internal, b.broker) for b in report.breaks}
    assert found == {
        (BreakKind.QUANTITY_MISMATCH, "US5949181045", "quantity"): (D(40), D(50)),
        (BreakKind.COST_MISMATCH, "ID-GOOG", "average_cost"): (D(150), D(151)),
        (BreakKind.MISSING_AT_BROKER, "ID-XYZ", "quantity"): (D(10), None),
        (BreakKind.UNEXPECTED_AT_BROKER, "ID-TSLA", "quantity"): (None, D(5)),
        (BreakKind.UNMAPPED_INSTRUMENT, "ZZZ", "quantity"): (None, D(1)),
        (BreakKind.CASH_MISMATCH, "USD", "cash"): (D("1000.00"), D("1000.50")),
    }
    assert report.compared["cash"] == 1
    # every break raised an alert, and the run was summarised
    alerts = recorder.named("reconciliation.break")
    assert len(alerts) == 6 and all(a["severity"] == "warning" for a in alerts)
    assert recorder.named("reconciliation.completed")[0]["breaks"] == 6


async def test_trade_breaks_are_exactly_the_planted_ones(make_service, venue: FakeVenue, clock) -> None:
    service: TradingService = make_service(
        {"fake": FakeBroker.create(venue)}, xref=_xref(), config={"book": None}
    )
    now = clock.now()

    def ex(exec_id: str, qty: str, price: str, symbol: str = "AAPL", side: str = "buy", at=now) -> Execution:
        return Execution(
            execution_id=exec_id,
            order_id="V1",
            account_id="ACC-1",
            symbol=symbol,
            side=side,
            quantity=D(qty),
            price=D(price),
            executed_at=at,
        )

    for e in (
        ex("E1", "10", "100"),
        ex("E2", "5", "100"),
        ex("E4", "3", "10"),
        ex("E5", "1", "1", side="sell"),
        ex("OLD", "1", "1", at=now - timedelta(days=3)),
    ):
        await service.record_execution("fake", e)
    venue.executions = [
        ex("E1", "10", "100.00"),
        ex("E3", "2", "200", symbol="MSFT"),
        ex("E4", "3", "10.5"),
        ex("E5", "1", "1", side="buy"),
        ex("OLDER", "1", "1", at=now - timedelta(days=3)),
    ]
    breaks, compared = await service.reconciler().reconcile_trades(
        "fake", since=now - timedelta(days=1), until=now + timedelta(seconds=1)
    )
    found = {(b.kind, b.reference, b.field): (b.internal, b.broker) for b in breaks}
    assert found == {
        (BreakKind.TRADE_MISSING_AT_BROKER, "E2", "quantity"): (D(5), None),
        (BreakKind.TRADE_UNEXPECTED_AT_BROKER, "E3", "quantity"): (None, D(2)),
        (BreakKind.TRADE_MISMATCH, "E4", "price"): (D(10), D("10.5")),
        (BreakKind.TRADE_MISMATCH, "E5", "side"): ("sell", "buy"),
    }
    assert compared == 5


async def test_book_kept_from_executions_reconciles_clean_after_trading(
    make_service, venue: FakeVenue
) -> None:
    xref = InstrumentXref(
        [
            XrefEntry("ID-AAPL", system="fake", symbol="AAPL"),
            XrefEntry("ID-MSFT", system="fake", symbol="MSFT"),
        ]
    )
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, xref=xref)
    service.repo.set_book_cash(
        book="internal",
        system="fake",
        account_id="ACC-1",
        currency="USD",
        amount=venue.cash,
        now=venue.clock.now(),
    )
    for i, (symbol, side, qty) in enumerate([("AAPL", "buy", 10), ("MSFT", "buy", 4), ("AAPL", "sell", 3)]):
        await service.place_order(
            "fake", {"symbol": symbol, "side": side, "quantity": qty}, idempotency_key=f"k{i}"
        )
    # the stream is not running: executions are synced from the venue (and a second sync adds nothing)
    assert await service.sync_executions("fake") == 3
    assert await service.sync_executions("fake") == 0
    report = await service.reconcile(["fake"])
    assert report.breaks == []
    assert report.compared == {"positions": 2, "trades": 3, "cash": 1}
    # a fill the book never heard of shows up as every break it causes, and nothing else
    state = venue.orders[venue.by_cid[service.get_order("k0", system_id="fake").client_order_id]]
    assert state is not None
    venue.submit(type(state["request"])(symbol="MSFT", side="buy", quantity=D(1), client_order_id="outside"))
    report = await service.reconcile(["fake"])
    kinds = sorted(b.kind.value for b in report.breaks)
    assert kinds == ["cash_mismatch", "quantity_mismatch", "trade_unexpected_at_broker"]


async def test_position_book_hook_and_daily_job_export(
    make_service, venue: FakeVenue, tmp_path: Path
) -> None:
    class AppBook:
        def positions(self, system: str, account_id: str | None = None) -> list[BookPosition]:
            return [BookPosition("ACC-1", "ID-AAPL", D(5), D(100))]

        def cash(self, system: str, account_id: str | None = None) -> list:
            return []

    class Plugin:
        @hookimpl
        def portico_position_book(self) -> AppBook:
            return AppBook()

    plugins = PluginManager(autoload=False)
    plugins.register(Plugin(), name="appbook")
    venue.reported_positions = []
    xref = InstrumentXref([XrefEntry("ID-AAPL", system="fake", symbol="AAPL")])
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, xref=xref, plugins=plugins)
    job = DailyReconciliationJob(service.reconciler(), export_dir=tmp_path / "reports", format="csv")
    report = await job()
    assert [(b.kind, b.instrument_id) for b in report.breaks] == [(BreakKind.MISSING_AT_BROKER, "ID-AAPL")]
    assert job.last_export is not None
    rows = list(csv.DictReader(io.StringIO(job.last_export.read_text())))
    assert (
        rows[0]["kind"] == "missing_at_broker"
        and rows[0]["internal"] == "5"
        and rows[0]["difference"] == "-5"
    )
    data = json.loads(report.to_json())
    assert data["breaks"][0]["instrument_id"] == "ID-AAPL"


def test_file_book_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("system,account_id,instrument_id,quantity\nfake,ACC-1,ID-1,abc\n", encoding="utf-8")
    with pytest.raises(PayloadRejected) as info:
        FileBook(path)
    assert "book.csv line 2" in str(info.value) and info.value.field == "quantity"


async def test_stored_breaks_export_through_the_jobs_exporter(
    make_service, venue: FakeVenue, book_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # file:// exports are confined to the working directory by default
    from portico.jobs import DataExporter, FormatRegistry
    from portico.jobs import plugin as jobs_plugin

    venue.reported_positions = _broker_positions()
    venue.cash = D("1000.50")
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, xref=_xref())
    report = await service.reconcile(["fake"], book=FileBook(book_file))
    exporter = DataExporter(
        db=service.db,
        clock=service.clock,
        formats=FormatRegistry(jobs_plugin.portico_formats()),
        sources={"reconciliation_breaks": service.reconciler().stored_breaks},
    )
    target = tmp_path / "breaks.csv"
    result = exporter.export("reconciliation_breaks", f"file://{target}")
    assert result.rows == len(report.breaks) == 6
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    quantity = next(r for r in rows if r["kind"] == "quantity_mismatch")
    assert (quantity["instrument_id"], quantity["internal"], quantity["broker"], quantity["difference"]) == (
        "US5949181045",
        "40",
        "50",
        "10",
    )
    assert {r["run_id"] for r in rows} == {report.run_id}


async def test_one_fill_under_two_ids_is_one_execution_and_no_break(
    make_service, venue: FakeVenue, clock
) -> None:
    """A stream's execution id and the REST activity id of the same fill: recorded once (the book
    moves once), and paired by reconciliation rather than reported missing and unexpected."""
    service: TradingService = make_service({"fake": FakeBroker.create(venue)})
    now = clock.now()
    stream = Execution(
        execution_id="S-1",
        order_id="V9",
        account_id="ACC-1",
        symbol="AAPL",
        side="buy",
        quantity=D(4),
        price=D("100.5"),
        executed_at=now,
    )
    activity = stream.model_copy(
        update={"execution_id": "20260105::ACT-1", "executed_at": now + timedelta(seconds=1)}
    )
    other_fill = stream.model_copy(update={"execution_id": "S-2", "executed_at": now + timedelta(minutes=5)})
    assert await service.record_execution("fake", stream) is True
    assert await service.record_execution("fake", activity) is False
    assert await service.record_execution("fake", other_fill) is True  # a genuine second fill later on
    (position,) = service.reconciler().book.positions("fake")
    assert position.quantity == D(8)
    venue.executions = [activity, other_fill.model_copy(update={"execution_id": "ACT-2"})]
    breaks, compared = await service.reconciler().reconcile_trades("fake")
    assert breaks == [] and compared == 2


async def test_fills_known_only_from_order_status_are_recorded_before_reconciling(
    make_service, venue: FakeVenue
) -> None:
    # a venue whose answers and stream say "filled" but carry no fill details (IB's order stream)
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, xref=_xref())
    for i, (symbol, qty) in enumerate([("AAPL", 10), ("MSFT", 4)]):
        record = await service.place_order(
            "fake", {"symbol": symbol, "side": "buy", "quantity": qty}, idempotency_key=f"s{i}"
        )
        assert record.filled_quantity == D(qty)
    assert service.repo.executions(system="fake") == []
    # a trade made outside portico stays the broker's alone
    venue.submit(OrderRequest(symbol="AAPL", side="buy", quantity=D(1), client_order_id="outside"))

    report = await service.reconcile(["fake"])

    recorded = sorted((e.symbol, e.quantity) for e in service.repo.executions(system="fake"))
    assert recorded == [("AAPL", D(10)), ("MSFT", D(4))]
    found = sorted((b.kind.value, b.field) for b in report.breaks)
    assert found == [("quantity_mismatch", "quantity"), ("trade_unexpected_at_broker", "quantity")]
    assert await service.record_missing_fills("fake") == 0


async def test_the_resolver_loop_records_fills_known_only_from_order_status(db) -> None:
    # time moves only when the test says: the loop's round runs after one resolve interval
    clock = FakeClock(auto_advance=False)
    venue = FakeVenue(clock=clock)
    service = TradingService(db=db, clock=clock, connectors={"fake": FakeBroker.create(venue)})
    # placed before the order stream is followed: the submit answers say filled, with no fill details
    for i, (symbol, qty) in enumerate([("AAPL", 10), ("MSFT", 4)]):
        await service.place_order("fake", {"symbol": symbol, "side": "buy", "quantity": qty}, idempotency_key=f"b{i}")
    assert service.repo.executions(system="fake") == []
    await service.start(recover=False)
    try:
        # the resolver loop is waiting out its interval: let the interval pass
        await wait_for_async(lambda: service.config.resolve_interval in clock.sleeps, timeout=10)
        clock.advance(service.config.resolve_interval)
        await wait_for_async(lambda: len(service.repo.executions(system="fake")) == 2, timeout=10)
    finally:
        await service.stop()
    assert sorted((e.symbol, e.quantity) for e in service.repo.executions(system="fake")) == [
        ("AAPL", D(10)),
        ("MSFT", D(4)),
    ]


async def test_background_fill_lookups_stop_after_three_per_filled_quantity(make_service, venue: FakeVenue) -> None:
    broker = FakeBroker.create(venue)
    service: TradingService = make_service({"fake": broker})
    record = await service.place_order("fake", {"symbol": "AAPL", "side": "buy", "quantity": 10}, idempotency_key="q")
    venue.executions.clear()  # the venue does not report this fill (yet)

    def lookups() -> int:
        return broker.calls.count("get_executions")

    for _ in range(5):
        await service._catch_up_fills()
    assert lookups() == 3
    # the venue reports it at last; reconciliation asks whatever the background did
    venue.executions.append(
        Execution(
            execution_id="late",
            order_id=record.venue_order_id or "",
            symbol="AAPL",
            side="buy",
            quantity=D(10),
            price=D(100),
            executed_at=venue.clock.now(),
        )
    )
    assert await service.record_missing_fills("fake") == 1
    await service._catch_up_fills()
    assert lookups() == 4 and service._fill_lookups == {}


async def test_a_fill_reported_without_client_order_id_is_stored_with_its_orders(
    make_service, venue: FakeVenue
) -> None:
    service: TradingService = make_service({"fake": FakeBroker.create(venue)})
    record = await service.place_order("fake", {"symbol": "AAPL", "side": "buy", "quantity": 2}, idempotency_key="c")
    # Alpaca's REST fill activities name the order id but not the client order id
    (fill,) = [e.model_copy(update={"client_order_id": None}) for e in venue.executions]

    assert await service.record_execution("fake", fill) is True

    (stored,) = service.repo.executions(system="fake")
    assert stored.client_order_id == record.client_order_id and record.client_order_id.startswith("pt-")
    (confirmation,) = service.confirmations(system_id="fake")
    assert confirmation.order_id == record.id
