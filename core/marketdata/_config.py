"""The ``market_data`` configuration section.

Example (YAML)::

    market_data:
      fallback:                       # system id -> the systems that serve when it cannot, in order
        alpha_vantage: [alpaca_paper]
      fallback_on: [error, throttled, stale]
      cache:
        enabled: true
        ttl: {bars: 60, latest_quote: 5, fundamentals: 86400}
        historical_ttl: 86400         # bars whose window ended in the past
      quality:
        calendar: nyse                # or weekdays
        outlier_threshold: {intraday: 0.1, day: 0.25, week: 0.4, month: 0.6}
        stale_sessions: 1             # daily series older than this many sessions are stale
        stale_intraday_seconds: 900
        stale_quote_seconds: 900
      fx_feed:                        # the scheduled FX rate feed (see FxFeedConfig)
        primary: bloomberg
        fallback: refinitiv
        pairs: [EUR/USD, USD/JPY]
        interval: 900
      subscriptions:
        queue_size: 10000
        overflow: drop_oldest         # or block
        poll_interval: null           # seconds; null derives it from the provider's throttle
        poll_budget_share: 0.8        # share of the throttle polling may use
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portico.marketdata._fx_feed import FxFeedConfig

__all__ = ["CacheConfig", "MarketDataConfig", "QualityConfig", "SubscriptionConfig"]

FallbackReason = Literal["error", "throttled", "stale", "quality", "unsupported"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CacheConfig(_Strict):
    """``market_data.cache``: how long answers are reused before the provider is asked again."""

    enabled: bool = True
    ttl: dict[str, float] = Field(default_factory=dict)
    """Seconds per data type (``bars``, ``latest_quote``...), over the defaults."""
    historical_ttl: float = Field(default=86400.0, ge=0)
    """Seconds for bars whose requested window ended in the past (they no longer change)."""
    memory_entries: int = Field(default=2048, ge=0)
    """Entries also kept in memory in front of the store."""

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: dict[str, float]) -> dict[str, float]:
        from portico.marketdata._requests import DATA_TYPES

        for name, seconds in value.items():
            if name not in DATA_TYPES:
                raise ValueError(f"{name!r} is not a market data type ({sorted(DATA_TYPES)})")
            if seconds < 0:
                raise ValueError(f"ttl of {name!r} must be zero or more seconds, got {seconds}")
        return value

    def ttl_for(self, data_type: str) -> float:
        """The time to live of ``data_type`` answers."""
        return self.ttl.get(data_type, _DEFAULT_TTL.get(data_type, 60.0))


_DEFAULT_TTL = {
    "bars": 60.0,
    "fx_series": 300.0,
    "latest_quote": 5.0,
    "latest_trade": 5.0,
    "snapshot": 5.0,
    "quotes": 60.0,
    "trades": 60.0,
    "fx_rate": 30.0,
    "fundamentals": 86400.0,
    "search": 86400.0,
    "corporate_actions": 86400.0,
}


class QualityConfig(_Strict):
    """``market_data.quality``: thresholds of the checks run on every series."""

    enabled: bool = True
    calendar: Literal["nyse", "weekdays"] = "nyse"
    outlier_threshold: dict[str, float] = Field(
        default_factory=lambda: {"intraday": 0.10, "day": 0.25, "week": 0.40, "month": 0.60}
    )
    """Largest plausible relative close-to-close move per bar size before a bar is called an outlier."""
    stale_sessions: int = Field(default=1, ge=0)
    """A daily series whose newest bar is more than this many sessions old is stale."""
    stale_intraday_seconds: float = Field(default=900.0, gt=0)
    """An intraday series whose newest bar is older than this (during a session) is stale."""
    stale_quote_seconds: float = Field(default=900.0, gt=0)
    """A quote older than this during a session is stale."""


class SubscriptionConfig(_Strict):
    """``market_data.subscriptions``: delivery to callbacks, and polling for providers that do not stream."""

    queue_size: int = Field(default=10_000, ge=1)
    overflow: Literal["drop_oldest", "block"] = "drop_oldest"
    poll_interval: float | None = Field(default=None, gt=0)
    """Seconds between polls; ``None`` derives it from the provider's throttle."""
    min_poll_interval: float = Field(default=1.0, gt=0)
    poll_budget_share: float = Field(default=0.8, gt=0, le=1)
    """The share of the provider's throttle that polling subscriptions may use together."""


_DEFAULT_FALLBACK_ON: tuple[FallbackReason, ...] = ("error", "throttled", "stale", "unsupported")


class MarketDataConfig(_Strict):
    """The ``market_data`` section: fallback chains, cache, quality checks and subscriptions."""

    fallback: dict[str, list[str]] = Field(default_factory=dict)
    """System id -> the systems that serve, in order, when it fails, is throttled past its budget or is stale."""
    fallback_on: list[FallbackReason] = Field(default_factory=lambda: list(_DEFAULT_FALLBACK_ON))
    cache: CacheConfig = Field(default_factory=CacheConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    subscriptions: SubscriptionConfig = Field(default_factory=SubscriptionConfig)
    max_concurrency: int = Field(default=16, ge=1)
    """Requests in flight at once per provider (single-symbol capabilities are fanned out up to this)."""
    fx_feed: FxFeedConfig | None = None
    """The scheduled FX rate feed (primary, per-pair fallback, pairs, interval); off when absent."""

    @field_validator("fallback")
    @classmethod
    def _no_self_fallback(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for system, chain in value.items():
            if system in chain:
                raise ValueError(f"system {system!r} lists itself as its own fallback")
            if len(set(chain)) != len(chain):
                raise ValueError(f"fallback chain of {system!r} repeats a system: {chain}")
        return value
