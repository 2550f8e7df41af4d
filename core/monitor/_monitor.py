"""The IntegrationMonitor: every call, event, health check and alert of a runtime reports here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.contributions import resolve_ref
from portico.errors import RateLimited
from portico.monitor._alerts import SEVERITY_ORDER, Alert, AlertChannel, AlertManager, AlertNotification
from portico.monitor._channel_plugin import portico_alert_channels as _builtin_channels
from portico.monitor._config import MonitoringConfig, RuleConfig, coerce_monitoring_config
from portico.monitor._health import HEALTH_VALUES, HealthCheck, HealthReport, classify, rate_limited_reason
from portico.monitor._history import MetricHistory
from portico.monitor._logging import CachedLogger, configure_library_logging, fast_json_lines, get_logger
from portico.monitor._metrics import (
    BREAKER_STATES,
    MetricsRegistry,
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
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_LEVELS.update({"critical": logging.CRITICAL, "emergency": logging.CRITICAL})
# Rules checked on every tick from current state; an alert of these clears when its condition is gone.
_LEVEL_RULES = (
    "error_rate",
    "circuit_open",
    "system_down",
    "system_degraded",
    "stream_stale",
    "dead_letter_depth",
    "market_data_stale",
)


_HEX32 = re.compile(r"[0-9a-f]{32}")
# Call records are processed in batches, at most this long after the call (or sooner, once this many
# wait): one warm pass over many records costs a fraction of one cold pass per call, and everything
# that reads the monitor processes the queue first, so nothing is read stale.
_CALL_FLUSH_SECONDS = 0.05
_CALL_BATCH = 256
_BREAKER_EVENTS = {"opened": "open", "open": "open", "closed": "closed", "half_open": "half_open"}


class CallObserver:
    """The :class:`portico.http.ApiClient` observer: one :class:`~portico.http.CallRecord` per attempt.

    Inside an event loop the record is queued and processed (logged, measured) in a batch at most 50 ms
    later, off the path of the call that produced it; everything that reads the monitor (``metrics``,
    ``snapshot``, ``exposition``, alert evaluation, ``tick``, ``drain``) processes the queue first, so
    nothing is ever read stale. Outside a loop the record is processed at once.
    Callable (``observer(record)``) and also offers ``on_call(record)``.
    """

    __slots__ = ("_monitor",)

    def __init__(self, monitor: IntegrationMonitor) -> None:
        self._monitor = monitor

    def __call__(self, record: Any) -> None:
        self._monitor._enqueue_call(record)

    def on_call(self, record: Any) -> None:
        """Same as calling the observer."""
        self._monitor._enqueue_call(record)


class IntegrationMonitor:
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
        self._market_data: dict[tuple[str, str], float] = {}
        self._outbox: deque[tuple[AlertNotification, list[str], int]] = deque()
        self._notifications: deque[dict[str, Any]] = deque(maxlen=100)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Health checks in flight, each its own task (one hung check holds up no other system): the
        # task and when it started on the monitor's clock, which enforces the timeout (a fake clock in tests).
        self._running_checks: dict[str, tuple[asyncio.Task[HealthReport], float]] = {}
        self._probes: list[Callable[[IntegrationMonitor], None]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None
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
        for contributed in contributing.contributions("portico_health_probes"):
            self.add_probe(resolve_ref(contributed.probe))

    @property
    def _log(self) -> Any:
        return self._monitor_log.get()

    def __repr__(self) -> str:
        return f"IntegrationMonitor(systems={sorted(self._stats)}, channels={sorted(self.channels)})"

    # -- channels ----------------------------------------------------------------------------------

    @staticmethod
    def _collect_channel_types(plugins: PluginManager | None) -> dict[str, type[Any]]:
        types: dict[str, type[Any]] = {cls.type: cls for cls in _builtin_channels()}
        if plugins is not None:
            for contributed in plugins.hooks.hook.portico_alert_channels():
                for cls in contributed or []:
                    kind = getattr(cls, "type", None)
                    if not isinstance(kind, str) or not callable(getattr(cls, "from_config", None)):
                        # One bad plugin must not take the monitor (and the runtime) down.
                        get_logger("portico.monitor").warning(
                            "alert_channel.invalid", channel=repr(cls), reason="needs a str `type` and `from_config`"
                        )
                        continue
                    types[kind] = cls
        return types

    def _build_channel(self, name: str, options: Mapping[str, Any]) -> AlertChannel:
        from portico.errors import ConfigurationError

        kind = options["type"]
        cls = self.channel_types.get(kind)
        if cls is None:
            raise ConfigurationError(
                f"alert channel {name!r} has unknown type {kind!r}; available: {', '.join(sorted(self.channel_types))}",
                path=f"monitoring.channels.{name}.type",
            )
        channel: AlertChannel = cls.from_config(name, options, redactor=self.redactor)
        return channel

    def add_channel(self, channel: AlertChannel) -> None:
        """Add an alert channel built in code (tests, embedding apps)."""
        self.channels[channel.name] = channel

    def _destinations(self) -> list[str]:
        wanted = self.config.alert_destinations
        if not wanted:
            return sorted(self.channels)
        names: list[str] = []
        for item in wanted:
            if item in self.channels:
                names.append(item)
            else:
                typed = [n for n, c in sorted(self.channels.items()) if getattr(c, "type", None) == item]
                # a destination naming no channel stays listed: its deliveries show as dropped, not vanish
                names.extend(typed or [item])
        return list(dict.fromkeys(names))

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

    # -- calls -------------------------------------------------------------------------------------

    def call_observer(self) -> CallObserver:
        """An observer to pass to :class:`portico.http.ApiClient` (``observers=[monitor.call_observer()]``)."""
        return CallObserver(self)

    def _enqueue_call(self, record: Any) -> None:
        if not self.enabled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.record_call(record)
            return
        # The correlation id is read now: the queue is processed outside the caller's context.
        pending = self._pending_calls
        pending.append((record, current_correlation_id()))
        if len(pending) >= _CALL_BATCH:
            loop.call_soon(self.process_pending_calls)
        elif not self._drain_scheduled:
            self._drain_scheduled = True
            loop.call_later(_CALL_FLUSH_SECONDS, self.process_pending_calls)

    def process_pending_calls(self) -> int:
        """Log and measure the call records queued by the observer; returns how many there were."""
        self._drain_scheduled = False
        pending = self._pending_calls
        n = 0
        while pending:
            try:
                record, cid = pending.popleft()
            except IndexError:
                break
            n += 1
            try:
                self.record_call(record, correlation_id=cid)
            except Exception as exc:  # a bad record must not stop the others (or the loop)
                self._log.warning("monitor.record_failed", error=self.redactor.redact_text(f"{type(exc).__name__}: {exc}"))
        return n

    def record_call(self, record: Any, *, correlation_id: str | None = None) -> None:
        """Log one external call attempt and update the metrics, now (the observer queues to this).

        The observer skips records while :attr:`enabled` is false (``performance_tracking: false``);
        records already queued are still processed.
        """
        system = str(getattr(record, "system", None) or "unknown")
        raw_endpoint = str(getattr(record, "endpoint", None) or "unknown")
        method = str(getattr(record, "method", "") or "").upper()
        status = getattr(record, "status", None)
        outcome = str(getattr(record, "outcome", None) or ("ok" if status is not None and status < 400 else "error"))
        latency = float(getattr(record, "latency", 0.0) or 0.0)
        attempt = int(getattr(record, "attempt", 1) or 1)
        waited = float(getattr(record, "rate_limit_wait", 0.0) or 0.0)
        error = getattr(record, "error", None)
        correlation_id = getattr(record, "correlation_id", None) or correlation_id or current_correlation_id()
        failed = error is not None or outcome.lower() not in _OK_OUTCOMES
        error_class = _error_class(error, outcome, status) if failed else None

        # Prometheus children and per-endpoint stats are looked up once per label set, then reused:
        # this runs after every attempt of every call.
        key = (system, raw_endpoint, method, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._call_children(system, raw_endpoint, method, outcome)
        stats, ep, endpoint, requests_child, latency_child = children

        now = self.clock.monotonic()
        stats.requests += 1
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
        stats.window.add(now, failed)
        stats.latencies.values.append(latency)
        ep.requests += 1
        ep.latencies.values.append(latency)
        requests_child.inc()
        latency_child.observe(latency)
        if attempt > 1:
            stats.retries += 1
            self.prometheus.retries.labels(self._label(system), endpoint).inc()
        if waited > 0:
            stats.rate_limit_waits += 1
            stats.rate_limit_wait_seconds += waited
            self.prometheus.rate_limit_waits.labels(self._label(system)).inc()
            self.prometheus.rate_limit_wait_seconds.labels(self._label(system)).inc(waited)
        stats.last_call = self.clock.now()
        if failed:
            assert error_class is not None
            stats.errors += 1
            ep.errors += 1
            stats.errors_by_class[error_class] = stats.errors_by_class.get(error_class, 0) + 1
            self.prometheus.errors.labels(self._label(system), endpoint, error_class).inc()
            previous = stats.last_error
            stats.last_error = {
                "at": stats.last_call.isoformat(),
                "endpoint": endpoint,
                "error_class": error_class,
                "message": self.redactor.redact_text(str(error) if error is not None else _error_message(None, status)),
                "correlation_id": correlation_id,
            }
            if error_class == "CircuitOpen" and previous is not None:
                # calls the open breaker refuses must not hide the failure that opened it
                cause = previous.get("cause") or (previous if previous["error_class"] != "CircuitOpen" else None)
                if cause is not None:
                    stats.last_error["cause"] = {k: cause[k] for k in ("at", "endpoint", "error_class", "message")}

        fast = fast_json_lines()
        if fast is not None and fast.redactor is self.redactor:
            if (logging.WARNING if failed else logging.INFO) < fast.level:
                return
            # Every string is redacted value by value (cached for the repeating ones), so the line can
            # skip the whole-event pass: this runs once per attempt of every call.
            label = self._label
            fields: dict[str, Any] = {
                "system": label(system),
                "endpoint": endpoint,
                "method": label(method),
                "status": status,
                "outcome": label(outcome),
                "latency_ms": round(latency * 1000.0, 3),
                "attempt": attempt,
                "rate_limit_wait_ms": round(waited * 1000.0, 3),
            }
            if failed:
                fields["error_class"] = label(error_class or "")
                fields["error"] = self.redactor.redact_text(_error_message(error, status))
            if correlation_id is not None:
                fields["correlation_id"] = self._safe_id(correlation_id)
            if failed:
                fast.write(logging.WARNING, "warning", "portico.calls", "external_call", fields, redacted=True)
            else:
                fast.write(logging.INFO, "info", "portico.calls", "external_call", fields, redacted=True)
            return
        calls_log = self._calls_log.get()
        (calls_log.warning if failed else calls_log.info)(
            "external_call",
            system=system,
            endpoint=endpoint,
            method=method,
            status=status,
            outcome=outcome,
            latency_ms=round(latency * 1000.0, 3),
            attempt=attempt,
            rate_limit_wait_ms=round(waited * 1000.0, 3),
            **({"error_class": error_class, "error": _error_message(error, status)} if failed else {}),
            correlation_id=correlation_id,
        )

    def _safe_id(self, value: str) -> str:
        # Correlation ids portico makes are 32 hex digits: such a value needs no pattern scan, only the
        # check that it is not itself a registered secret.
        if len(value) == 32 and _HEX32.fullmatch(value) and not self.redactor.is_secret(value):
            return value
        return self.redactor.redact_text(value)

    def _call_children(self, system: str, raw_endpoint: str, method: str, outcome: str) -> tuple[Any, ...]:
        from portico.monitor._metrics import _EndpointStats

        stats = self._system(system)
        endpoint = self._label(raw_endpoint)
        ep = stats.endpoints.get(endpoint)
        if ep is None:
            ep = stats.endpoints[endpoint] = _EndpointStats()
        sys_label = self._label(system)
        children = (
            stats,
            ep,
            endpoint,
            self.prometheus.requests.labels(sys_label, endpoint, method, outcome),
            self.prometheus.latency.labels(sys_label, endpoint),
        )
        if len(self._children) < 10_000:  # bounded: endpoints are templated, but be safe
            self._children[(system, raw_endpoint, method, outcome)] = children
        return children

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
        from portico.monitor._metrics import RollingWindow

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

    def market_data_update(self, system: str, symbol: str) -> None:
        """Record fresh market data for a symbol (the staleness rule watches these)."""
        self._market_data[(system, symbol)] = self.clock.monotonic()

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        """Report an event: it is logged (redacted, with the correlation id), counted, and acted on.

        Events the monitor understands (others are logged and counted only):

        - ``breaker.state`` (``state=``), ``breaker.opened`` / ``breaker.closed`` / ``breaker.half_open``
        - ``stream.connected`` / ``stream.disconnected`` / ``stream.reconnected`` / ``stream.stale`` (``stream=``),
          ``stream.message`` (``stream=``, ``count=``)
        - ``dead_letter.depth`` (``depth=``), ``queue.depth`` (``queue=``, ``depth=``),
          ``rate_limit.budget`` (``window=``, ``remaining=``, ``limit=``)
        - ``market_data.update`` (``symbol=``), ``market_data.quality_failed`` / ``market_data.quality_ok``
          (``symbol=``, ``reason=``)

        Every event is also given to the alert rules plugins contribute (``portico_alert_rules``) that
        read it: the jobs' ``job.*`` and ``jobs.*`` events, for one (see :mod:`portico.jobs._alert_rules`).
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
        elif event == "market_data.update":
            self.market_data_update(sys_id, str(data.get("symbol", "*")))
        elif event == "market_data.quality_failed":
            rule = self.config.alerts.market_data_quality
            if rule.enabled:
                symbol = str(data.get("symbol", "*"))
                self.alerts.fire(
                    "market_data_quality",
                    system=system,
                    subject=symbol,
                    severity=rule.severity,
                    summary=f"market data for {symbol} failed quality checks: {data.get('reason', 'unspecified')}",
                    details={k: v for k, v in data.items() if k != "symbol"},
                    correlation_id=cid,
                )
        elif event == "market_data.quality_ok":
            self.alerts.resolve("market_data_quality", system=system, subject=str(data.get("symbol", "*")))
        self._rules.dispatch(event, system, data, cid)

    # -- contributed alert rules -------------------------------------------------------------------

    def expect_file(
        self, job: str, *, due: datetime, sla: float | None = None, system: str | None = None
    ) -> None:
        """Declare that ``job``'s file is due at ``due``: the ``job.expected`` event, without logging it.

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

    # -- health ------------------------------------------------------------------------------------

    def register_health_check(self, system_id: str, check: HealthCheck) -> None:
        """Register the async check of a system (typically ``connector.check``); it runs every
        ``health_check_interval`` once :meth:`start` runs, and now with :meth:`run_health_check`."""
        self._checks[system_id] = check
        self._next_check.setdefault(system_id, self.clock.monotonic())
        if system_id not in self._health:
            self._health[system_id] = HealthReport(system=system_id)
        self.add_system(system_id)

    def has_health_check(self, system_id: str) -> bool:
        """Whether a health check is registered for the system."""
        return system_id in self._checks

    def health(self, system_id: str) -> HealthReport:
        """The latest health report of a system (``unknown`` before its first check)."""
        return self._health.get(system_id) or HealthReport(system=system_id)

    def health_reports(self) -> dict[str, HealthReport]:
        """The latest health report of every known system."""
        return {s: self.health(s) for s in self.systems()}

    def overall_status(self) -> str:
        """The whole runtime's status, the worst of its systems' and its active alerts'.

        ``down`` if a declared system is down or an emergency alert is active; else ``degraded`` if one
        is degraded or a critical alert is active; else ``unknown`` while a declared system has had no
        verdict yet (not checked is not healthy); else ``healthy``.
        """
        statuses = {self.health(s).status for s in self._declared}
        severities = {a.severity for a in self.alerts.active()}
        if "down" in statuses or "emergency" in severities:
            return "down"
        if "degraded" in statuses or "critical" in severities:
            return "degraded"
        if "unknown" in statuses:
            return "unknown"
        return "healthy"

    def _stale_streams(self, system_id: str) -> list[str]:
        limit = self.config.alerts.stream_stale.window or 60.0
        now = self.clock.monotonic()
        stale = []
        for name, info in self._system(system_id).streams.items():
            if info["state"] != "connected":
                continue
            last = info["last_message"] if info["last_message"] is not None else info["connected_at"]
            if last is not None and now - last > limit:
                stale.append(name)
        return stale

    async def run_health_check(self, system_id: str) -> HealthReport:
        """Run a system's health check now and return (and keep) the report."""
        from portico.context import correlation_scope

        check = self._checks.get(system_id)
        if check is None:
            raise KeyError(f"no health check registered for system {system_id!r}")
        now = self.clock.now()
        started = self.clock.monotonic()
        self._next_check[system_id] = started + self.config.health_check_interval
        with correlation_scope() as cid:
            self._run_probes()
            checks: dict[str, bool] = {}
            limited_until: datetime | None = None
            try:
                result = await asyncio.wait_for(check(), timeout=self.config.health_check_timeout)
            except TimeoutError:
                status, reason = "down", f"health check timed out after {self.config.health_check_timeout:g}s"
            except RateLimited as exc:
                # the budget is spent, the venue is not down: degraded until the budget allows a call
                limited_until = now + timedelta(seconds=exc.retry_after or self.config.health_check_interval)
                status, reason = "degraded", rate_limited_reason(limited_until)
            except Exception as exc:
                status, reason = "down", f"{type(exc).__name__}: {exc}"
            else:
                status, reason = classify(
                    result,
                    breaker=self._system(system_id).breaker,
                    stale_streams=self._stale_streams(system_id),
                )
                checks = dict(getattr(result, "checks", {}) or {})
                until = getattr(result, "rate_limited_until", None)
                limited_until = until if isinstance(until, datetime) else None
            if limited_until is not None:
                # asking again before T would be refused and, at most vendors, counted against the quota
                wait = (limited_until - self.clock.now()).total_seconds()
                self._next_check[system_id] = max(self._next_check[system_id], self.clock.monotonic() + wait)
            latency = round((self.clock.monotonic() - started) * 1000.0, 3)
            self.process_pending_calls()  # the check's own calls are logged before its verdict
            return self.report_health(
                system_id,
                status,
                reason,
                checks=checks,
                latency_ms=latency,
                at=now,
                correlation_id=cid,
                rate_limited_until=limited_until,
            )

    def report_health(
        self,
        system_id: str,
        status: str,
        reason: str,
        *,
        checks: Mapping[str, bool] | None = None,
        latency_ms: float | None = None,
        at: datetime | None = None,
        correlation_id: str | None = None,
        rate_limited_until: datetime | None = None,
    ) -> HealthReport:
        """Record a health verdict reached elsewhere (a failed connect, a stream watchdog)."""
        if status not in HEALTH_VALUES:
            raise ValueError(f"unknown health status {status!r}; use one of {sorted(HEALTH_VALUES)}")
        previous = self.health(system_id)
        now = at or self.clock.now()
        reason = self.redactor.redact_text(reason)
        ok = status in {"healthy", "degraded"}
        report = HealthReport(
            system=system_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            checked_at=now,
            last_success=now if ok else previous.last_success,
            last_failure=now if status == "down" else previous.last_failure,
            latency_ms=latency_ms,
            checks=dict(checks or {}),
            consecutive_failures=0 if ok else previous.consecutive_failures + 1,
            rate_limited_until=rate_limited_until,
        )
        self._health[system_id] = report
        self._declared.add(system_id)
        self._system(system_id)
        label = self._label(system_id)
        self.prometheus.health.labels(label).set(HEALTH_VALUES[report.status])
        if ok:
            self.prometheus.health_last_success.labels(label).set(now.timestamp())
        if report.status != previous.status:
            level = {"healthy": "info", "degraded": "warning", "unknown": "info"}.get(report.status, "error")
            self.emit(
                "health.changed",
                system=system_id,
                severity=level,
                status=report.status,
                previous=previous.status,
                reason=reason,
                correlation_id=correlation_id,
            )
        return report

    # -- probes ------------------------------------------------------------------------------------

    def add_probe(self, probe: Callable[[IntegrationMonitor], None]) -> None:
        """Add a function that refreshes gauges from live objects (breakers, rate limiters).

        Probes run before every health check, alert evaluation and snapshot; one that raises is logged
        and skipped.
        """
        self._probes.append(probe)

    def _run_probes(self) -> None:
        for probe in list(self._probes):
            try:
                probe(self)
            except Exception as exc:
                self._log.warning(
                    "monitor.probe_failed", error=self.redactor.redact_text(f"{type(exc).__name__}: {exc}")
                )

    async def run_due_health_checks(self) -> list[HealthReport]:
        """Start every check whose interval has passed and wait for every check in flight.

        Each check is its own task with its own timeout, so the verdicts (and alerts) of the others
        never wait for a slow one; this call returns once all of them have a verdict.
        """
        self._start_due_checks()
        running = [task for task, _ in self._running_checks.values()]
        if not running:
            return []
        done = await asyncio.gather(*running, return_exceptions=True)
        return [r for r in done if isinstance(r, HealthReport)]

    def _start_due_checks(self) -> list[asyncio.Task[HealthReport]]:
        """Start, each in its own task, the due checks that are not already running."""
        now = self.clock.monotonic()
        loop = asyncio.get_running_loop()
        started = []
        for system_id in list(self._checks):
            if system_id in self._running_checks or self._next_check.get(system_id, now) > now:
                continue
            task = loop.create_task(self._check_and_alert(system_id), name=f"portico-health-{system_id}")
            self._running_checks[system_id] = (task, now)
            task.add_done_callback(functools.partial(self._check_finished, system_id))
            started.append(task)
        return started

    async def _check_and_alert(self, system_id: str) -> HealthReport:
        report = await self.run_health_check(system_id)
        # evaluated as each verdict arrives, not once the slowest check of the round is done
        self.evaluate_alerts()
        return report

    def _check_finished(self, system_id: str, task: asyncio.Task[HealthReport]) -> None:
        entry = self._running_checks.get(system_id)
        if entry is not None and entry[0] is task:
            del self._running_checks[system_id]
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._log.error(
                "health.check_failed",
                system=system_id,
                error=self.redactor.redact_text(f"{type(exc).__name__}: {exc}"),
            )

    def _expire_overdue_checks(self) -> None:
        """Cancel the checks running longer than the timeout on the monitor's clock; they are down."""
        timeout = self.config.health_check_timeout
        now = self.clock.monotonic()
        for system_id, (task, started) in list(self._running_checks.items()):
            if now - started < timeout or task.done():
                continue
            del self._running_checks[system_id]
            task.cancel()
            self.report_health(system_id, "down", f"health check timed out after {timeout:g}s")
            self.evaluate_alerts()

    # -- alerts ------------------------------------------------------------------------------------

    def evaluate_alerts(self) -> list[Alert]:
        """Check the level rules against current state; fire new alerts, clear the ones whose cause is gone."""
        self.process_pending_calls()
        rules = self.config.alerts
        holding: set[str] = set()
        now = self.clock.monotonic()

        def hold(
            name: str, rule: RuleConfig, system: str | None, summary: str, subject: str = "", **details: Any
        ) -> None:
            if not rule.enabled:
                return
            alert = self.alerts.fire(
                name,
                system=system,
                subject=subject,
                severity=rule.severity,
                summary=summary,
                details=details,
                state_based=True,
            )
            holding.add(alert.key)

        for system in self.systems():
            stats = self._system(system)
            er = rules.error_rate
            calls, errors = stats.window.totals(now, er.window or 300.0)
            threshold = er.threshold if er.threshold is not None else 0.05
            if calls >= er.min_calls and errors / calls > threshold:
                hold(
                    "error_rate",
                    er,
                    system,
                    f"error rate {errors / calls:.0%} over {er.window or 300:g}s ({errors} of {calls} calls)",
                    calls=calls,
                    errors=errors,
                    errors_by_class=dict(stats.errors_by_class),
                )
            if stats.breaker == "open":
                hold("circuit_open", rules.circuit_open, system, "circuit breaker open")
            health = self._health.get(system)
            if health is not None and health.status == "down":
                hold("system_down", rules.system_down, system, f"system down: {health.reason}")
            elif health is not None and health.status == "degraded":
                hold("system_degraded", rules.system_degraded, system, f"system degraded: {health.reason}")
            for stream in self._stale_streams(system):
                hold(
                    "stream_stale",
                    rules.stream_stale,
                    system,
                    f"stream {stream} stale (no message for over {rules.stream_stale.window or 60:g}s)",
                    subject=stream,
                )
            dl = rules.dead_letter_depth
            if dl.threshold is not None and stats.dead_letter_depth > dl.threshold:
                hold(
                    "dead_letter_depth",
                    dl,
                    system,
                    f"dead-letter depth {stats.dead_letter_depth:g} above {dl.threshold:g}",
                    depth=stats.dead_letter_depth,
                )
        self._rules.evaluate(holding)
        stale_limit = rules.market_data_stale.window or 900.0
        for (system, symbol), last in self._market_data.items():
            if now - last > stale_limit:
                hold(
                    "market_data_stale",
                    rules.market_data_stale,
                    system,
                    f"market data for {symbol} stale ({now - last:.0f}s old, limit {stale_limit:g}s)",
                    subject=symbol,
                )
        self.alerts.reconcile((*_LEVEL_RULES, *self._rules.level_rules), holding)
        self.alerts.expire(rules.event_ttl)
        return self.alerts.active()

    def _evaluate_soon(self) -> None:
        # State changed outside a tick (breaker opened): evaluate now so the alert does not wait a tick.
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.evaluate_alerts()

    def _alerts_changed(self) -> None:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for alert in self.alerts.active():
            counts[alert.severity] += 1
        for severity, count in counts.items():
            self.prometheus.alerts_active.labels(severity).set(count)

    def _queue_notification(self, notification: AlertNotification) -> None:
        alert = notification.alert
        self._log.log(
            _LEVELS["warning" if notification.kind != "resolved" else "info"],
            f"alert.{notification.kind}",
            rule=alert.rule,
            system=alert.system,
            subject=alert.subject,
            severity=alert.severity,
            summary=alert.summary,
            correlation_id=alert.correlation_id,
        )
        if not self.config.alert_on_failure:
            return
        destinations = self._destinations()
        if not destinations:
            self._notifications.append(
                {
                    "at": self.clock.now().isoformat(),
                    "channel": None,
                    "kind": notification.kind,
                    "alert": alert.key,
                    "result": "dropped",
                    "error": "no alert channel is configured (monitoring.channels)",
                }
            )
            return
        self._outbox.append((notification, destinations, 0))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.flush_notifications())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush_notifications(self) -> int:
        """Send queued notifications to their channels; failed sends are kept for the next tick (5 tries).

        Returns:
            How many deliveries succeeded.
        """
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        delivered = 0
        async with self._flush_lock:
            retry: list[tuple[AlertNotification, list[str], int]] = []
            while self._outbox:
                notification, destinations, tries = self._outbox.popleft()
                failed: list[str] = []
                for name in destinations:
                    channel = self.channels.get(name)
                    if channel is None:
                        # not sent anywhere: say so where the deliveries are shown, never drop it silently
                        self._notifications.append(
                            {
                                "at": self.clock.now().isoformat(),
                                "channel": name,
                                "kind": notification.kind,
                                "alert": notification.alert.key,
                                "result": "dropped",
                                "error": f"no alert channel named {name!r} is configured",
                            }
                        )
                        continue
                    try:
                        await channel.send(notification)
                    except Exception as exc:
                        failed.append(name)
                        message = self.redactor.redact_text(f"{type(exc).__name__}: {exc}")
                        self.prometheus.alerts_sent.labels(self._label(name), "failed").inc()
                        self._log.warning(
                            "alert.delivery_failed",
                            channel=name,
                            alert=notification.alert.key,
                            error=message,
                            attempt=tries + 1,
                        )
                        self._notifications.append(
                            {
                                "at": self.clock.now().isoformat(),
                                "channel": name,
                                "kind": notification.kind,
                                "alert": notification.alert.key,
                                "result": "failed",
                                "error": message,
                            }
                        )
                    else:
                        delivered += 1
                        self.prometheus.alerts_sent.labels(self._label(name), "sent").inc()
                        self._notifications.append(
                            {
                                "at": self.clock.now().isoformat(),
                                "channel": name,
                                "kind": notification.kind,
                                "alert": notification.alert.key,
                                "result": "sent",
                            }
                        )
                if failed and tries + 1 < 5:
                    retry.append((notification, failed, tries + 1))
            self._outbox.extend(retry)
        return delivered

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


def _error_class(error: Any, outcome: str, status: int | None) -> str:
    if isinstance(error, BaseException):
        return type(error).__name__
    if isinstance(error, type) and issubclass(error, BaseException):
        return error.__name__
    if isinstance(error, str) and error and len(error) <= 64 and error.replace("_", "").isalnum():
        return error
    if status is not None and status >= 400:
        return f"http_{status}"
    return outcome or "error"


def _error_message(error: Any, status: int | None) -> str:
    if error is None:
        return f"HTTP {status}" if status is not None else "failed"
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)
