"""The quality checks on hand-made series: each check fires on its defect and stays quiet otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from portico.marketdata import QualityConfig, TradingCalendar, check_bars, check_quote, nyse_holidays
from portico.models import Bar, BarInterval, Quote

NY = ZoneInfo("America/New_York")
CFG = QualityConfig()


def daily(
    day: date, o: str = "100", h: str = "101", low: str = "99", c: str = "100.5", split: str | None = None
) -> Bar:
    return Bar(
        symbol="XYZ",
        timestamp=datetime(day.year, day.month, day.day, tzinfo=NY),
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(low),
        close=Decimal(c),
        volume=Decimal(1000),
        split_coefficient=Decimal(split) if split else None,
    )


def session_days(start: date, count: int) -> list[date]:
    cal = TradingCalendar()
    days, day = [], start
    while len(days) < count:
        if cal.is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


# Tuesday 2026-01-20 after the close; Monday 2026-01-19 is Martin Luther King Jr. Day
NOW = datetime(2026, 1, 20, 22, 0, tzinfo=UTC)


def test_clean_series_has_no_issues() -> None:
    bars = [daily(d) for d in session_days(date(2026, 1, 2), 12)]
    assert bars[-1].timestamp.date() == date(2026, 1, 20)
    report = check_bars("XYZ", bars, BarInterval.DAY, now=NOW, config=CFG)
    assert report.issues == [] and report.ok and report.series_checked == 1


def test_gap_against_the_calendar_but_not_on_holidays() -> None:
    days = session_days(date(2026, 1, 2), 12)
    missing = days.pop(5)
    report = check_bars("XYZ", [daily(d) for d in days], BarInterval.DAY, now=NOW, config=CFG)
    assert [(i.check, i.detail) for i in report.issues] == [("gap", f"no bar for trading day {missing}")]
    assert date(2026, 1, 19) in nyse_holidays(2026)  # skipped by the calendar, so not a gap


def test_bar_on_a_holiday_is_reported_as_information() -> None:
    days = [*session_days(date(2026, 1, 12), 5), date(2026, 1, 19), date(2026, 1, 20)]
    report = check_bars("XYZ", [daily(d) for d in sorted(set(days))], BarInterval.DAY, now=NOW, config=CFG)
    assert report.counts == {"off_calendar": 1} and report.ok


def test_non_positive_and_ohlc() -> None:
    days = session_days(date(2026, 1, 12), 6)
    bars = [daily(d) for d in days]
    bars[1] = daily(days[1], low="0", o="100", c="100")
    bars[2] = daily(days[2], h="98", low="99")
    bars[3] = daily(days[3], c="102")  # close above high
    report = check_bars("XYZ", bars, BarInterval.DAY, now=NOW, config=CFG)
    checks = [(i.check, i.timestamp.date()) for i in report.issues if i.timestamp]
    assert ("non_positive", days[1]) in checks and ("ohlc", days[2]) in checks and ("ohlc", days[3]) in checks
    assert not report.ok and report.counts["ohlc"] == 2


def test_outlier_jump_except_on_split_days() -> None:
    days = session_days(date(2026, 1, 12), 6)
    bars = [daily(d) for d in days]
    bars[3] = daily(days[3], o="140", h="141", low="139", c="140")
    report = check_bars("XYZ", bars, BarInterval.DAY, now=NOW, config=CFG)
    assert report.counts == {"outlier": 2}  # up 39%, then down 28%
    bars = [daily(d, o="400", h="404", low="396", c="402") for d in days[:3]] + [
        daily(d, split="4" if i == 0 else None) for i, d in enumerate(days[3:])
    ]
    assert check_bars("XYZ", bars, BarInterval.DAY, now=NOW, config=CFG).counts == {}


def test_stale_daily_series() -> None:
    bars = [daily(d) for d in session_days(date(2026, 1, 2), 6)]  # ends 2026-01-09
    report = check_bars("XYZ", bars, BarInterval.DAY, now=NOW, config=CFG)
    assert report.stale_symbols() == {"XYZ"} and "sessions old" in report.issues[-1].detail
    fresh_enough = [daily(d) for d in session_days(date(2026, 1, 2), 11)]  # ends 2026-01-16, one session old
    assert not check_bars("XYZ", fresh_enough, BarInterval.DAY, now=NOW, config=CFG).stale_symbols()


def test_out_of_order_timestamps() -> None:
    days = session_days(date(2026, 1, 12), 4)
    bars = [daily(days[0]), daily(days[2]), daily(days[1]), daily(days[3])]
    assert "order" in check_bars("XYZ", bars, BarInterval.DAY, now=NOW, config=CFG).counts


def intraday(when: datetime, price: str = "100") -> Bar:
    p = Decimal(price)
    return Bar(
        symbol="XYZ", timestamp=when, interval=BarInterval.MIN_5, open=p, high=p + 1, low=p - 1, close=p
    )


def test_intraday_gaps_and_staleness() -> None:
    open_ = datetime(2026, 1, 20, 9, 30, tzinfo=NY)
    stamps = [open_ + timedelta(minutes=5 * i) for i in range(12) if i not in (4, 5)]
    during = open_ + timedelta(minutes=62)
    report = check_bars("XYZ", [intraday(t) for t in stamps], BarInterval.MIN_5, now=during, config=CFG)
    assert [(i.check, i.detail) for i in report.issues] == [
        ("gap", f"2 bar(s) missing after {stamps[3].isoformat()}")
    ]
    later = open_ + timedelta(hours=3)
    assert check_bars(
        "XYZ", [intraday(t) for t in stamps], BarInterval.MIN_5, now=later, config=CFG
    ).stale_symbols()


def test_quote_checks() -> None:
    during = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)
    fresh = Quote(
        symbol="XYZ", timestamp=during - timedelta(seconds=30), bid_price=Decimal(10), ask_price=Decimal(11)
    )
    assert check_quote("XYZ", fresh, now=during, config=CFG).issues == []
    crossed = fresh.model_copy(update={"bid_price": Decimal(12)})
    assert check_quote("XYZ", crossed, now=during, config=CFG).counts == {"ohlc": 1}
    old = fresh.model_copy(update={"timestamp": during - timedelta(hours=1), "last_price": Decimal(0)})
    assert check_quote("XYZ", old, now=during, config=CFG).counts == {"non_positive": 1, "stale": 1}


def test_holiday_rules() -> None:
    assert date(2022, 12, 26) in nyse_holidays(2022)  # Christmas on a Sunday, observed Monday
    assert date(2021, 12, 31) not in nyse_holidays(2022) and date(2021, 12, 24) in nyse_holidays(2021)
    assert date(2026, 4, 3) in nyse_holidays(2026)  # Good Friday
    assert date(2021, 6, 18) not in nyse_holidays(2021) and date(2026, 6, 19) in nyse_holidays(2026)
