"""Retry decisions: which failures are retried, how long to back off, and ``Retry-After``."""

from __future__ import annotations

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

from portico.policy import RetryPolicy

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "UNKNOWN_OUTCOME_STATUSES",
    "backoff_delay",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods that may be repeated safely (RFC 9110 section 9.2.2)."""

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that say "try again later". 400/401/403/404/422 and other 4xx never are."""

UNKNOWN_OUTCOME_STATUSES = frozenset({502, 504})
"""Gateway answers after which the venue behind the gateway may have acted on the request."""


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential with full jitter.

    The ceiling doubles from ``base_delay`` each attempt up to ``max_delay``; the delay is drawn uniformly
    from ``[0, ceiling]`` so that clients that failed together do not retry together.
    """
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** (attempt - 1)))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; ``None`` if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
