from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from portico.clock import FakeClock
from portico.errors import RateLimited, ServerError
from portico.monitor import IntegrationMonitor, Redactor
from portico.monitor._metrics import percentile

from .conftest import CANARY, LogCapture, call, wait_for


def samples(monitor: IntegrationMonitor) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(monitor.prometheus.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0


def test_counts_percentiles_errors_retries_and_rate_limit(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor)
    observe = monitor.call_observer()
    for ms in range(1, 101):  # 1..100 ms
        observe(call(latency=ms / 1000.0))
    observe(call(status=503, outcome="retry", error=ServerError("x", status_code=503), latency=0.2))
    observe(call(status=200, attempt=2, latency=0.05, rate_limit_wait=0.25))
    observe(call(status=429, outcome="throttled", error=RateLimited("slow down"), latency=0.001))
    m = monitor.metrics("alpaca_paper")
    assert m["requests"] == 103
    assert m["errors"] == 2
    assert m["errors_by_class"] == {"RateLimited": 1, "ServerError": 1}
    assert m["retries"] == 1
    assert m["rate_limit"]["waits"] == 1 and m["rate_limit"]["wait_seconds"] == pytest.approx(0.25)
    assert m["latency_ms"]["p50"] == pytest.approx(50.0)  # 103 samples: 1, 1..100 ms (50 twice), 200
    assert m["latency_ms"]["p99"] == pytest.approx(100.0)
    assert m["latency_ms"]["max"] == pytest.approx(200.0)
    assert m["error_rate"] == pytest.approx(2 / 103, abs=1e-4)
    assert m["throughput_per_s"] == pytest.approx(103 / 60, abs=1e-3)
    assert m["endpoints"]["GET /v2/account"]["requests"] == 103
    assert m["last_error"]["error_class"] == "RateLimited"


def test_error_rate_window_slides_with_the_clock(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor, config={"alerts": {"error_rate": {"window": 60}}})
    observe = monitor.call_observer()
    for _ in range(5):
        observe(call(status=500, outcome="failed", error=ServerError("x")))
    assert monitor.metrics("alpaca_paper")["error_rate"] == 1.0
    fake_clock.advance(61)
    for _ in range(5):
        observe(call())
    m = monitor.metrics("alpaca_paper")
    assert m["error_rate"] == 0.0 and m["window_requests"] == 5 and m["errors"] == 5


def test_prometheus_names_are_stable_and_registry_is_private(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor)
    other = IntegrationMonitor(clock=fake_clock, redactor=redactor)
    monitor.call_observer()(call(status=503, outcome="failed", error=ServerError("x"), attempt=2))
    monitor.gauge("rate_limit_remaining", 7, system="alpaca_paper", window="200/minute")
    monitor.gauge("queue_depth", 3, system="alpaca_paper", queue="orders")
    monitor.emit("breaker.state_changed", system="alpaca_paper", old="closed", new="open")
    monitor.emit("stream.connected", system="alpaca_paper", stream="trade_updates")
    monitor.emit("stream.message", system="alpaca_paper", stream="trade_updates", count=4)
    monitor.emit("dead_letter.depth", system="alpaca_paper", depth=12)
    monitor.emit("job.completed", system="alpha_vantage", job="daily_prices", records_imported=10, records_rejected=1, duration=2.5)
    s = samples(monitor)
    sys = ("system", "alpaca_paper")
    assert s[("portico_requests_total", (("endpoint", "GET /v2/account"), ("method", "GET"), ("outcome", "failed"), sys))] == 1
    assert s[("portico_request_errors_total", (("endpoint", "GET /v2/account"), ("error_class", "ServerError"), sys))] == 1
    assert s[("portico_request_retries_total", (("endpoint", "GET /v2/account"), sys))] == 1
    assert ("portico_request_latency_seconds_bucket", (("endpoint", "GET /v2/account"), ("le", "0.01"), sys)) in s
    assert s[("portico_rate_limit_remaining", (sys, ("window", "200/minute")))] == 7
    assert s[("portico_queue_depth", (("queue", "orders"), sys))] == 3
    assert s[("portico_circuit_breaker_state", (sys,))] == 2
    assert s[("portico_stream_connected", (("stream", "trade_updates"), sys))] == 1
    assert s[("portico_stream_messages_total", (("stream", "trade_updates"), sys))] == 4
    assert s[("portico_dead_letter_depth", (sys,))] == 12
    assert s[("portico_job_runs_total", (("job", "daily_prices"), ("outcome", "succeeded"), ("system", "alpha_vantage")))] == 1
    assert s[("portico_records_imported_total", (("job", "daily_prices"), ("system", "alpha_vantage")))] == 10
    assert s[("portico_records_rejected_total", (("job", "daily_prices"), ("system", "alpha_vantage")))] == 1
    assert not any(s_.name.startswith("portico_") for f in REGISTRY.collect() for s_ in f.samples)
    assert samples(other).get(("portico_requests_total", (("endpoint", "GET /v2/account"), ("method", "GET"), ("outcome", "failed"), sys))) is None
    m = monitor.metrics("alpaca_paper")
    assert m["breaker"] == "open"
    assert m["streams"]["trade_updates"]["messages"] == 4 and m["streams"]["trade_updates"]["state"] == "connected"
    assert m["queues"] == {"orders": 3.0} and m["dead_letter_depth"] == 12
    assert monitor.metrics("alpha_vantage")["records"] == {"imported": 10, "rejected": 1}


def test_canary_never_in_a_metric_label(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor)
    monitor.call_observer()(call(endpoint=f"GET /query?apikey={CANARY}", error=RuntimeError(CANARY), outcome="failed"))
    monitor.gauge("custom", 1, system="alpaca_paper", window=CANARY)
    monitor.gauge("rate_limit_remaining", 1, system="alpaca_paper", window=CANARY)
    text = monitor.prometheus.exposition().decode()
    assert CANARY not in text
    assert CANARY not in str(monitor.metrics("alpaca_paper"))
    assert CANARY not in str(monitor.snapshot())


async def test_inside_a_loop_records_are_processed_in_batches_and_never_read_stale(
    fake_clock: FakeClock, redactor: Redactor, logs: LogCapture
) -> None:
    from portico.context import correlation_scope

    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor)
    observe = monitor.call_observer()
    with correlation_scope("loop-op"):
        observe(call(correlation_id=None))
    assert logs.events("external_call") == []  # queued, not yet processed
    assert monitor.metrics("alpaca_paper")["requests"] == 1  # readers process the queue first
    assert logs.events("external_call")[0]["correlation_id"] == "loop-op"  # captured when queued
    observe(call())
    await wait_for(lambda: not monitor._pending_calls, what="the batch to be processed by itself")
    assert monitor.metrics("alpaca_paper")["requests"] == 2
    assert 'portico_requests_total{endpoint="GET /v2/account"' in monitor.exposition().decode()


def test_reading_an_unknown_system_does_not_register_it(fake_clock: FakeClock, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(clock=fake_clock, redactor=redactor)
    assert monitor.metrics("typo")["requests"] == 0
    assert monitor.systems() == []
