"""The Alpha Vantage mock's data, built on the mock kit's seeded generator.

Daily bars share the generator's price process: each day's open and close are exactly the generator's
session open and close, so the Alpaca mock and this one agree on the same seed. Their highs, lows and
volumes come from sampling the session path (every 15 minutes) plus a seeded wiggle, because the
generator's exact daily aggregation from 390 minute bars costs ~5 ms a day and Alpha Vantage's monthly
series spans decades. Intraday bars come straight from the generator.

Adjusted series follow Alpha Vantage: ``4. close`` is as traded, ``5. adjusted close`` undoes splits and
dividends, ``7. dividend amount`` sits on the ex date and ``8. split coefficient`` is the split ratio on
its ex date (1.0 elsewhere).
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portico.mocks._kit import MarketDataGenerator, is_trading_day, session_bounds

__all__ = ["DailyRow", "IntradayRow", "SeriesSource"]

NEW_YORK = ZoneInfo("America/New_York")
_SAMPLES = 26  # one point every 15 minutes of the 390-minute session


@dataclass(frozen=True)
class DailyRow:
    """One day, week or month of an Alpha Vantage equity series (``day`` is the period's last trading day)."""

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int
    adjusted_close: float
    dividend: float = 0.0
    split: float = 1.0


@dataclass(frozen=True)
class IntradayRow:
    """One intraday bar, stamped with its start in New York wall-clock time."""

    stamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int


def _seed(*parts: object) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class SeriesSource:
    """Alpha Vantage-shaped series for any symbol, cached per symbol and day.

    Args:
        generator: the mock kit's seeded generator.
        history_start: the first day of ``outputsize=full`` daily series.
    """

    def __init__(self, generator: MarketDataGenerator, *, history_start: date = date(2016, 1, 4)) -> None:
        self.generator = generator
        self.history_start = history_start
        self._days: OrderedDict[tuple[str, date, bool], DailyRow | None] = OrderedDict()
        self._dividends: dict[str, dict[date, float]] = {}
        self._splits: dict[str, dict[date, float]] = {}
        self._factors: dict[str, list[tuple[date, float]]] = {}
        self._actions_until: dict[str, date] = {}

    # -- corporate actions ---------------------------------------------------------------------

    def _actions(self, symbol: str, now: datetime) -> tuple[dict[date, float], dict[date, float]]:
        """Dividends and splits of ``symbol`` with ex dates up to ``now`` (the future is not known yet)."""
        today = now.astimezone(NEW_YORK).date()
        if self._actions_until.get(symbol) != today:
            dividends: dict[date, float] = {}
            splits: dict[date, float] = {}
            for action in self.generator.corporate_actions(
                symbol, self.history_start - timedelta(days=400), today
            ):
                if action.kind == "cash_dividend" and action.cash_amount:
                    dividends[action.ex_date] = action.cash_amount
                elif action.kind == "split" and action.ratio_from and action.ratio_to:
                    splits[action.ex_date] = action.ratio_to / action.ratio_from
            self._dividends[symbol] = dividends
            self._splits[symbol] = splits
            self._factors[symbol] = self._cumulative_factors(symbol, dividends)
            self._actions_until[symbol] = today
        return self._dividends[symbol], self._splits[symbol]

    def _cumulative_factors(self, symbol: str, dividends: dict[date, float]) -> list[tuple[date, float]]:
        # (ex date, product of (1 - dividend / prior close) over this and every later ex date), oldest first
        out: list[tuple[date, float]] = []
        factor = 1.0
        for ex in sorted(dividends, reverse=True):
            before = self.generator.price(symbol, session_bounds(ex)[0] - timedelta(minutes=1), adjusted=True)
            if before > dividends[ex]:
                factor *= 1 - dividends[ex] / before
            out.append((ex, factor))
        out.reverse()
        return out

    def _dividend_factor(self, symbol: str, day: date, now: datetime) -> float:
        """The multiplier that removes dividends paid after ``day`` from its split-adjusted price."""
        self._actions(symbol, now)
        for ex, factor in self._factors[symbol]:
            if ex > day:
                return factor
        return 1.0

    # -- daily ---------------------------------------------------------------------------------

    def _daily(self, symbol: str, day: date, now: datetime) -> DailyRow | None:
        """The session of ``day`` as of ``now`` (partial while it trades), or None before it opens."""
        open_, close = session_bounds(day)
        if now < open_:
            return None
        complete = now >= close
        key = (symbol, day, complete)
        if complete and key in self._days:
            self._days.move_to_end(key)
            return self._days[key]
        gen = self.generator
        end = close if complete else now
        span = (end - open_).total_seconds()
        points = [
            gen.price(symbol, open_ + timedelta(seconds=span * i / _SAMPLES)) for i in range(_SAMPLES + 1)
        ]
        last = gen.price(symbol, end) if not complete else gen.price(symbol, close)
        points[-1] = last
        rng = random.Random(_seed(gen.seed, symbol, "av-day", day.isoformat()))
        wiggle = gen.daily_volatility / math.sqrt(_SAMPLES)
        high = round(max(points) * (1 + abs(rng.gauss(0, wiggle))), 2)
        low = round(min(points) * (1 - abs(rng.gauss(0, wiggle))), 2)
        fraction = max(span / (close - open_).total_seconds(), 1 / 390)
        split_scale = gen.split_factor(symbol, day)
        volume = max(100, int(rng.lognormvariate(15.0, 0.35) * fraction / split_scale))
        dividends, splits = self._actions(symbol, now)
        adjusted = gen.price(symbol, end, adjusted=True) * self._dividend_factor(symbol, day, now)
        row = DailyRow(
            day=day,
            open=points[0],
            high=max(high, points[0], last),
            low=min(low, points[0], last),
            close=last,
            volume=volume,
            adjusted_close=round(adjusted, 4),
            dividend=dividends.get(day, 0.0),
            split=splits.get(day, 1.0),
        )
        if complete:
            self._days[key] = row
            if len(self._days) > 200_000:
                self._days.popitem(last=False)
        return row

    def daily(
        self, symbol: str, now: datetime, *, start: date | None = None, limit: int | None = None
    ) -> list[DailyRow]:
        """Daily rows up to ``now``, newest first: the last ``limit`` trading days, or all since ``start``."""
        symbol = symbol.upper()
        day = now.astimezone(NEW_YORK).date()
        first = start or self.history_start
        out: list[DailyRow] = []
        while day >= first and (limit is None or len(out) < limit):
            if is_trading_day(day):
                row = self._daily(symbol, day, now)
                if row is not None:
                    out.append(row)
            day -= timedelta(days=1)
        return out

    def periodic(
        self, symbol: str, now: datetime, period: str, *, limit: int | None = None
    ) -> list[DailyRow]:
        """Weekly (``week``) or monthly (``month``) rows, newest first, keyed by each period's last trading day."""
        days = self.daily(symbol, now, start=self.history_start if limit is None else None,
                          limit=None if limit is None else limit * (5 if period == "week" else 23) + 23)  # fmt: skip
        groups: OrderedDict[tuple[int, int], list[DailyRow]] = OrderedDict()
        for row in days:
            key = row.day.isocalendar()[:2] if period == "week" else (row.day.year, row.day.month)
            groups.setdefault(key, []).append(row)
        out: list[DailyRow] = []
        for rows in groups.values():  # each group newest first
            factor = 1.0
            for r in rows:
                factor *= r.split
            out.append(
                DailyRow(
                    day=rows[0].day,
                    open=rows[-1].open,
                    high=max(r.high for r in rows),
                    low=min(r.low for r in rows),
                    close=rows[0].close,
                    volume=sum(r.volume for r in rows),
                    adjusted_close=rows[0].adjusted_close,
                    dividend=round(sum(r.dividend for r in rows), 4),
                    split=factor,
                )
            )
        return out[:limit] if limit is not None else out

    # -- intraday ------------------------------------------------------------------------------

    def intraday(
        self,
        symbol: str,
        now: datetime,
        minutes: int,
        *,
        limit: int | None = None,
        month: str | None = None,
        adjusted: bool = True,
    ) -> list[IntradayRow]:
        """Intraday bars newest first: the last ``limit`` bars up to ``now``, or every bar of ``month``."""
        symbol = symbol.upper()
        timeframe = {1: "1min", 5: "5min", 15: "15min", 30: "30min", 60: "1hour"}[minutes]
        if month is not None:
            first = date.fromisoformat(f"{month}-01")
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            start = datetime.combine(first, time(0), NEW_YORK).astimezone(UTC)
            end = min(
                now, datetime.combine(following, time(0), NEW_YORK).astimezone(UTC) - timedelta(seconds=1)
            )
        else:
            sessions = 1 + (limit or 100) * minutes // 390 + 1 if limit else 30
            day = now.astimezone(NEW_YORK).date()
            count = 0
            while count < sessions:
                if is_trading_day(day):
                    count += 1
                if count < sessions:
                    day -= timedelta(days=1)
            start = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
            end = now
        if end < start:
            return []
        bars = self.generator.bars(symbol, timeframe, start, end, adjusted=adjusted, until=now)  # type: ignore[arg-type]
        rows = [
            IntradayRow(
                b.timestamp.astimezone(NEW_YORK).replace(tzinfo=None),
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
            )
            for b in reversed(bars)
        ]
        return rows[:limit] if limit is not None else rows

    # -- FX ------------------------------------------------------------------------------------

    def fx_daily(self, base: str, quote: str, now: datetime, *, limit: int | None) -> list[DailyRow]:
        """Daily FX rows newest first (UTC days, weekdays), the current day partial."""
        end = now.astimezone(UTC).date()
        start = end - timedelta(days=int((limit or 100_000) * 7 / 5) + 7) if limit else self.history_start
        bars = self.generator.fx_bars(base, quote, start, end)
        rows: list[DailyRow] = []
        for bar in reversed(bars):
            close = bar.close
            if bar.timestamp.date() == end:
                close = self.generator.fx_rate(base, quote, now)
            rows.append(
                DailyRow(
                    bar.timestamp.date(), bar.open, max(bar.high, close), min(bar.low, close), close, 0, close
                )
            )
        return rows[:limit] if limit is not None else rows

    def fx_intraday(
        self, base: str, quote: str, now: datetime, minutes: int, *, limit: int
    ) -> list[IntradayRow]:
        """Intraday FX bars newest first, stamped in UTC, ending with the one containing ``now``."""
        step = timedelta(minutes=minutes)
        floor = now.astimezone(UTC).replace(second=0, microsecond=0)
        floor -= (
            timedelta(minutes=floor.minute % minutes) if minutes < 60 else timedelta(minutes=floor.minute)
        )
        rows: list[IntradayRow] = []
        t = floor
        while len(rows) < limit:
            if t.weekday() < 5:
                end = min(t + step, now)
                pts = [self.generator.fx_rate(base, quote, t + (end - t) * i / 4) for i in range(5)]
                rows.append(IntradayRow(t.replace(tzinfo=None), pts[0], max(pts), min(pts), pts[-1], 0))
            t -= step
        return rows
