"""Metrics: Prometheus collectors on a registry of their own, plus rolling windows for percentiles and rates.

The Prometheus names are stable and documented in ``sdk-docs/metrics.md``. Percentiles come from a
bounded reservoir of recent latencies (exact over the last few thousand calls, which is what an operator
asks about), while the Prometheus histogram carries the long-run distribution for scraping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "BREAKER_STATES",
    "LATENCY_BUCKETS",
    "MetricsRegistry",
    "RollingWindow",
    "SystemStats",
    "percentile",
]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
_RESERVOIR = 2048
_MAX_WINDOW = 3600


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0..100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class RollingWindow:
    """Per-second buckets of (calls, errors) over the last hour, on the monitor's monotonic clock."""

    def __init__(self) -> None:
        self._buckets: deque[list[int]] = deque()

    def add(self, now: float, error: bool) -> None:
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            bucket = self._buckets[-1]
        else:
            bucket = [second, 0, 0]
            self._buckets.append(bucket)
            while self._buckets and self._buckets[0][0] <= second - _MAX_WINDOW:
                self._buckets.popleft()
        bucket[1] += 1
        bucket[2] += int(error)

    def totals(self, now: float, window: float) -> tuple[int, int]:
        """(calls, errors) in the last ``window`` seconds."""
        since = now - window
        calls = errors = 0
        for second, c, e in reversed(self._buckets):
            if second + 1 <= since:
                break
            calls += c
            errors += e
        return calls, errors


@dataclass
class _Latencies:
    values: deque[float] = field(default_factory=lambda: deque(maxlen=_RESERVOIR))

    def summary(self) -> dict[str, float | None]:
        ordered = sorted(self.values)
        scale = 1000.0
        return {
            "p50": _ms(percentile(ordered, 50), scale),
            "p95": _ms(percentile(ordered, 95), scale),
            "p99": _ms(percentile(ordered, 99), scale),
            "max": _ms(ordered[-1] if ordered else None, scale),
            "samples": float(len(ordered)),
        }


def _ms(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value * scale, 3)


@dataclass
class _EndpointStats:
    requests: int = 0
    errors: int = 0
    latencies: _Latencies = field(default_factory=_Latencies)


@dataclass
class SystemStats:
    """What the monitor knows of one system, kept in memory for :meth:`IntegrationMonitor.metrics`."""

    system: str
    requests: int = 0
    errors: int = 0
    retries: int = 0
    errors_by_class: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    rate_limit_remaining: dict[str, float] = field(default_factory=dict)
    breaker: str = "closed"
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, float] = field(default_factory=dict)
    dead_letter_depth: float = 0.0
    gauges: dict[str, float] = field(default_factory=dict)
    job_runs: int = 0
    job_failures: int = 0
    records_imported: int = 0
    records_rejected: int = 0
    last_error: dict[str, Any] | None = None
    last_call: datetime | None = None
    window: RollingWindow = field(default_factory=RollingWindow)
    latencies: _Latencies = field(default_factory=_Latencies)
    endpoints: dict[str, _EndpointStats] = field(default_factory=dict)


class MetricsRegistry:
    """The Prometheus collectors of one monitor, on their own :class:`CollectorRegistry`.

    Never the global registry: several runtimes (and every test) live side by side in one process.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "portico_requests",
            "External calls (one per attempt).",
            ["system", "endpoint", "method", "outcome"],
            registry=r,
        )
        self.errors = Counter(
            "portico_request_errors",
            "Failed external calls by error class.",
            ["system", "endpoint", "error_class"],
            registry=r,
        )
        self.latency = Histogram(
            "portico_request_latency_seconds",
            "Latency of external calls.",
            ["system", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "portico_request_retries", "Attempts after the first.", ["system", "endpoint"], registry=r
        )
        self.rate_limit_waits = Counter(
            "portico_rate_limit_waits", "Calls that waited for rate-limit budget.", ["system"], registry=r
        )
        self.rate_limit_wait_seconds = Counter(
            "portico_rate_limit_wait_seconds",
            "Seconds spent waiting for rate-limit budget.",
            ["system"],
            registry=r,
        )
        self.rate_limit_remaining = Gauge(
            "portico_rate_limit_remaining",
            "Budget left in a rate-limit window.",
            ["system", "window"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "portico_circuit_breaker_state",
            "Circuit breaker: 0 closed, 1 half open, 2 open.",
            ["system"],
            registry=r,
        )
        self.stream_connected = Gauge(
            "portico_stream_connected",
            "Stream connection: 1 connected, 0 not.",
            ["system", "stream"],
            registry=r,
        )
        self.stream_messages = Counter(
            "portico_stream_messages", "Messages received on a stream.", ["system", "stream"], registry=r
        )
        self.stream_reconnects = Counter(
            "portico_stream_reconnects", "Stream reconnections.", ["system", "stream"], registry=r
        )
        self.queue_depth = Gauge(
            "portico_queue_depth", "Items waiting in a queue.", ["system", "queue"], registry=r
        )
        self.dead_letter_depth = Gauge(
            "portico_dead_letter_depth",
            "Items in the dead-letter (quarantine) store.",
            ["system"],
            registry=r,
        )
        self.job_runs = Counter(
            "portico_job_runs", "Job runs by outcome.", ["job", "system", "outcome"], registry=r
        )
        self.job_duration = Histogram(
            "portico_job_duration_seconds",
            "Duration of job runs.",
            ["job", "system"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.records_imported = Counter(
            "portico_records_imported", "Records loaded by jobs.", ["job", "system"], registry=r
        )
        self.records_rejected = Counter(
            "portico_records_rejected",
            "Records rejected or quarantined by jobs.",
            ["job", "system"],
            registry=r,
        )
        self.health = Gauge(
            "portico_system_health",
            "Health: 2 healthy, 1 degraded, 0 down, -1 unknown.",
            ["system"],
            registry=r,
        )
        self.health_last_success = Gauge(
            "portico_health_check_last_success_timestamp_seconds",
            "Unix time of the last successful health check.",
            ["system"],
            registry=r,
        )
        self.alerts_active = Gauge(
            "portico_alerts_active", "Active alerts by severity.", ["severity"], registry=r
        )
        self.alerts_sent = Counter(
            "portico_alert_notifications",
            "Alert notifications sent, by channel and result.",
            ["channel", "result"],
            registry=r,
        )
        self.events = Counter(
            "portico_events", "Events reported to the monitor.", ["system", "event"], registry=r
        )
        self.gauge = Gauge(
            "portico_gauge", "Other gauges reported with monitor.gauge().", ["system", "name"], registry=r
        )

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def redacting_cache(redact: Callable[[str], str], limit: int = 4096) -> Callable[[str], str]:
    """Memoise label redaction: label values (templated endpoints, system ids) repeat on every call."""
    cache: dict[str, str] = {}

    def cached(value: str) -> str:
        hit = cache.get(value)
        if hit is None:
            hit = redact(value)
            if len(cache) < limit:
                cache[value] = hit
        return hit

    return cached


def endpoint_summary(stats: Mapping[str, _EndpointStats]) -> dict[str, dict[str, Any]]:
    """Per-endpoint counts and percentiles for :meth:`IntegrationMonitor.metrics`."""
    out: dict[str, dict[str, Any]] = {}
    for name, ep in sorted(stats.items()):
        summary = ep.latencies.summary()
        out[name] = {
            "requests": ep.requests,
            "errors": ep.errors,
            "latency_ms": {k: summary[k] for k in ("p50", "p95", "p99")},
        }
    return out
