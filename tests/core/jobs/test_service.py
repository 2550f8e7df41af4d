"""JobService: the plan's config as written, connector imports, schedules that survive a restart, history, leases."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portico.clock import FakeClock
from portico.errors import ConfigurationError
from portico.jobs import JobService
from portico.jobs._scheduler import JobLock, cron_trigger
from portico.models import Bar, BarInterval
from portico.store import Database
from tests.core.jobs.conftest import GOOD, HEADER, stored, write

PLAN = {
    "data_import": {
        "scheduled_imports": [
            {
                "source": "alpha_vantage",
                "data_type": "daily_prices",
                "symbols": ["AAPL", "MSFT", "GOOGL"],
                "schedule": "0 18 * * 1-5",
                "destination": "market_data_service",
            }
        ],
        "formats": {"csv": {"delimiter": ",", "quotechar": '"', "encoding": "utf-8"}, "json": {"indent": None, "encoding": "utf-8"}},
    },
    "data_export": {
        "scheduled_exports": [
            {"data_type": "portfolio_summary", "format": "json", "schedule": "0 20 * * *", "destination": "file://reports/portfolio_summary.json"}
        ]
    },
}


class FakeBarsConnector:
    """Implements get_bars like a market data connector (one daily bar per call, prices by symbol)."""

    def __init__(self, closes: dict[str, str]) -> None:
        self.closes = closes
        self.calls: list[tuple[str, BarInterval]] = []

    async def get_bars(self, symbol, interval=BarInterval.DAY, *, start=None, end=None, limit=None, adjusted=False):
        self.calls.append((symbol, interval))
        close = Decimal(self.closes[symbol])
        ts = datetime(2026, 1, 5, tzinfo=UTC)
        return [Bar(symbol=symbol, timestamp=ts, open=close, high=close, low=close, close=close, volume=Decimal(1000))]


    async def search_instruments(self, query, *, limit=20):
        from portico.models import Instrument

        listed = {"AAPL": "USD", "MSFT": "USD", "GOOGL": "USD"}
        return [Instrument(symbol=query, currency=listed[query])] if query in listed else []


class FakeMarketData:
    def __init__(self) -> None:
        self.bars: list[Bar] = []

    async def ingest_bars(self, bars):
        self.bars.extend(bars)


def test_plan_config_validates_verbatim(db, clock) -> None:
    svc = JobService(db=db, clock=clock, config=PLAN)
    assert svc.import_config.scheduled_imports[0].schedule == "0 18 * * 1-5"
    assert svc.import_config.formats["csv"]["quotechar"] == '"'
    assert svc.export_config.scheduled_exports[0].destination == "file://reports/portfolio_summary.json"
    with pytest.raises(ConfigurationError, match=r"data_import.scheduled_imports.0.schedule"):
        JobService(db=db, clock=clock, config={"data_import": {"scheduled_imports": [{"source": "x", "data_type": "prices", "schedule": "61 * * * *"}]}})


def test_cron_day_of_week_follows_crontab_not_apscheduler_numbering() -> None:
    saturday = datetime(2026, 1, 3, 12, tzinfo=UTC)
    assert cron_trigger("0 18 * * 1-5", "UTC").get_next_fire_time(None, saturday) == datetime(2026, 1, 5, 18, tzinfo=UTC)
    assert cron_trigger("0 9 * * 0", "UTC").get_next_fire_time(None, saturday) == datetime(2026, 1, 4, 9, tzinfo=UTC)
    assert cron_trigger("0 9 * * 7", "UTC").get_next_fire_time(None, saturday) == datetime(2026, 1, 4, 9, tzinfo=UTC)
    assert cron_trigger("0 20 * * *", "UTC").get_next_fire_time(None, saturday) == datetime(2026, 1, 3, 20, tzinfo=UTC)


async def test_plan_daily_prices_import_runs_as_configured_into_market_data(db, clock, monitor) -> None:
    connector = FakeBarsConnector({"AAPL": "190.5", "MSFT": "400.25", "GOOGL": "150"})
    market = FakeMarketData()
    svc = JobService(db=db, clock=clock, monitor=monitor, connectors={"alpha_vantage": connector}, market_data=market, config=PLAN)
    svc.start()
    try:
        job = next(j for j in svc.list_jobs() if j["kind"] == "import")
        assert job["next_run"] is not None and job["config"]["symbols"] == ["AAPL", "MSFT", "GOOGL"]
        first = await svc.run_now(job["job_id"])
        assert first["status"] == "loaded" and first["loaded"] == 3
        assert [c[0] for c in connector.calls] == ["AAPL", "MSFT", "GOOGL"]
        assert sorted((r["symbol"], r["close"], r["currency"]) for r in stored(db, "portico_import_prices")) == [("AAPL", "190.5", "USD"), ("GOOGL", "150", "USD"), ("MSFT", "400.25", "USD")]
        assert sorted(b.symbol for b in market.bars) == ["AAPL", "GOOGL", "MSFT"]
        again = await svc.run_now(job["job_id"])  # same day, same data: nothing changes
        assert again["status"] == "duplicate" and len(stored(db, "portico_import_prices")) == 3
        connector.closes["MSFT"] = "401"  # the vendor corrected a close: the day's load is replaced
        corrected = await svc.run_now(job["job_id"])
        assert corrected["status"] == "loaded"
        assert ("MSFT", "401") in {(r["symbol"], r["close"]) for r in stored(db, "portico_import_prices")}
        assert len(stored(db, "portico_import_prices")) == 3
        history = svc.history(job["job_id"])
        assert [h["status"] for h in history] and {h["status"] for h in history} == {"loaded", "duplicate"}
        assert history[0]["manifest"]["data_type"] == "prices" and history[0]["finished_at"]
    finally:
        svc.shutdown()


def test_currency_comes_from_the_vendor_listing_never_a_default(db, clock) -> None:
    import asyncio

    svc = JobService(db=db, clock=clock, connectors={"av": FakeBarsConnector({"AAPL": "1", "ZZZZ": "2"})})
    result = asyncio.run(svc.import_data("av", "daily_prices", {"symbols": ["AAPL", "ZZZZ"]}))
    assert result.loaded == 1 and result.rejected == 1
    assert result.rejects[0]["field"] == "currency"  # the vendor does not list ZZZZ: no currency, not loaded
    assert [r["currency"] for r in stored(db, "portico_import_prices")] == ["USD"]
    explicit = asyncio.run(svc.import_data("av", "daily_prices", {"symbols": ["ZZZZ"], "currency": "EUR"}))
    assert explicit.status == "loaded"


def test_schedules_survive_a_restart(portico_home: Path) -> None:
    clock = FakeClock()
    db1 = Database()
    svc = JobService(db=db1, clock=clock)
    svc.start()
    import asyncio

    job_id = asyncio.run(svc.schedule_export({"id": "nightly-positions", "data_type": "positions", "format": "csv", "schedule": "30 22 * * 1-5", "destination": "file:///tmp/x.csv", "misfire_grace_time": 120, "coalesce": False}))
    interval_id = asyncio.run(svc.schedule_import({"id": "poll", "source": "/nonexistent/*.psv", "data_type": "positions", "interval_seconds": 900}))
    svc.shutdown()
    db1.dispose()

    db2 = Database()
    restarted = JobService(db=db2, clock=clock)
    restarted.start()
    try:
        jobs = {j["job_id"]: j for j in restarted.list_jobs()}
        assert {job_id, interval_id} <= set(jobs)
        aps = restarted._scheduler.get_job(job_id)
        assert aps is not None and aps.misfire_grace_time == 120 and aps.coalesce is False and aps.max_instances == 1
        assert aps.next_run_time.hour == 22 and aps.next_run_time.weekday() < 5
        assert restarted._scheduler.get_job(interval_id).trigger.interval == timedelta(seconds=900)
    finally:
        restarted.shutdown()
        db2.dispose()


def test_a_job_never_runs_twice_at_once(db, clock, tmp_path: Path) -> None:
    import asyncio

    svc = JobService(db=db, clock=clock)
    job_id = asyncio.run(svc.schedule_import({"id": "p", "source": str(tmp_path / "p.psv"), "data_type": "positions", "interval_seconds": 60}))
    write(tmp_path / "p.psv", HEADER, *GOOD)
    held = JobLock(db, job_id, now=clock.now())
    assert held.acquire()
    skipped = asyncio.run(svc.run_now(job_id))
    assert skipped["status"] == "skipped" and "already running" in skipped["error"]
    held.release()
    ran = asyncio.run(svc.run_now(job_id))
    assert ran["status"] == "loaded"


def test_a_dead_owners_lease_is_taken_over(db, clock) -> None:
    import sqlalchemy as sa

    from portico.jobs._tables import ensure_job_tables, job_tables

    ensure_job_tables(db)
    with db.begin() as conn:
        conn.execute(job_tables()["locks"].insert().values(job_id="j", owner=f"{os.uname().nodename}:999999", run_id="r", expires_at=clock.now() + timedelta(hours=1)))
    lock = JobLock(db, "j", now=clock.now())
    assert lock.acquire()
    with db.begin() as conn:
        assert conn.execute(sa.select(job_tables()["locks"].c.owner)).scalar_one() == lock.owner


def test_concurrent_run_now_calls_one_wins(db, clock, tmp_path: Path) -> None:
    import asyncio

    svc = JobService(db=db, clock=clock)
    write(tmp_path / "p.psv", HEADER, *GOOD)
    job_id = asyncio.run(svc.schedule_import({"id": "p", "source": str(tmp_path / "p.psv"), "data_type": "positions", "interval_seconds": 60}))
    results: list[dict] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        results.append(svc._run_job(job_id))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r["status"] for r in results)
    assert statuses in (["loaded", "skipped"], ["duplicate", "loaded"])
    assert len(stored(db)) == 3


async def test_import_data_from_file_and_export_data(service, db, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # exports are confined to the working directory by default
    result = await service.import_data(str(write(tmp_path / "p.psv", HEADER, *GOOD)), "positions", {})
    assert result.status == "loaded"
    run = service.history("adhoc:positions")[0]
    assert run["run_id"] == result.run_id and run["loaded"] == 3 and run["manifest"]["stages"][0]["name"] == "arrival"
    out = await service.export_data("positions", f"file://{tmp_path / 'out.json'}", {"columns": {"account": "Account", "quantity": "Qty"}})
    assert out.rows == 3 and (tmp_path / "out.json").read_text().startswith('[{"Account": "A1", "Qty": 100}')
    with pytest.raises(ConfigurationError, match="unknown import parameters"):
        await service.import_data(str(tmp_path / "p.psv"), "positions", {"colour": "blue"})


@pytest.mark.postgres
def test_job_store_and_leases_on_postgresql(clock) -> None:
    url = os.environ.get("PORTICO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PORTICO_TEST_POSTGRES_URL is not set")
    import asyncio
    import uuid

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    db = Database(url)
    job = f"pg-{uuid.uuid4().hex[:8]}"
    svc = JobService(db=db, clock=clock)
    svc.start()
    try:
        asyncio.run(svc.schedule_export({"id": job, "data_type": "positions", "format": "csv", "schedule": "0 20 * * *", "destination": "file:///tmp/pg.csv"}))
    finally:
        svc.shutdown()
    again = JobService(db=db, clock=clock)
    again.start()
    try:
        assert again._scheduler.get_job(job) is not None
        first, second = JobLock(db, job, now=clock.now()), JobLock(db, job, now=clock.now())
        assert first.acquire() and not second.acquire()
        first.release()
        again._scheduler.remove_job(job)
        # the store sink, control totals (exact NUMERIC sums) and a corrected redelivery on PostgreSQL
        from tests.core.jobs.conftest import GOOD, HEADER, write

        home = Path(os.environ["PORTICO_HOME"])
        path = write(home / f"{job}.psv", HEADER, *GOOD)
        loaded = again.importer.import_file(path, "positions")
        assert loaded.status == "loaded" and loaded.control_totals["loaded"]["sums"] == {"quantity": "345.25"}
        write(path, HEADER, GOOD[0])
        corrected = again.importer.import_file(path, "positions")
        assert corrected.supersedes == loaded.load_id and corrected.control_totals["loaded"]["records"] == 1
    finally:
        again.shutdown()
        db.dispose()


async def test_plan_import_through_the_runtime_with_the_alpha_vantage_connector_on_its_mock() -> None:
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration

    config = {
        "systems": {
            "alpha_vantage": {
                "type": "market_data",
                "mock": True,
                # the plan's three symbols need six calls the first time (bars + listing currency): more
                # than a free key's five per minute, so the key is a premium one (mock tier and throttle)
                "mock_options": {"key_tiers": {"demo": "premium_75"}},
                "throttling": {"max_requests_per_minute": 75},
                "authentication": {"type": "api_key", "credentials": {"api_key": "demo"}},
            }
        },
        "data_import": PLAN["data_import"],
    }
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        jobs = integration.jobs
        job_id = await jobs.schedule_import(jobs.import_config.scheduled_imports[0])
        record = await jobs.run_now(job_id)
        assert (record["status"], record["loaded"], record["rejected"], record["quarantined"]) == ("loaded", 3, 0, 0)
        assert sorted(r["symbol"] for r in stored(jobs.db, "portico_import_prices")) == ["AAPL", "GOOGL", "MSFT"]
        assert {r["currency"] for r in stored(jobs.db, "portico_import_prices")} == {"USD"}


async def test_history_and_list_jobs_return_aware_utc_times(service, tmp_path: Path) -> None:
    # SQLite forgets the zone of a DateTime(timezone=True): the API must still answer in aware UTC
    result = await service.import_data(str(write(tmp_path / "p.psv", HEADER, *GOOD)), "positions", {})
    run = service.history("adhoc:positions")[0]
    assert run["run_id"] == result.run_id
    for key in ("started_at", "finished_at"):
        value = datetime.fromisoformat(run[key])
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0), (key, run[key])
    job_id = await service.schedule_import({"id": "p", "source": str(tmp_path / "p.psv"), "data_type": "positions", "interval_seconds": 60})
    await service.run_now(job_id)
    last_run = next(j for j in service.list_jobs() if j["job_id"] == job_id)["last_run"]
    assert datetime.fromisoformat(last_run).utcoffset() == timedelta(0), last_run


async def test_shutdown_on_the_jobs_loop_does_not_block_a_running_job(db, clock) -> None:
    # AsyncIntegration.stop() calls shutdown() on the loop; a running job waits for that loop to run its
    # coroutines (connector calls), so shutdown must not block the loop while it waits for the job
    import asyncio

    svc = JobService(db=db, clock=clock, config={})
    svc.start()
    loop = asyncio.get_running_loop()
    started = threading.Event()
    outcome: list[str] = []

    def job_needing_the_loop() -> None:
        started.set()
        future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "ran"), loop)
        try:
            outcome.append(future.result(timeout=5))  # the timeout only bounds the failing case
        except Exception as exc:
            outcome.append(type(exc).__name__)

    svc._scheduler.add_jobstore("memory", alias="mem")
    svc._scheduler.add_job(job_needing_the_loop, jobstore="mem")
    await asyncio.to_thread(started.wait, 10)
    pending = svc.shutdown()
    assert pending is not None
    await pending
    assert outcome == ["ran"] and svc._scheduler is None
