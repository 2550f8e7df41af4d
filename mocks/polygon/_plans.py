"""The Polygon (Massive) stocks plans the mock enforces: calls per minute and what each plan may read.

The free plan ("Basic") allows 5 calls a minute; paid plans have no call limit. Plans also differ in
what they are entitled to: a call outside the key's plan is answered 403 ``NOT_AUTHORIZED``. The
entitlement table follows the vendor's pricing page as recalled (free: aggregates and reference data;
Starter adds snapshots and the stream; Developer adds trades; Advanced adds quotes) and is configurable
through ``create_app(plans=...)``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["DEFAULT_PLANS", "FEATURES", "Plan", "PlanBook"]

FEATURES = ("aggregates", "reference", "snapshots", "trades", "quotes", "stream")
"""What an endpoint needs: every route names one of these."""


@dataclass(frozen=True)
class Plan:
    """A plan's call limit (``None``: unlimited), the features it is entitled to, and how fresh its data is:
    ``delay_minutes`` behind the clock (answered with ``status: "DELAYED"``), or ``end_of_day`` only (today's
    aggregates are refused until the session has closed)."""

    name: str
    per_minute: int | None
    features: frozenset[str]
    delay_minutes: int = 0
    end_of_day: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"plan {self.name!r} names unknown features {sorted(unknown)}; use {FEATURES}")


_BASIC = frozenset({"aggregates", "reference"})
DEFAULT_PLANS: dict[str, Plan] = {
    "free": Plan("free", 5, _BASIC, end_of_day=True),
    "starter": Plan("starter", None, _BASIC | {"snapshots", "stream"}, delay_minutes=15),
    "developer": Plan("developer", None, _BASIC | {"snapshots", "stream", "trades"}, delay_minutes=15),
    "advanced": Plan("advanced", None, frozenset(FEATURES)),
}
"""The stocks plans: free (5 calls/minute, end of day), Starter and Developer (15 minutes delayed) and
Advanced (real time); the paid plans have no call limit."""


@dataclass
class _Usage:
    plan: Plan
    calls: deque[datetime] = field(default_factory=deque)


class PlanBook:
    """Each API key's plan and its calls in the last minute (on the mock's clock).

    Args:
        plans: plan definitions by name.
        key_plans: the plan of known keys; other keys are on ``default_plan``.
        default_plan: the plan of keys not listed.
        known_keys_only: refuse keys not in ``key_plans`` (401 ``Unknown API Key``).
    """

    def __init__(
        self,
        plans: dict[str, Plan] | None = None,
        key_plans: dict[str, str] | None = None,
        default_plan: str = "advanced",
        *,
        known_keys_only: bool = False,
    ) -> None:
        self.plans = dict(plans or DEFAULT_PLANS)
        self.key_plans = dict(key_plans or {})
        for key, name in {**self.key_plans, "*": default_plan}.items():
            if name not in self.plans:
                raise ValueError(f"plan {name!r} of key {key!r} is not one of {sorted(self.plans)}")
        self.default_plan = default_plan
        self.known_keys_only = known_keys_only
        self._usage: dict[str, _Usage] = {}

    def knows(self, key: str) -> bool:
        """Whether ``key`` is accepted at all."""
        return not self.known_keys_only or key in self.key_plans

    def plan_of(self, key: str) -> Plan:
        """The plan of ``key``."""
        return self.plans[self.key_plans.get(key, self.default_plan)]

    def set_plan(self, key: str, plan: str) -> None:
        """Move ``key`` to ``plan`` (the admin endpoint uses it); its counters start again."""
        if plan not in self.plans:
            raise ValueError(f"unknown plan {plan!r}; use one of {sorted(self.plans)}")
        self.key_plans[key] = plan
        self._usage.pop(key, None)

    def take(self, key: str, now: datetime) -> bool:
        """Count one call by ``key`` at ``now``; False when the plan's per-minute limit refuses it."""
        usage = self._usage.get(key)
        if usage is None:
            usage = self._usage[key] = _Usage(self.plan_of(key))
        horizon = now - timedelta(minutes=1)
        while usage.calls and usage.calls[0] <= horizon:
            usage.calls.popleft()
        limit = usage.plan.per_minute
        if limit is not None and len(usage.calls) >= limit:
            return False
        usage.calls.append(now)
        return True

    def usage(self, key: str) -> dict[str, object]:
        """The plan and counters of ``key`` (for the admin endpoint and tests)."""
        usage = self._usage.get(key)
        plan = self.plan_of(key)
        return {
            "plan": plan.name,
            "per_minute": plan.per_minute,
            "features": sorted(plan.features),
            "calls_last_minute": len(usage.calls) if usage else 0,
        }
