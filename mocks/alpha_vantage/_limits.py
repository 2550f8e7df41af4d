"""Per-API-key quotas of the Alpha Vantage mock: free tier (per minute and per day) and premium tiers.

Alpha Vantage enforces its limits per API key and answers a throttled call with HTTP 200 and a message in
the body: ``Note`` for the per-minute frequency, ``Information`` for the daily quota.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_TIERS", "KeyQuota", "QuotaBook", "Tier"]

_EASTERN = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Tier:
    """A plan's limits; ``None`` means no limit of that kind. ``premium`` unlocks premium functions."""

    name: str
    per_minute: int | None
    per_day: int | None
    premium: bool = False


DEFAULT_TIERS: dict[str, Tier] = {
    "free": Tier("free", per_minute=5, per_day=25),
    "premium_75": Tier("premium_75", per_minute=75, per_day=None, premium=True),
    "premium_150": Tier("premium_150", per_minute=150, per_day=None, premium=True),
    "premium_300": Tier("premium_300", per_minute=300, per_day=None, premium=True),
    "premium_600": Tier("premium_600", per_minute=600, per_day=None, premium=True),
    "premium_1200": Tier("premium_1200", per_minute=1200, per_day=None, premium=True),
}
"""Alpha Vantage's plans: the free key (5/minute, 25/day) and premium keys by calls per minute."""


@dataclass
class KeyQuota:
    """The calls one key made: timestamps inside the last minute, and the count of the current day."""

    tier: Tier
    minute: deque[datetime] = field(default_factory=deque)
    day: str = ""
    day_count: int = 0


class QuotaBook:
    """Counts calls per API key against its tier.

    Args:
        tiers: tier definitions by name.
        key_tiers: the tier name of known keys; other keys get ``default_tier``.
        default_tier: the tier of keys not listed.
    """

    def __init__(
        self,
        tiers: dict[str, Tier] | None = None,
        key_tiers: dict[str, str] | None = None,
        default_tier: str = "free",
    ) -> None:
        self.tiers = dict(tiers or DEFAULT_TIERS)
        self.key_tiers = dict(key_tiers or {})
        for key, name in {**self.key_tiers, "*": default_tier}.items():
            if name not in self.tiers:
                raise ValueError(f"tier {name!r} of key {key!r} is not one of {sorted(self.tiers)}")
        self.default_tier = default_tier
        self._keys: dict[str, KeyQuota] = {}

    def tier_of(self, key: str) -> Tier:
        """The tier of ``key``."""
        return self.tiers[self.key_tiers.get(key, self.default_tier)]

    def set_tier(self, key: str, tier: str) -> None:
        """Move ``key`` to ``tier`` (the admin endpoint uses it)."""
        if tier not in self.tiers:
            raise ValueError(f"unknown tier {tier!r}")
        self.key_tiers[key] = tier
        self._keys.pop(key, None)

    def take(self, key: str, now: datetime) -> Literal["ok", "minute", "day"]:
        """Count one call by ``key`` at ``now``; ``minute`` or ``day`` when that limit refuses it."""
        quota = self._keys.get(key)
        if quota is None:
            quota = self._keys[key] = KeyQuota(self.tier_of(key))
        tier = quota.tier
        # the daily quota resets at midnight US/Eastern
        today = now.astimezone(_EASTERN).date().isoformat()
        if quota.day != today:
            quota.day, quota.day_count = today, 0
        if tier.per_day is not None and quota.day_count >= tier.per_day:
            return "day"
        horizon = now - timedelta(minutes=1)
        while quota.minute and quota.minute[0] <= horizon:
            quota.minute.popleft()
        if tier.per_minute is not None and len(quota.minute) >= tier.per_minute:
            return "minute"
        quota.minute.append(now)
        quota.day_count += 1
        return "ok"

    def usage(self, key: str) -> dict[str, object]:
        """The counters of ``key`` (for the admin endpoint and tests)."""
        quota = self._keys.get(key)
        tier = self.tier_of(key)
        return {
            "tier": tier.name,
            "per_minute": tier.per_minute,
            "per_day": tier.per_day,
            "calls_today": quota.day_count if quota else 0,
            "calls_last_minute": len(quota.minute) if quota else 0,
        }
