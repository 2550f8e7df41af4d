"""The trading tables on PostgreSQL: routing, idempotency, tracking, recovery and the book, on a fresh
database (needs ``PORTICO_TEST_POSTGRES_URL``)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from portico.clock import FakeClock
from portico.models import OrderStatus
from portico.store import Database
from portico.trading import IdempotencyConflict, TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get("PORTICO_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PORTICO_TEST_POSTGRES_URL is not set")
    psycopg = pytest.importorskip("psycopg")
    from sqlalchemy.engine import make_url

    url = make_url(
        base if "+" in base.split("://", 1)[0] else base.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    name = f"portico_trading_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_trading_on_postgres(pg_url: str) -> None:
    clock = FakeClock()
    db = Database(pg_url)
    try:
        venue = FakeVenue(clock=clock)
        service = TradingService(db=db, clock=clock, connectors={"fake": FakeBroker.create(venue)})
        venue.script = ["drop", "refuse"]
        records = await asyncio.gather(
            *(
                service.place_order(
                    "fake", {"symbol": "AAPL", "side": "buy", "quantity": "2"}, idempotency_key="k"
                )
                for _ in range(5)
            )
        )
        assert len({r.id for r in records}) == 1 and len(venue.orders) == 1
        assert records[0].status is OrderStatus.FILLED
        assert records[0].created_at.tzinfo is not None
        with pytest.raises(IdempotencyConflict):
            await service.place_order(
                "fake", {"symbol": "AAPL", "side": "buy", "quantity": "3"}, idempotency_key="k"
            )
        # a restart on the same database resolves what the first process left behind
        venue.fill = "none"
        open_order = await service.place_order(
            "fake",
            {"symbol": "MSFT", "side": "buy", "quantity": "1", "order_type": "limit", "limit_price": "1"},
            idempotency_key="open",
        )
        venue.fill_order(open_order.venue_order_id)
        second = TradingService(db=db, clock=clock, connectors={"fake": FakeBroker.create(venue)})
        assert (await second.recover("fake")).complete
        assert second.get_order(open_order.id).status is OrderStatus.FILLED
        await second.sync_executions("fake")
        book = second.reconciler().book.positions("fake")
        assert sorted((p.instrument_id, p.quantity) for p in book) == [
            ("unmapped:fake:AAPL", Decimal(2)),
            ("unmapped:fake:MSFT", Decimal(1)),
        ]
        assert [h.to_status for h in second.order_history(open_order.id)][-1] is OrderStatus.FILLED
    finally:
        db.dispose()


async def test_breaks_and_orders_export_from_postgres(pg_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # file:// exports are confined to the working directory by default
    import csv
    import io

    from portico.jobs import JobService
    from portico.trading import BookPosition

    class Book:
        def positions(self, system: str, account_id: str | None = None) -> list[BookPosition]:
            return [BookPosition("ACC-1", "ID-GONE", Decimal(4))]

        def cash(self, system: str, account_id: str | None = None) -> list:
            return []

    clock = FakeClock()
    db = Database(pg_url)
    try:
        venue = FakeVenue(clock=clock)
        venue.reported_positions = []
        service = TradingService(db=db, clock=clock, connectors={"fake": FakeBroker.create(venue)})
        await service.place_order("fake", {"symbol": "AAPL", "side": "buy", "quantity": "2"}, idempotency_key="pg")
        report = await service.reconciler(book=Book()).run(["fake"], trades=False)
        jobs = JobService(db=db, clock=clock, config={})
        target = tmp_path / "breaks.csv"
        assert (await jobs.export_data("reconciliation_breaks", f"file://{target}", {"format": "csv"})).rows == 1
        (row,) = csv.DictReader(io.StringIO(target.read_text()))
        assert (row["run_id"], row["kind"], row["instrument_id"], row["difference"]) == (
            report.run_id,
            "missing_at_broker",
            "ID-GONE",
            "-4",
        )
        assert row["as_of"] == report.as_of.isoformat()
        orders = tmp_path / "orders.csv"
        assert (await jobs.export_data("orders", f"file://{orders}", {"format": "csv"})).rows == 1
    finally:
        db.dispose()
