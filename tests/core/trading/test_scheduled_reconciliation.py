"""The scheduled daily reconciliation: config validated with key paths, a persisted ``reconcile`` job that
is listed, run now, recorded with its break count, never run twice at once, alerting through the monitor;
and the breaks (and the other trading data types) exported through the jobs exporter."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.config import load_config
from portico.errors import ConfigurationError
from portico.jobs import JobService
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.trading import BreakKind, ReconciliationSchedule, TradingConfig, TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue
from tests.core.trading.test_reconcile import BOOK_CSV, _broker_positions

D = Decimal

XREF_CSV = """instrument_id,system,symbol,venue_id,isin
US0378331005,fake,,asset-aapl,US0378331005
US5949181045,fake,MSFT,,US5949181045
ID-META,fake,,asset-meta,
ID-BRKB,fake,BRK.B,,
ID-GOOG,fake,GOOG,,
ID-NVDA,fake,NVDA,,
ID-TSLA,fake,TSLA,,
ID-XYZ,fake,XYZ,,
"""

PLANTED = {
    (BreakKind.QUANTITY_MISMATCH.value, "US5949181045"),
    (BreakKind.COST_MISMATCH.value, "ID-GOOG"),
    (BreakKind.MISSING_AT_BROKER.value, "ID-XYZ"),
    (BreakKind.UNEXPECTED_AT_BROKER.value, "ID-TSLA"),
    (BreakKind.UNMAPPED_INSTRUMENT.value, "ZZZ"),
    (BreakKind.CASH_MISMATCH.value, "USD"),
}


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    book = tmp_path / "book.csv"
    book.write_text(BOOK_CSV, encoding="utf-8")
    xref = tmp_path / "instruments.csv"
    xref.write_text(XREF_CSV, encoding="utf-8")
    return {"book": book, "instruments": xref}


# -- configuration -------------------------------------------------------------------------------


def test_reconciliation_settings_are_validated_with_their_key_path(tmp_path: Path) -> None:
    ok = TradingConfig.model_validate({"reconciliation": {"systems": ["fake"], "book": "b.json"}})
    assert ok.reconciliation is not None and ok.reconciliation.schedule == "0 19 * * 1-5"
    for bad, key in (
        ({"schedule": "0 19 * *"}, "trading.reconciliation.schedule"),
        ({"schedule": "0 25 * * 1-5"}, "trading.reconciliation.schedule"),
        ({"book": "book.xlsx"}, "trading.reconciliation.book"),
        ({"timezone": "Mars/Olympus"}, "trading.reconciliation.timezone"),
        ({"systems": "fake"}, "trading.reconciliation.systems"),
        ({"sheduled": "x"}, "trading.reconciliation.sheduled"),
    ):
        with pytest.raises(ConfigurationError) as info:
            load_config({"trading": {"reconciliation": bad}}, plugins=PluginManager(autoload=False))
        assert key in str(info.value), (bad, str(info.value))


def test_unreadable_instrument_file_names_its_key(db, clock, tmp_path: Path) -> None:
    config = {"reconciliation": {"instruments": str(tmp_path / "missing.csv")}}
    with pytest.raises(ConfigurationError, match=r"trading\.reconciliation\.instruments") as info:
        TradingService(db=db, clock=clock, connectors={}, config=config)
    assert info.value.path == "trading.reconciliation.instruments"


def test_instrument_file_becomes_the_services_cross_reference(db, clock, files) -> None:
    config = {"reconciliation": {"instruments": str(files["instruments"])}}
    service = TradingService(db=db, clock=clock, connectors={}, config=config)
    assert service.xref.resolve("fake", venue_id="asset-meta") == "ID-META"
    assert service.xref.resolve("fake", symbol="BRK.B") == "ID-BRKB"
    assert service.xref.resolve("fake", symbol="AAPL") is None  # mapped by venue id and ISIN only


# -- the job service -----------------------------------------------------------------------------


async def test_scheduled_reconciliation_persists_runs_now_and_alerts(
    db, clock, venue: FakeVenue, recorder, files, tmp_path: Path
) -> None:
    venue.reported_positions = _broker_positions()
    venue.cash = D("1000.50")
    settings = ReconciliationSchedule(
        systems=["fake"], book=files["book"], instruments=files["instruments"], export_dir=tmp_path / "reports"
    )
    trading = TradingService(
        db=db,
        clock=clock,
        connectors={"fake": FakeBroker.create(venue)},
        monitor=recorder,
        audit=recorder,
        config={"reconciliation": settings.model_dump()},
    )

    async def reconcile() -> Any:
        return await trading.daily_reconciliation()()

    jobs = JobService(db=db, clock=clock, monitor=recorder, config={})
    job_id = jobs.schedule_reconciliation(settings, reconcile)
    jobs.start()
    try:
        (listed,) = [j for j in jobs.list_jobs() if j["job_id"] == job_id]
        assert listed["kind"] == "reconcile" and listed["config"]["systems"] == ["fake"]
        next_run = datetime.fromisoformat(listed["next_run"])
        assert (next_run.hour, next_run.minute) == (19, 0) and next_run.weekday() < 5
        assert jobs._scheduler.get_job(job_id) is not None  # in the persistent APScheduler store

        record = await jobs.run_now(job_id)
    finally:
        jobs.shutdown()
    assert record["status"] == "completed" and record["manifest"]["breaks"] == 6
    assert record["manifest"]["by_kind"]["cash_mismatch"] == 1
    (run,) = jobs.history(job_id)
    assert run["kind"] == "reconcile" and run["breaks"] == 6 and run["finished_at"]
    # each break raised an alert through the monitor, and the run's completion warns
    alerts = recorder.named("reconciliation.break")
    assert {(a["kind"], a["instrument_id"] or a["reference"]) for a in alerts} == PLANTED
    assert all(a["severity"] == "warning" for a in alerts)
    (done,) = [d for d in recorder.named("jobs.run_completed") if d.get("job_id") == job_id]
    assert done["severity"] == "warning" and done["breaks"] == 6
    # the report file the job wrote, and the stored breaks, say the same
    exported = Path(record["manifest"]["exported_to"])
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert {(r["kind"], r["instrument_id"] or r["reference"]) for r in rows} == PLANTED

    # a restarted process finds the job persisted; without the runtime's runner it fails clearly
    restarted = JobService(db=db, clock=clock, monitor=recorder, config={})
    restarted.start()
    try:
        assert restarted._scheduler.get_job(job_id) is not None
        assert [j["kind"] for j in restarted.list_jobs() if j["job_id"] == job_id] == ["reconcile"]
        orphan = await restarted.run_now(job_id)
        assert orphan["status"] == "failed" and "no runner" in orphan["error"]
        restarted.schedule_reconciliation(settings, reconcile)
        again = await restarted.run_now(job_id)
    finally:
        restarted.shutdown()
    assert again["status"] == "completed" and again["manifest"]["breaks"] == 6
    assert [h["status"] for h in restarted.history(job_id)] == ["completed", "failed", "completed"]


async def test_a_reconciliation_never_runs_twice_at_once(db, clock, recorder) -> None:
    release = asyncio.Event()
    started: list[int] = []

    async def slow() -> dict[str, Any]:
        started.append(1)
        await release.wait()
        return {"breaks": 0}

    jobs = JobService(db=db, clock=clock, monitor=recorder, config={})
    job_id = jobs.schedule_reconciliation(ReconciliationSchedule(id="recon-slow"), slow)
    first = asyncio.create_task(jobs.run_now(job_id))
    await _until(lambda: bool(started))
    second = await jobs.run_now(job_id)
    assert second["status"] == "skipped" and "already running" in second["error"]
    release.set()
    done = await first
    assert done["status"] == "completed" and done["manifest"] == {"breaks": 0}
    assert len(started) == 1
    assert sorted(h["status"] for h in jobs.history(job_id)) == ["completed", "skipped"]


# -- through the runtime -------------------------------------------------------------------------


def _alpaca(seed: int) -> dict[str, Any]:
    return {
        "type": "brokerage",
        "connector": "alpaca",
        "mock": True,
        "mock_seed": seed,
        "authentication": {
            "type": "api_key_pair",
            "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
        },
    }


async def test_runtime_schedules_reconciliation_and_exports_the_trading_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # file:// exports are confined to the working directory by default
    xref = tmp_path / "instruments.csv"
    xref.write_text("instrument_id,system,symbol\nID-AAPL,alpaca_a,AAPL\nID-X,alpaca_a,XX\n", encoding="utf-8")
    book = tmp_path / "book.json"
    config = {
        "systems": {"alpaca_a": _alpaca(1)},
        "trading": {
            "reconciliation": {
                "id": "eod",
                "schedule": "30 18 * * 1-5",
                "timezone": "America/New_York",
                "systems": ["alpaca_a"],
                "book": str(book),
                "instruments": str(xref),
            }
        },
    }
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        trading = integration.trading
        assert trading.xref.resolve("alpaca_a", symbol="AAPL") == "ID-AAPL"  # loaded by the runtime
        account = (await integration.get_external_account("alpaca_a")).account_id
        cid = await integration.place_external_order(
            "alpaca_a", {"symbol": "AAPL", "side": "buy", "quantity": "3"}, idempotency_key="eod-1"
        )
        await _until(lambda: trading.get_order(cid, system_id="alpaca_a").status.value == "filled")
        await trading.sync_executions("alpaca_a")
        # the book is written after the fact (as an app's end-of-day file would be): two planted breaks
        book.write_text(
            json.dumps(
                {
                    "positions": [
                        {"system": "alpaca_a", "account_id": account, "instrument_id": "ID-AAPL", "quantity": "2"},
                        {"system": "alpaca_a", "account_id": account, "instrument_id": "ID-X", "quantity": "5"},
                    ]
                }
            ),
            encoding="utf-8",
        )
        await integration.start(schedule=True)
        (job,) = [j for j in await integration.list_jobs() if j["job_id"] == "eod"]
        assert job["kind"] == "reconcile" and job["next_run"] is not None
        assert datetime.fromisoformat(job["next_run"]).utcoffset() is not None

        record = await integration.run_job_now("eod")
        assert record["status"] == "completed" and record["manifest"]["breaks"] == 2
        assert record["manifest"]["by_kind"] == {"missing_at_broker": 1, "quantity_mismatch": 1}
        (run,) = await integration.job_history("eod")
        assert run["breaks"] == 2
        alerts = [e for e in integration.monitor.recent_events(200) if e["event"] == "reconciliation.break"]
        assert sorted(a["kind"] for a in alerts) == ["missing_at_broker", "quantity_mismatch"]
        run_id = record["manifest"]["run_id"]

        # the stored breaks round-trip through the exporter
        target = tmp_path / "breaks.csv"
        result = await integration.export_data("reconciliation_breaks", f"file://{target}", {"format": "csv"})
        assert result.rows == 2
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        assert {r["run_id"] for r in rows} == {run_id}
        by_iid = {r["instrument_id"]: r for r in rows}
        assert (by_iid["ID-AAPL"]["kind"], by_iid["ID-AAPL"]["internal"], by_iid["ID-AAPL"]["broker"]) == (
            "quantity_mismatch",
            "2",
            "3",
        )
        assert by_iid["ID-AAPL"]["difference"] == "1" and by_iid["ID-X"]["difference"] == "-5"
        assert datetime.fromisoformat(rows[0]["as_of"]).utcoffset() is not None
        stored = trading.reconciler().stored_breaks(run_id)
        assert sorted((r["kind"], r["instrument_id"]) for r in stored) == sorted(
            (r["kind"], r["instrument_id"]) for r in rows
        )
        as_json = tmp_path / "breaks.json"
        await integration.export_data(
            "reconciliation_breaks", f"file://{as_json}", {"format": "json", "filters": {"kind": "missing_at_broker"}}
        )
        (only,) = json.loads(as_json.read_text())
        assert only["instrument_id"] == "ID-X" and only["account_id"] == account

        # the other trading data types come from the trading tables too
        order_csv = tmp_path / "orders.csv"
        assert (await integration.export_data("orders", f"file://{order_csv}", {"format": "csv"})).rows == 1
        (order,) = csv.DictReader(io.StringIO(order_csv.read_text()))
        assert (order["client_order_id"], order["status"], order["filled_quantity"]) == (cid, "filled", "3")
        assert "request_json" not in order
        fills = tmp_path / "executions.json"
        assert (await integration.export_data("executions", f"file://{fills}", {"format": "json"})).rows == 1
        (fill,) = json.loads(fills.read_text(), parse_float=D)  # JSON numbers keep their exact digits
        assert fill["client_order_id"] == cid and D(str(fill["quantity"])) == 3
        confirms = tmp_path / "confirmations.csv"
        assert (await integration.export_data("trade_confirmations", f"file://{confirms}", {"format": "csv"})).rows == 1
        (confirm,) = csv.DictReader(io.StringIO(confirms.read_text()))
        assert D(confirm["gross_amount"]) == D(fill["price"]) * 3 and confirm["order_id"] == order["id"]
        positions = tmp_path / "book.csv"
        assert (await integration.export_data("book_positions", f"file://{positions}", {"format": "csv"})).rows == 1
        (held,) = csv.DictReader(io.StringIO(positions.read_text()))
        assert (held["instrument_id"], held["quantity"]) == ("ID-AAPL", "3")
