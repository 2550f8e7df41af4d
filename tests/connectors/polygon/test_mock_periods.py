"""The mock's weekly and monthly aggregates, built from its kept daily bars, are the generator's own (the
shared seeded data), for whole windows and for windows cut mid-session by the clock or by ``to``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico.mocks._kit import MockClock
from portico.mocks.polygon import create_app

NOW = datetime(2026, 1, 5, 15, tzinfo=UTC)  # Monday 10:00 New York, the session running


@pytest.mark.parametrize("adjusted", [False, True])
@pytest.mark.parametrize(
    ("symbol", "timeframe", "start", "end", "count"),
    [
        ("SPY", "1month", datetime(2025, 1, 1, 5, tzinfo=UTC), datetime(2025, 12, 31, 23, tzinfo=UTC), 12),
        ("AAPL", "1week", datetime(2025, 11, 3, tzinfo=UTC), datetime(2026, 1, 5, 23, tzinfo=UTC), 10),
        ("AAPL", "1month", datetime(2025, 10, 15, tzinfo=UTC), datetime(2026, 1, 2, 18, 30, tzinfo=UTC), 4),
        ("MSFT", "1week", datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 17, 17, tzinfo=UTC), 3),
    ],
)
def test_period_bars_are_the_generators(
    symbol: str, timeframe: str, start: datetime, end: datetime, count: int, adjusted: bool
) -> None:
    mock = create_app(seed=5, clock=MockClock(NOW)).state.mock
    expected = mock.generator.bars(symbol, timeframe, start, end, adjusted=adjusted, until=NOW)
    assert len(expected) == count
    assert mock.period_bars(symbol, timeframe, start, end, adjusted=adjusted, until=NOW) == expected
    # again, from the kept days
    assert mock.period_bars(symbol, timeframe, start, end, adjusted=adjusted, until=NOW) == expected
