from __future__ import annotations

from datetime import timedelta

import pytest

from portico.clock import FakeClock
from portico.monitor import IntegrationMonitor, Redactor
from portico.store import Database

from .conftest import call


@pytest.fixture
def db() -> Database:
    return Database()


async def test_samples_are_stored_and_survive_a_restart(db: Database, fake_clock: FakeClock, redactor: Redactor) -> None:
    config = {"history": {"sample_interval": 60}}
    monitor = IntegrationMonitor(db=db, clock=fake_clock, redactor=redactor, config=config)
    observe = monitor.call_observer()
    for minute in range(5):
        for _ in range(minute + 1):
            observe(call(latency=0.010 * (minute + 1)))
        await monitor.tick()
        fake_clock.advance(60)
    restarted = IntegrationMonitor(db=db, clock=fake_clock, redactor=redactor, config=config)
    requests = restarted.series("alpaca_paper", "requests")
    assert [v for _, v in requests] == [1.0, 2.0, 3.0, 4.0, 5.0]
    p95 = [v for _, v in restarted.series("alpaca_paper", "p95_ms")]
    assert p95[0] == pytest.approx(10.0) and p95[-1] == pytest.approx(50.0)
    assert requests[1][0] - requests[0][0] == timedelta(seconds=60)


async def test_downsampling_rolls_old_samples_into_averages(db: Database, fake_clock: FakeClock, redactor: Redactor) -> None:
    config = {"history": {"sample_interval": 60, "raw_retention": 3600, "rollup_interval": 3600, "rollup_retention": 86400}}
    monitor = IntegrationMonitor(db=db, clock=fake_clock, redactor=redactor, config=config)
    assert monitor.history is not None
    start = fake_clock.now().replace(minute=0, second=0)
    fake_clock.set(start + timedelta(hours=1))
    base = fake_clock.now()
    for i in range(60):  # one hour of raw samples, values 0..59
        monitor.history.write(base + timedelta(minutes=i), {"s": {"requests": float(i)}})
    fake_clock.advance(3 * 3600)
    rolled = monitor.history.downsample(fake_clock.now())
    assert rolled == 1
    points = monitor.series("s", "requests", seconds=6 * 3600)
    assert len(points) == 1 and points[0][1] == pytest.approx(29.5) and points[0][0] == base
    fake_clock.advance(2 * 86400)
    monitor.history.downsample(fake_clock.now())
    assert monitor.series("s", "requests", seconds=10 * 86400) == []


async def test_without_a_store_history_is_kept_in_memory(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"history": {"sample_interval": 10}})
    monitor.call_observer()(call())
    await monitor.tick()
    fake_clock.advance(10)
    await monitor.tick()
    assert [v for _, v in monitor.series("alpaca_paper", "requests")] == [1.0, 0.0]
