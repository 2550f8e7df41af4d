"""The retry and throttling policies a connector's spec declares and the HTTP layer applies.

Plain frozen models with no dependency on the SDK or the HTTP layer, so both can use them: the SDK
re-exports them (``portico.sdk.RetryPolicy``...), the API client and rate limiter read them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RateLimitPolicy", "RateWindow", "RetryPolicy"]


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateWindow(_Policy):
    """``limit`` request-cost units per ``period`` seconds."""

    limit: float = Field(gt=0)
    period: float = Field(gt=0)

    def __str__(self) -> str:
        names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
        unit = names.get(self.period, f"{self.period:g}s")
        return f"{self.limit:g}/{unit}"


class RetryPolicy(_Policy):
    """How failed calls are retried: exponential backoff with full jitter, capped."""

    attempts: int = Field(default=3, ge=1, le=20)
    """Total attempts, including the first."""
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)
    max_retry_after: float = Field(default=120.0, ge=0)
    """The longest ``Retry-After`` honoured before giving up with ``RateLimited``."""


class RateLimitPolicy(_Policy):
    """Throttling: several windows at once, a cost per endpoint, a bounded wait.

    ``endpoint_costs`` maps an endpoint name (as passed to the API client) or a templated path
    (``GET /v2/orders``) to its cost; other endpoints cost 1.
    """

    windows: tuple[RateWindow, ...] = ()
    endpoint_costs: dict[str, float] = Field(default_factory=dict)
    max_wait: float = Field(default=30.0, ge=0)
    retry: RetryPolicy = RetryPolicy()

    def cost_of(self, endpoint: str | None) -> float:
        """The cost of one call to ``endpoint``."""
        if endpoint is None:
            return 1.0
        return self.endpoint_costs.get(endpoint, 1.0)
