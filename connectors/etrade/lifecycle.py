"""E*TRADE's access-token lifecycle, as pure time logic on an injected clock.

An E*TRADE access token goes inactive after two hours without a request (``/oauth/renew_access_token``
reactivates it) and expires for good at the next midnight US Eastern, daylight saving included
(only a new login helps then). :class:`TokenLifecycle` says, for a given moment, which of those
applies, so the auth scheme can renew just before the idle limit, warn before midnight, and refuse
to send at all once the token is dead instead of retrying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = ["EASTERN", "IDLE_LIMIT", "TokenLifecycle", "TokenState", "next_midnight_eastern"]

EASTERN = ZoneInfo("America/New_York")
IDLE_LIMIT = timedelta(hours=2)
"""E*TRADE inactivates a token after two hours without a request."""


def next_midnight_eastern(when: datetime) -> datetime:
    """The first midnight in New York strictly after ``when``, as an aware datetime (EST or EDT).

    Raises:
        ValueError: ``when`` is naive (its zone would be a guess).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("next_midnight_eastern needs a timezone-aware time")
    local = when.astimezone(EASTERN)
    day = local.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=EASTERN)


class TokenState(StrEnum):
    """What the token can do right now."""

    UNKNOWN = "unknown"
    """No token obtained or loaded yet."""
    ACTIVE = "active"
    RENEW_DUE = "renew_due"
    """Close enough to the idle limit (or past it) that the next call should renew first."""
    EXPIRED = "expired"
    """Past midnight US Eastern (or the venue said so): a new login is needed."""


@dataclass
class TokenLifecycle:
    """Idle and midnight-expiry bookkeeping for one access token.

    Args:
        idle_limit: how long E*TRADE lets a token sit unused (two hours).
        renew_margin: renew this long before the idle limit is reached.
        alert_before: warn this long before the midnight expiry.
    """

    idle_limit: timedelta = IDLE_LIMIT
    renew_margin: timedelta = timedelta(minutes=10)
    alert_before: timedelta = timedelta(minutes=30)
    issued_at: datetime | None = None
    last_activity: datetime | None = None
    expires_at: datetime | None = None
    renewals: int = 0
    _expired_by_venue: bool = field(default=False, repr=False)
    _alerted_for: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.renew_margin >= self.idle_limit:
            raise ValueError("renew_margin must be shorter than the idle limit")

    def start(self, issued_at: datetime, now: datetime | None = None) -> None:
        """A token obtained (or loaded) that was issued at ``issued_at``."""
        self.issued_at = issued_at
        self.last_activity = max(issued_at, now) if now is not None else issued_at
        self.expires_at = next_midnight_eastern(issued_at)
        self._expired_by_venue = False
        self._alerted_for = None

    def state(self, now: datetime) -> TokenState:
        """The token's state at ``now``."""
        if self.expires_at is None or self.last_activity is None:
            return TokenState.UNKNOWN
        if self._expired_by_venue or now >= self.expires_at:
            return TokenState.EXPIRED
        if now - self.last_activity >= self.idle_limit - self.renew_margin:
            return TokenState.RENEW_DUE
        return TokenState.ACTIVE

    def touch(self, now: datetime) -> None:
        """A request went through with the token (it resets the idle timer)."""
        if self.last_activity is None or now > self.last_activity:
            self.last_activity = now

    def renewed(self, now: datetime) -> None:
        """The venue renewed the token (it is active again; midnight does not move)."""
        self.renewals += 1
        self.touch(now)

    def mark_expired(self) -> None:
        """The venue said the token expired (``oauth_problem=token_expired``)."""
        self._expired_by_venue = True

    def alert_due(self, now: datetime) -> bool:
        """True once per token when ``now`` enters the ``alert_before`` span ahead of midnight."""
        if self.expires_at is None or self._alerted_for == self.expires_at:
            return False
        if self.expires_at - self.alert_before <= now < self.expires_at:
            self._alerted_for = self.expires_at
            return True
        return False
