"""A probe that reads live runtime objects (breakers, rate limiters, connect failures) into the monitor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.monitor._monitor import IntegrationMonitor

__all__ = ["runtime_probe"]


def runtime_probe(runtime: Any) -> Callable[[IntegrationMonitor], None]:
    """A probe for :meth:`IntegrationMonitor.add_probe` over a runtime's ``systems``.

    Each ``SystemRuntime`` may offer ``breaker.state``, ``limiter.remaining()`` / ``limiter.windows`` and
    ``state`` / ``last_error``: the probe copies them into the breaker state, the rate-limit gauges, and a
    ``down`` health verdict for a system that failed to connect and has no health check yet. Anything
    missing is skipped, so it works with any runtime-like object. Systems disabled in the configuration
    are left out.
    """

    def probe(monitor: IntegrationMonitor) -> None:
        systems = getattr(runtime, "systems", None)
        if not isinstance(systems, Mapping):
            return
        for system_id, system in systems.items():
            sid = str(system_id)
            if getattr(getattr(system, "config", None), "enabled", True) is False and not monitor.has_health_check(sid):
                continue  # switched off in the config: nothing to check, so it cannot hold the status at unknown
            if sid not in monitor.systems():
                monitor.add_system(sid)
            breaker = getattr(system, "breaker", None)
            state = getattr(breaker, "state", None)
            if state is not None:
                monitor.set_breaker_state(sid, str(getattr(state, "value", state)))
            limiter = getattr(system, "limiter", None)
            remaining = getattr(limiter, "remaining", None)
            if callable(remaining):
                values = remaining()
                if isinstance(values, Mapping):
                    limits = {
                        str(w): getattr(w, "limit", None) for w in getattr(limiter, "windows", ()) or ()
                    }
                    for window, left in values.items():
                        monitor.gauge("rate_limit_remaining", float(left), system=sid, window=str(window))
                        limit = limits.get(str(window))
                        if limit is not None:
                            monitor.gauge("rate_limit_limit", float(limit), system=sid, window=str(window))
            failed = getattr(system, "state", None) == "error" and not monitor.has_health_check(sid)
            if failed and monitor.health(sid).status != "down":
                monitor.report_health(
                    sid, "down", f"connect failed: {getattr(system, 'last_error', None) or 'error'}"
                )

    return probe
