"""Health checks: registering them, running each in its own task with a timeout, and the verdicts.

:class:`HealthChecking` is that part of :class:`~portico.monitor.IntegrationMonitor`, with the probes
that refresh gauges from live objects before every check.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from portico.context import correlation_scope
from portico.errors import RateLimited
from portico.monitor._health import HEALTH_VALUES, HealthCheck, HealthReport, classify, rate_limited_reason
from portico.monitor._parts import MonitorParts

if TYPE_CHECKING:
    from portico.monitor._monitor import IntegrationMonitor

__all__ = ["HealthChecking"]


class HealthChecking(MonitorParts):
    """The monitor's health checks and probes (a part of :class:`~portico.monitor.IntegrationMonitor`)."""

    # -- health ------------------------------------------------------------------------------------

    def register_health_check(self, system_id: str, check: HealthCheck) -> None:
        """Register the async check of a system (typically ``connector.check``); it runs every
        ``health_check_interval`` once :meth:`start` runs, and now with :meth:`run_health_check`."""
        self._checks[system_id] = check
        self._next_check.setdefault(system_id, self.clock.monotonic())
        if system_id not in self._health:
            self._health[system_id] = HealthReport(system=system_id)
        self.add_system(system_id)

    async def unregister_health_check(self, system_id: str) -> None:
        """Stop checking a system (it is being disconnected), cancelling and awaiting a check in flight.

        A check that ran on after its connector closed would reopen the connector's clients, which
        nothing closes afterwards; the last report stays until the system is checked again.
        """
        self._checks.pop(system_id, None)
        self._next_check.pop(system_id, None)
        entry = self._running_checks.pop(system_id, None)
        if entry is not None and not entry[0].done():
            entry[0].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await entry[0]

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
                probe(cast("IntegrationMonitor", self))  # a part of the monitor: the probe sees all of it
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
