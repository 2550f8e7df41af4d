"""The trading calendar the quality checks measure gaps and staleness against.

:class:`TradingCalendar` knows the NYSE's regular sessions (09:30-16:00 New York) and full-day holidays
(New Year's Day, Martin Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day, Juneteenth
from 2022, Independence Day, Labor Day, Thanksgiving, Christmas; Saturday holidays observed on the Friday
before, Sunday ones on the Monday after). ``weekdays`` is the plain Monday-Friday calendar (FX, or data
sources without a holiday calendar).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["TradingCalendar", "nyse_holidays"]

NEW_YORK = ZoneInfo("America/New_York")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher)
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def nyse_holidays(year: int) -> frozenset[date]:
    """The NYSE's full-day holidays of ``year``."""
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    # a Saturday New Year's Day is not observed on the Friday before (NYSE rule)
    if new_year.weekday() != 5:
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    return frozenset(days)


class TradingCalendar:
    """Trading days and regular sessions.

    Args:
        name: ``nyse`` (weekdays without NYSE holidays) or ``weekdays``.
    """

    def __init__(self, name: str = "nyse") -> None:
        if name not in ("nyse", "weekdays"):
            raise ValueError(f"unknown calendar {name!r}: use 'nyse' or 'weekdays'")
        self.name = name

    def is_trading_day(self, day: date) -> bool:
        """Whether ``day`` has a session."""
        if day.weekday() >= 5:
            return False
        return self.name == "weekdays" or day not in nyse_holidays(day.year)

    def session(self, day: date) -> tuple[datetime, datetime]:
        """The regular session of ``day`` (09:30-16:00 New York) in UTC."""
        return (
            datetime.combine(day, time(9, 30), NEW_YORK).astimezone(UTC),
            datetime.combine(day, time(16, 0), NEW_YORK).astimezone(UTC),
        )

    def trading_days(self, start: date, end: date) -> list[date]:
        """Every trading day in ``[start, end]`` (computed once per calendar and range: the quality
        checks ask for the same ranges on every series)."""
        return list(_trading_days(self.name, start, end))

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before ``day``."""
        day -= timedelta(days=1)
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def last_session_day(self, now: datetime) -> date:
        """The most recent trading day whose session has opened by ``now``."""
        day = now.astimezone(NEW_YORK).date()
        if self.is_trading_day(day) and now >= self.session(day)[0]:
            return day
        return self.previous_trading_day(day)

    def in_session(self, now: datetime) -> bool:
        """Whether a regular session is open at ``now``."""
        day = now.astimezone(NEW_YORK).date()
        if not self.is_trading_day(day):
            return False
        open_, close = self.session(day)
        return open_ <= now < close


@lru_cache(maxsize=1024)
def _trading_days(name: str, start: date, end: date) -> tuple[date, ...]:
    calendar = TradingCalendar(name)
    out: list[date] = []
    day = start
    while day <= end:
        if calendar.is_trading_day(day):
            out.append(day)
        day += timedelta(days=1)
    return tuple(out)
