"""Health checks: the connector's own check, turned into healthy / degraded / down with a reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["HEALTH_VALUES", "HealthCheck", "HealthReport", "HealthStatus", "classify", "rate_limited_reason"]

HealthStatus = Literal["healthy", "degraded", "down", "unknown"]
HEALTH_VALUES: dict[str, int] = {"healthy": 2, "degraded": 1, "down": 0, "unknown": -1}

HealthCheck = Callable[[], Awaitable[Any]]
"""An async callable returning a :class:`portico.sdk.CheckResult` (or raising when the system is unreachable)."""


class HealthReport(BaseModel):
    """The latest health of one system.

    Attributes:
        system: the system id.
        status: healthy (everything passed), degraded (reachable, but a sub-check failed, the breaker is
            open or a stream is stale), down (the check failed or raised), unknown (never checked).
        reason: why, in one line (redacted).
        checked_at: when the check last ran.
        last_success / last_failure: when it last passed / last failed.
        latency_ms: how long the check took.
        checks: the named sub-checks and whether each passed.
        consecutive_failures: failed checks in a row.
        rate_limited_until: set while the system's rate budget or quota is spent (status degraded,
            reason "rate limited until T"); it is not checked again before then.
    """

    model_config = ConfigDict(frozen=True)

    system: str
    status: HealthStatus = "unknown"
    reason: str = "not checked yet"
    checked_at: datetime | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    latency_ms: float | None = None
    checks: dict[str, bool] = {}
    consecutive_failures: int = 0
    rate_limited_until: datetime | None = None


def classify(result: Any, *, breaker: str, stale_streams: list[str]) -> tuple[HealthStatus, str]:
    """The status and reason for a check result, given the breaker state and stale streams."""
    ok = bool(getattr(result, "ok", False))
    detail = str(getattr(result, "detail", "") or "")
    checks: dict[str, bool] = dict(getattr(result, "checks", {}) or {})
    until = getattr(result, "rate_limited_until", None)
    if isinstance(until, datetime):
        # a spent budget or quota says nothing about the venue being down: it answers again at T
        return "degraded", rate_limited_reason(until)
    if not ok:
        failed = [name for name, passed in checks.items() if not passed]
        reason = detail or (f"failed checks: {', '.join(failed)}" if failed else "health check failed")
        return "down", reason
    failed = [name for name, passed in checks.items() if not passed]
    if failed:
        return "degraded", f"failed checks: {', '.join(sorted(failed))}" + (f" ({detail})" if detail else "")
    if breaker == "open":
        return "degraded", "circuit breaker open"
    if stale_streams:
        return "degraded", f"stale streams: {', '.join(sorted(stale_streams))}"
    return "healthy", detail or "ok"


def rate_limited_reason(until: datetime) -> str:
    """The reason shown while a system's budget or quota is spent."""
    return f"rate limited until {until.isoformat()}"
