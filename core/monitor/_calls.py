"""Call records: the observer the HTTP clients report every attempt to, and what the monitor makes of one.

A record is queued and processed in batches (logged, counted, timed, its error classified), off the
path of the call that produced it; :class:`CallRecording` is that half of
:class:`~portico.monitor.IntegrationMonitor`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from portico.context import current_correlation_id
from portico.monitor._logging import fast_json_lines
from portico.monitor._metrics import _EndpointStats
from portico.monitor._parts import MonitorParts

if TYPE_CHECKING:
    pass

__all__ = ["CallObserver", "CallRecording"]

_OK_OUTCOMES = frozenset({"ok", "success", "succeeded", "2xx"})
_HEX32 = re.compile(r"[0-9a-f]{32}")
# Call records are processed in batches, at most this long after the call (or sooner, once this many
# wait): one warm pass over many records costs a fraction of one cold pass per call, and everything
# that reads the monitor processes the queue first, so nothing is read stale.
_CALL_FLUSH_SECONDS = 0.05
_CALL_BATCH = 256


class CallObserver:
    """The :class:`portico.http.ApiClient` observer: one :class:`~portico.http.CallRecord` per attempt.

    Inside an event loop the record is queued and processed (logged, measured) in a batch at most 50 ms
    later, off the path of the call that produced it; everything that reads the monitor (``metrics``,
    ``snapshot``, ``exposition``, alert evaluation, ``tick``, ``drain``) processes the queue first, so
    nothing is ever read stale. Outside a loop the record is processed at once.
    Callable (``observer(record)``) and also offers ``on_call(record)``.
    """

    __slots__ = ("_monitor",)

    def __init__(self, monitor: CallRecording) -> None:
        self._monitor = monitor

    def __call__(self, record: Any) -> None:
        self._monitor._enqueue_call(record)

    def on_call(self, record: Any) -> None:
        """Same as calling the observer."""
        self._monitor._enqueue_call(record)


class CallRecording(MonitorParts):
    """The monitor's handling of call records (a part of :class:`~portico.monitor.IntegrationMonitor`)."""

    _drain_scheduled: bool

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
                self._log.warning(
                    "monitor.record_failed", error=self.redactor.redact_text(f"{type(exc).__name__}: {exc}")
                )
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
        outcome = str(
            getattr(record, "outcome", None) or ("ok" if status is not None and status < 400 else "error")
        )
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
                "message": self.redactor.redact_text(
                    str(error) if error is not None else _error_message(None, status)
                ),
                "correlation_id": correlation_id,
            }
            if error_class == "CircuitOpen" and previous is not None:
                # calls the open breaker refuses must not hide the failure that opened it
                cause = previous.get("cause") or (
                    previous if previous["error_class"] != "CircuitOpen" else None
                )
                if cause is not None:
                    stats.last_error["cause"] = {
                        k: cause[k] for k in ("at", "endpoint", "error_class", "message")
                    }

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
                fast.write(
                    logging.WARNING, "warning", "portico.calls", "external_call", fields, redacted=True
                )
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
