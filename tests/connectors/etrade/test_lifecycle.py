"""E*TRADE's token lifecycle as pure time logic: midnight US Eastern with DST, idle renew, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico.connectors.etrade.lifecycle import TokenLifecycle, TokenState, next_midnight_eastern


@pytest.mark.parametrize(
    ("when", "midnight"),
    [
        # winter (EST, UTC-5): midnight is 05:00 UTC
        (datetime(2026, 1, 5, 15, 0, tzinfo=UTC), datetime(2026, 1, 6, 5, 0, tzinfo=UTC)),
        # summer (EDT, UTC-4): midnight is 04:00 UTC
        (datetime(2026, 7, 1, 15, 0, tzinfo=UTC), datetime(2026, 7, 2, 4, 0, tzinfo=UTC)),
        # the evening before DST starts (Sunday 2026-03-08 02:00 EST): that midnight is still EST
        (datetime(2026, 3, 8, 3, 0, tzinfo=UTC), datetime(2026, 3, 8, 5, 0, tzinfo=UTC)),
        # DST day itself: the next midnight is EDT
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),
        # the day DST ends (Sunday 2026-11-01 02:00 EDT): the next midnight is EST
        (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),
        # one second before midnight in New York: one second to go
        (datetime(2026, 1, 6, 4, 59, 59, tzinfo=UTC), datetime(2026, 1, 6, 5, 0, tzinfo=UTC)),
        # exactly midnight: the next one, a day later
        (datetime(2026, 1, 6, 5, 0, tzinfo=UTC), datetime(2026, 1, 7, 5, 0, tzinfo=UTC)),
    ],
)
def test_next_midnight_eastern(when: datetime, midnight: datetime) -> None:
    assert next_midnight_eastern(when) == midnight


def test_next_midnight_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_midnight_eastern(datetime(2026, 1, 5, 12, 0))


T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # 10:00 New York


def test_states_through_a_day() -> None:
    life = TokenLifecycle(renew_margin=timedelta(minutes=10))
    assert life.state(T0) is TokenState.UNKNOWN
    life.start(T0)
    assert life.expires_at == datetime(2026, 1, 6, 5, 0, tzinfo=UTC)
    assert life.state(T0 + timedelta(hours=1, minutes=49, seconds=59)) is TokenState.ACTIVE
    assert life.state(T0 + timedelta(hours=1, minutes=50)) is TokenState.RENEW_DUE
    assert (
        life.state(T0 + timedelta(hours=5)) is TokenState.RENEW_DUE
    )  # idle past the limit: renew still helps
    life.renewed(T0 + timedelta(hours=5))
    assert life.renewals == 1
    assert life.state(T0 + timedelta(hours=5, minutes=1)) is TokenState.ACTIVE
    # renewing does not move midnight
    life.renewed(datetime(2026, 1, 6, 4, 0, tzinfo=UTC))
    assert life.state(datetime(2026, 1, 6, 4, 59, tzinfo=UTC)) is TokenState.ACTIVE
    assert life.state(datetime(2026, 1, 6, 5, 0, tzinfo=UTC)) is TokenState.EXPIRED


def test_touch_never_moves_back() -> None:
    life = TokenLifecycle()
    life.start(T0)
    life.touch(T0 + timedelta(hours=1))
    life.touch(T0 + timedelta(minutes=5))
    assert life.last_activity == T0 + timedelta(hours=1)


def test_venue_expiry_wins_over_the_clock() -> None:
    life = TokenLifecycle()
    life.start(T0)
    life.mark_expired()
    assert life.state(T0 + timedelta(minutes=1)) is TokenState.EXPIRED
    life.start(T0 + timedelta(minutes=2))  # a new login
    assert life.state(T0 + timedelta(minutes=3)) is TokenState.ACTIVE


def test_alert_is_due_once_within_the_span_before_midnight() -> None:
    life = TokenLifecycle(alert_before=timedelta(minutes=30))
    life.start(T0)
    assert not life.alert_due(datetime(2026, 1, 6, 4, 29, 59, tzinfo=UTC))
    assert life.alert_due(datetime(2026, 1, 6, 4, 30, tzinfo=UTC))
    assert not life.alert_due(datetime(2026, 1, 6, 4, 45, tzinfo=UTC))
    # past midnight no alert: the token is expired, not expiring
    fresh = TokenLifecycle(alert_before=timedelta(minutes=30))
    fresh.start(T0)
    assert not fresh.alert_due(datetime(2026, 1, 6, 5, 0, tzinfo=UTC))


def test_a_renew_margin_as_long_as_the_idle_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="renew_margin"):
        TokenLifecycle(renew_margin=timedelta(hours=2))
