"""The IntegrationMonitor: every call, event, health check and alert of a runtime reports here.

The class is assembled from parts, each in the module its job names: call records
(:mod:`._calls`), health checks and probes (:mod:`._health_checks`), alert evaluation, channels and
deliveries (:mod:`._alerting`), rules contributed by plugins (:mod:`._rules`). This module holds the
rest: construction, per-system state, gauges and events, run metrics, metric history, the loop and
the snapshot. It is a little over 600 lines because those share the per-system state the snapshot
reads; splitting them further would spread one state over more files than it would clarify.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.contributions import resolve_ref
from portico.errors import ConfigurationError
from portico.monitor._alerting import LOG_LEVELS as _LEVELS
from portico.monitor._alerting import Alerting
from portico.monitor._alerts import Alert, AlertChannel, AlertManager, AlertNotification
from portico.monitor._calls import CallObserver, CallRecording
from portico.monitor._config import MonitoringConfig, coerce_monitoring_config, unknown_rule_problems
from portico.monitor._health import HEALTH_VALUES, HealthCheck, HealthReport
from portico.monitor._health_checks import HealthChecking
from portico.monitor._history import MetricHistory
from portico.monitor._logging import CachedLogger, configure_library_logging
from portico.monitor._metrics import (
    BREAKER_STATES,
    MetricsRegistry,
    RollingWindow,
    SystemStats,
    endpoint_summary,
    redacting_cache,
)
from portico.monitor._redact import Redactor, default_redactor
from portico.monitor._rules import ContributedRules
from portico.plugins import PluginManager

if TYPE_CHECKING:
    from portico.store import Database

__all__ = ["CallObserver", "IntegrationMonitor"]

_OK_OUTCOMES = frozenset({"ok", "success", "succeeded", "2xx"})

_BREAKER_EVENTS = {"opened": "open", "open": "open", "closed": "closed", "half_open": "half_open"}



class IntegrationMonitor(CallRecording, HealthChecking, Alerting):
    """Logs, metrics, health checks and alerts for one runtime.

    Args:
        db: the embedded store for metric history; None keeps history in memory only.
        clock: the time source (a :class:`~portico.clock.FakeClock` in tests).
        config: the ``monitoring`` section (model, raw mapping, or None for defaults).
        plugins: the plugin manager, asked for alert channel types through ``portico_alert_channels``;
            the built-in channels (email, slack, webhook) are always available.
        redactor: the secret redactor; default the process-wide one the log pipeline uses.
        source: the name put in alert titles; default the host name.

    Attributes:
        config: the validated monitoring configuration.
        redactor: register secrets with ``monitor.redactor.add_secret(value)``.
        prometheus: the Prometheus collectors (own registry; ``prometheus.exposition()``).
        alerts: the alert manager (``alerts.active()``).
        channels: the configured alert channels by name.
    """

    def __init__(
        self,
        *,
        db: Database | None = None,
        clock: Clock | None = None,
        config: MonitoringConfig | Mapping[str, Any] | None = None,
        plugins: PluginManager | None = None,
        redactor: Redactor | None = None,
        source: str | None = None,
    ) -> None:
        self.config = coerce_monitoring_config(config)
        self.clock = clock or system_clock
        self.db = db
        self.redactor = redactor or default_redactor()
        self.redactor.add_secrets_from(self.config)
        self.enabled = self.config.performance_tracking
        if not structlog.is_configured():
            # Nobody set up logging: an embedded library prints nothing of its own, so portico's lines go,
            # redacted, to the standard library's "portico" logger and appear only once the application
            # configures logging (the CLI and `portico run` call configure_logging themselves).
            configure_library_logging(self.redactor)
        self.prometheus = MetricsRegistry()
        self._monitor_log = CachedLogger("portico.monitor")
        self._calls_log = CachedLogger("portico.calls")
        self._label = redacting_cache(self.redactor.redact_text)
        self._stats: dict[str, SystemStats] = {}
        self._children: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
        self._pending_calls: deque[tuple[Any, str | None]] = deque()
        self._drain_scheduled = False
        self._health: dict[str, HealthReport] = {}
        # Systems the runtime declared (or checked): only these make the overall status. Events and
        # jobs without a system are counted under "runtime", which has no health of its own.
        self._declared: set[str] = set()
        self._checks: dict[str, HealthCheck] = {}
        self._next_check: dict[str, float] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=200)
        self._jobs: deque[dict[str, Any]] = deque(maxlen=100)
        self._outbox: deque[tuple[AlertNotification, list[str], int]] = deque()
        self._notifications: deque[dict[str, Any]] = deque(maxlen=100)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Health checks in flight, each its own task (one hung check holds up no other system): the
        # task and when it started on the monitor's clock, which enforces the timeout (a fake clock in tests).
        self._running_checks: dict[str, tuple[asyncio.Task[HealthReport], float]] = {}
        self._probes: list[Callable[[IntegrationMonitor], None]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_lock = None
        self._last_sample: float | None = None
        self._last_rollup: float | None = None
        self._last_sample_totals: dict[str, tuple[int, int]] = {}
        self.history: MetricHistory | None = (
            MetricHistory(db, self.config.history) if db and self.config.history.enabled else None
        )
        self._memory_history: dict[tuple[str, str], deque[tuple[datetime, float]]] = {}
        self.channel_types = self._collect_channel_types(plugins)
        self.channels: dict[str, AlertChannel] = {
            name: self._build_channel(name, options) for name, options in self.config.channels.items()
        }
        self.alerts = AlertManager(
            clock=self.clock,
            renotify_interval=self.config.alerts.renotify_interval,
            send_resolved=self.config.alerts.send_resolved,
            notify=self._queue_notification,
            on_change=self._alerts_changed,
            source=source or socket.gethostname().split(".")[0] or "portico",
        )
        # What services' events mean, and the probes they run, come from their plugins (the jobs'
        # file and run rules are portico.jobs's contribution): the monitor holds no service's rules.
        contributing = plugins if plugins is not None else PluginManager(autoload=False)
        self._rules = ContributedRules(self, contributing.contributions("portico_alert_rules"))
        unknown = unknown_rule_problems(self.config.alerts, self._rules.rule_names)
        if unknown:
            raise ConfigurationError(
                "; ".join(f"{path}: {message}" for path, message in unknown),
                path=unknown[0][0],
                problems=unknown,
            )
        for contributed in contributing.contributions("portico_health_probes"):
            self.add_probe(resolve_ref(contributed.probe))

    @property
    def _log(self) -> Any:
        return self._monitor_log.get()

    def __repr__(self) -> str:
        return f"IntegrationMonitor(systems={sorted(self._stats)}, channels={sorted(self.channels)})"

    # -- per-system state --------------------------------------------------------------------------

    def _system(self, system: str) -> SystemStats:
        stats = self._stats.get(system)
        if stats is None:
            stats = self._stats[system] = SystemStats(system=system)
        return stats

    def add_system(self, system_id: str) -> None:
        """Declare a system so it is listed (dashboard, ``/health``) before its first call; until its
        first health verdict it is ``unknown``, and so is the overall status."""
        self._declared.add(system_id)
        self._system(system_id)
        self.prometheus.health.labels(self._label(system_id)).set(HEALTH_VALUES["unknown"])

    def systems(self) -> list[str]:
        """Every system the monitor has heard of, sorted."""
        return sorted(set(self._stats) | set(self._checks) | set(self._health))

    # -- gauges and events -------------------------------------------------------------------------

    def gauge(self, name: str, value: float, *, system: str | None = None, **labels: str) -> None:
        """Set a gauge another part of portico measures.

        Known names map to their own Prometheus metric (see ``sdk-docs/metrics.md``):
        ``rate_limit_remaining`` (label ``window``), ``rate_limit_limit`` (``window``), ``queue_depth``
        (``queue``), ``dead_letter_depth``, ``breaker_state`` (0/1/2), ``stream_connected`` (``stream``).
        Any other name is kept under ``portico_gauge{system, name}``.
        """
        sys_id = system or "runtime"
        stats = self._system(sys_id)
        p = self.prometheus
        s = self._label(sys_id)
        if name == "rate_limit_remaining":
            window = self._label(labels.get("window", "default"))
            stats.rate_limit_remaining[window] = float(value)
            p.rate_limit_remaining.labels(s, self._label(window)).set(value)
        elif name == "rate_limit_limit":
            stats.gauges[f"rate_limit_limit:{self._label(labels.get('window', 'default'))}"] = float(value)
        elif name == "queue_depth":
            queue = self._label(labels.get("queue", "default"))
            stats.queues[queue] = float(value)
            p.queue_depth.labels(s, queue).set(value)
        elif name == "dead_letter_depth":
            stats.dead_letter_depth = float(value)
            p.dead_letter_depth.labels(s).set(value)
        elif name == "breaker_state":
            states = {v: k for k, v in BREAKER_STATES.items()}
            self.set_breaker_state(sys_id, states.get(int(value), "closed"))
        elif name == "stream_connected":
            self.stream_state(sys_id, labels.get("stream", "default"), connected=bool(value))
        else:
            name = self._label(name)
            stats.gauges[name] = float(value)
            p.gauge.labels(s, name).set(value)

    def set_breaker_state(self, system: str, state: str) -> None:
        """Record a circuit breaker state (``closed``, ``half_open``, ``open``)."""
        state = str(getattr(state, "value", state)).lower().replace("-", "_")
        stats = self._system(system)
        changed = stats.breaker != state
        stats.breaker = state
        self.prometheus.breaker_state.labels(self._label(system)).set(BREAKER_STATES.get(state, 0))
        if changed:
            self._evaluate_soon()

    def breaker_listener(self, system: str) -> Callable[..., None]:
        """A listener for :class:`portico.http.CircuitBreaker`: called with the new state (and maybe the old)."""

        def listener(*args: Any, **_kwargs: Any) -> None:
            new = args[-1] if args else _kwargs.get("state", _kwargs.get("new"))
            if new is not None:
                self.emit(
                    "breaker.state", system=system, severity="warning", state=str(getattr(new, "value", new))
                )

        return listener

    def stream_state(self, system: str, stream: str, *, connected: bool) -> None:
        """Record a stream (WebSocket) connecting or dropping."""
        info = self._stream(system, stream)
        info["state"] = "connected" if connected else "disconnected"
        if connected:
            info["connected_at"] = self.clock.monotonic()
        self.prometheus.stream_connected.labels(self._label(system), self._label(stream)).set(
            1 if connected else 0
        )

    def stream_message(self, system: str, stream: str = "default", count: int = 1) -> None:
        """Count messages received on a stream (cheap: call it per message or per batch)."""
        info = self._stream(system, stream)
        info["messages"] += count
        info["last_message"] = self.clock.monotonic()
        info["rate"].add(self.clock.monotonic(), False)
        self.prometheus.stream_messages.labels(self._label(system), self._label(stream)).inc(count)

    def _stream(self, system: str, stream: str) -> dict[str, Any]:
        streams = self._system(system).streams
        info = streams.get(stream)
        if info is None:
            info = streams[stream] = {
                "state": "unknown",
                "messages": 0,
                "last_message": None,
                "connected_at": None,
                "rate": RollingWindow(),
                "reconnects": 0,
            }
        return info

    def notify_rules(self, event: str, *, system: str | None = None, **data: Any) -> None:
        """Give ``event`` to the contributed alert rules that read it, without logging or counting it.

        For events too frequent to log (a quote per symbol) or that only a rule reads (a file's due
        time); :meth:`emit` is the one to use otherwise.
        """
        self._rules.dispatch(event, system, data, None)

    def market_data_update(self, system: str, symbol: str) -> None:
        """``notify_rules("market_data.update", system=system, symbol=symbol)``: a symbol's data is fresh.

        The rule that watches these (``market_data_stale``) is contributed by :mod:`portico.marketdata`
        through ``portico_alert_rules``.
        """
        self._rules.dispatch("market_data.update", system, {"symbol": symbol}, None)

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        """Report an event: it is logged (redacted, with the correlation id), counted, and acted on.

        Events the monitor understands (others are logged and counted only):

        - ``breaker.state`` (``state=``), ``breaker.opened`` / ``breaker.closed`` / ``breaker.half_open``
        - ``stream.connected`` / ``stream.disconnected`` / ``stream.reconnected`` / ``stream.stale`` (``stream=``),
          ``stream.message`` (``stream=``, ``count=``)
        - ``dead_letter.depth`` (``depth=``), ``queue.depth`` (``queue=``, ``depth=``),
          ``rate_limit.budget`` (``window=``, ``remaining=``, ``limit=``)

        Every event is also given to the alert rules plugins contribute (``portico_alert_rules``) that
        read it: the jobs' ``job.*`` and ``jobs.*`` events (see :mod:`portico.jobs._alert_rules`), and the
        market data service's ``market_data.update`` / ``market_data.quality_failed`` /
        ``market_data.quality_ok`` (see :mod:`portico.marketdata._alert_rules`).
        """
        cid = data.pop("correlation_id", None) or current_correlation_id()
        entry = {
            "at": self.clock.now().isoformat(),
            "event": event,
            "system": system,
            "severity": severity,
            "correlation_id": cid,
            **data,
        }
        self._events.append(self.redactor.redact(entry))
        self.prometheus.events.labels(self._label(system or "runtime"), self._label(event)).inc()
        level = _LEVELS.get(severity, logging.INFO)
        if event != "stream.message" and self._log.is_enabled_for(level):
            self._log.log(level, event, system=system, severity=severity, correlation_id=cid, **data)
        self._handle_event(event, system, data, cid)

    def _handle_event(self, event: str, system: str | None, data: dict[str, Any], cid: str | None) -> None:
        sys_id = system or "runtime"
        if event.startswith("breaker."):
            suffix = event.split(".", 1)[1]
            state = data.get("state") or data.get("new") or _BREAKER_EVENTS.get(suffix)
            if state is not None:
                self.set_breaker_state(sys_id, str(state))
        elif event in {"stream.connected", "stream.reconnected"}:
            stream = str(data.get("stream", "default"))
            self.stream_state(sys_id, stream, connected=True)
            if event == "stream.reconnected":
                self._stream(sys_id, stream)["reconnects"] += 1
                self.prometheus.stream_reconnects.labels(self._label(sys_id), self._label(stream)).inc()
        elif event == "stream.disconnected":
            self.stream_state(sys_id, str(data.get("stream", "default")), connected=False)
        elif event == "stream.message":
            self.stream_message(sys_id, str(data.get("stream", "default")), int(data.get("count", 1)))
        elif event == "dead_letter.depth":
            self.gauge("dead_letter_depth", float(data.get("depth", 0)), system=sys_id)
        elif event == "queue.depth":
            self.gauge(
                "queue_depth",
                float(data.get("depth", 0)),
                system=sys_id,
                queue=str(data.get("queue", "default")),
            )
        elif event == "rate_limit.budget":
            window = str(data.get("window", "default"))
            if data.get("remaining") is not None:
                self.gauge("rate_limit_remaining", float(data["remaining"]), system=sys_id, window=window)
            if data.get("limit") is not None:
                self.gauge("rate_limit_limit", float(data["limit"]), system=sys_id, window=window)
        self._rules.dispatch(event, system, data, cid)

    # -- runs and contributed alert rules -------------------------------------------------------------------

    def expect_file(
        self, job: str, *, due: datetime, sla: float | None = None, system: str | None = None
    ) -> None:
        """``notify_rules("job.expected", ...)``: ``job``'s file is due at ``due``.

        The rule that acts on it (``file_late``, fired ``sla`` seconds after ``due`` unless the file
        arrives) is contributed by :mod:`portico.jobs` through ``portico_alert_rules``.
        """
        self._rules.dispatch("job.expected", system, {"job": job, "due": due, "sla": sla}, None)

    def record_run(
        self,
        *,
        job: str,
        system: str | None,
        ok: bool,
        duration: float | None = None,
        records_imported: int = 0,
        records_rejected: int = 0,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Count one finished run (of any job runner) in the run metrics and :meth:`recent_jobs`."""
        sys_label = self._label(system or "runtime")
        stats = self._system(system or "runtime")
        stats.job_runs += 1
        if not ok:
            stats.job_failures += 1
        stats.records_imported += records_imported
        stats.records_rejected += records_rejected
        p = self.prometheus
        p.job_runs.labels(self._label(job), sys_label, "succeeded" if ok else "failed").inc()
        if duration is not None:
            p.job_duration.labels(self._label(job), sys_label).observe(duration)
        if records_imported:
            p.records_imported.labels(self._label(job), sys_label).inc(records_imported)
        if records_rejected:
            p.records_rejected.labels(self._label(job), sys_label).inc(records_rejected)
        extra = dict(details or {})
        self._jobs.append(
            self.redactor.redact(
                {
                    "at": self.clock.now().isoformat(),
                    "job": job,
                    "system": system,
                    "outcome": "succeeded" if ok else "failed",
                    "duration": extra.pop("duration", duration),
                    "records_imported": records_imported,
                    "records_rejected": records_rejected,
                    "rows": extra.pop("rows", None),
                    "file": extra.pop("file", None),
                    "error": extra.pop("error", None),
                    "correlation_id": extra.pop("correlation_id", None),
                    **extra,
                }
            )
        )

    def recent_jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest job results reported through events, newest first."""
        return list(reversed(self._jobs))[:limit]

    def recent_events(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest events, newest first (redacted)."""
        return list(reversed(self._events))[:limit]

    def recent_notifications(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest alert notifications and their delivery results, newest first."""
        return list(reversed(self._notifications))[:limit]

    # -- metrics -----------------------------------------------------------------------------------

    def metrics(self, system_id: str) -> dict[str, Any]:
        """Everything measured for one system (what ``get_integration_metrics(system_id)`` returns)."""
        self.process_pending_calls()
        stats = self._stats.get(system_id) or SystemStats(system=system_id)  # reading never registers a system
        now = self.clock.monotonic()
        window = self.config.alerts.error_rate.window or 300.0
        calls, errors = stats.window.totals(now, window)
        last_minute, _ = stats.window.totals(now, 60.0)
        streams = {
            name: {
                "state": info["state"],
                "messages": info["messages"],
                "message_rate_per_s": round(info["rate"].totals(now, 60.0)[0] / 60.0, 3),
                "seconds_since_message": None
                if info["last_message"] is None
                else round(now - info["last_message"], 3),
                "reconnects": info["reconnects"],
            }
            for name, info in sorted(stats.streams.items())
        }
        limits = {k.split(":", 1)[1]: v for k, v in stats.gauges.items() if k.startswith("rate_limit_limit:")}
        health = self._health.get(system_id)
        return {
            "system": system_id,
            "requests": stats.requests,
            "errors": stats.errors,
            "errors_by_class": dict(sorted(stats.errors_by_class.items())),
            "outcomes": dict(sorted(stats.outcomes.items())),
            "error_rate": round(errors / calls, 4) if calls else 0.0,
            "error_rate_window_s": window,
            "window_requests": calls,
            "latency_ms": stats.latencies.summary(),
            "throughput_per_s": round(last_minute / 60.0, 3),
            "retries": stats.retries,
            "rate_limit": {
                "waits": stats.rate_limit_waits,
                "wait_seconds": round(stats.rate_limit_wait_seconds, 6),
                "remaining": dict(stats.rate_limit_remaining),
                "limit": limits,
            },
            "breaker": stats.breaker,
            "streams": streams,
            "queues": dict(stats.queues),
            "dead_letter_depth": stats.dead_letter_depth,
            "jobs": {"runs": stats.job_runs, "failures": stats.job_failures},
            "records": {"imported": stats.records_imported, "rejected": stats.records_rejected},
            "gauges": {k: v for k, v in stats.gauges.items() if not k.startswith("rate_limit_limit:")},
            "endpoints": endpoint_summary(stats.endpoints),
            "last_error": dict(stats.last_error) if stats.last_error else None,
            "last_call_at": stats.last_call.isoformat() if stats.last_call else None,
            "health": health.model_dump(mode="json") if health else None,
        }

    def exposition(self) -> bytes:
        """The Prometheus text exposition (queued call records processed first)."""
        self.process_pending_calls()
        return self.prometheus.exposition()

    @property
    def pending_notifications(self) -> int:
        """Notifications waiting to be (re)sent."""
        return len(self._outbox)

    async def drain(self) -> None:
        """Process queued call records and wait for notification sends started in the background."""
        self.process_pending_calls()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- history -----------------------------------------------------------------------------------

    def _sample(self) -> dict[str, dict[str, float | None]]:
        samples: dict[str, dict[str, float | None]] = {}
        for system in self.systems():
            m = self.metrics(system)
            before = self._last_sample_totals.get(system, (0, 0))
            stats = self._system(system)
            self._last_sample_totals[system] = (stats.requests, stats.errors)
            samples[system] = {
                "requests": float(stats.requests - before[0]),
                "errors": float(stats.errors - before[1]),
                "error_rate": m["error_rate"],
                "p50_ms": m["latency_ms"]["p50"],
                "p95_ms": m["latency_ms"]["p95"],
                "p99_ms": m["latency_ms"]["p99"],
                "health": float(HEALTH_VALUES[self.health(system).status]),
            }
        return samples

    async def record_history(self) -> int:
        """Take one sample of every system's key metrics (into the store when there is one)."""
        when = self.clock.now()
        samples = self._sample()
        for system, metrics in samples.items():
            for metric, value in metrics.items():
                if value is not None:
                    series = self._memory_history.setdefault((system, metric), deque(maxlen=720))
                    series.append((when, float(value)))
        if self.history is None:
            return 0
        written = await asyncio.to_thread(self.history.write, when, samples)
        mono = self.clock.monotonic()
        if self._last_rollup is None or mono - self._last_rollup >= self.config.history.rollup_interval:
            self._last_rollup = mono
            await asyncio.to_thread(self.history.downsample, when)
        return written

    def series(
        self, system: str, metric: str, *, seconds: float = 6 * 3600, limit: int = 360
    ) -> list[tuple[datetime, float]]:
        """Points of one metric over the last ``seconds`` (from the store when there is one)."""
        since = self.clock.now() - timedelta(seconds=seconds)
        if self.history is not None:
            return self.history.series(system, metric, since=since, limit=limit)
        points = self._memory_history.get((system, metric), deque())
        return [p for p in points if p[0] >= since][-limit:]

    # -- the loop ----------------------------------------------------------------------------------

    async def tick(self) -> None:
        """One round of periodic work: due health checks (waited for), alert rules, queued
        notifications, history."""
        await self._tick(wait_for_checks=True)

    async def _tick(self, *, wait_for_checks: bool) -> None:
        self.process_pending_calls()
        self._run_probes()
        self._expire_overdue_checks()
        if wait_for_checks:
            await self.run_due_health_checks()
        else:
            # the background loop never waits for a check: each reports (and alerts) when it is done
            self._start_due_checks()
        self.evaluate_alerts()
        if self._outbox:
            await self.flush_notifications()
        mono = self.clock.monotonic()
        if self.config.history.enabled and (
            self._last_sample is None or mono - self._last_sample >= self.config.history.sample_interval
        ):
            self._last_sample = mono
            try:
                await self.record_history()
            except Exception as exc:
                self._log.warning("history.write_failed", error=self.redactor.redact_text(str(exc)))

    @property
    def tick_interval(self) -> float:
        """Seconds between ticks of the background loop: often enough for alerts, at most every 5 s."""
        return min(5.0, self.config.health_check_interval, self.config.history.sample_interval)

    async def start(self) -> None:
        """Start the background loop: every registered system is checked at once, then on its interval
        (each check independent of the others), alerts are evaluated and history sampled."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="portico-monitor")

    async def _run(self) -> None:
        while True:
            try:
                await self._tick(wait_for_checks=False)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must survive a failing check or channel
                self._log.error(
                    "monitor.tick_failed", error=self.redactor.redact_text(f"{type(exc).__name__}: {exc}")
                )
            await self.clock.sleep(self.tick_interval)

    async def stop(self) -> None:
        """Stop the loop and finish sending queued notifications."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        running = [task for task, _ in self._running_checks.values()]
        self._running_checks.clear()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self.drain()
        if self._outbox:
            await self.flush_notifications()

    # -- snapshot for /health and the dashboard ----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The state the dashboard and ``/health`` show, redacted."""
        self.process_pending_calls()
        self._run_probes()
        systems = []
        for system in self.systems():
            m = self.metrics(system)
            h = self.health(system)
            systems.append(
                {
                    "system": system,
                    "status": h.status,
                    "reason": h.reason,
                    "checked_at": h.checked_at.isoformat() if h.checked_at else None,
                    "last_success": h.last_success.isoformat() if h.last_success else None,
                    "last_failure": h.last_failure.isoformat() if h.last_failure else None,
                    "requests": m["requests"],
                    "errors": m["errors"],
                    "error_rate": m["error_rate"],
                    "latency_ms": m["latency_ms"],
                    "throughput_per_s": m["throughput_per_s"],
                    "breaker": m["breaker"],
                    "rate_limit": m["rate_limit"],
                    "streams": m["streams"],
                    "dead_letter_depth": m["dead_letter_depth"],
                    "last_error": m["last_error"],
                }
            )
        return self.redactor.redact(  # type: ignore[no-any-return]
            {
                "generated_at": self.clock.now().isoformat(),
                "status": self.overall_status(),
                "systems": systems,
                "alerts": [_alert_view(a) for a in self.alerts.active()],
                "resolved_alerts": [_alert_view(a) for a in self.alerts.recently_resolved(10)],
                "jobs": self.recent_jobs(20),
                "events": self.recent_events(30),
            }
        )


def _alert_view(alert: Alert) -> dict[str, Any]:
    return {
        "key": alert.key,
        "rule": alert.rule,
        "system": alert.system,
        "subject": alert.subject,
        "severity": alert.severity,
        "summary": alert.summary,
        "started_at": alert.started_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "notifications": alert.notifications,
    }

