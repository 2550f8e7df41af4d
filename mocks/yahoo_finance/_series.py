"""The Yahoo Finance mock's prices, built on the mock kit's seeded generator.

Yahoo's chart ``close`` is split-adjusted but not dividend-adjusted; ``adjclose`` removes dividends too.
So every price here is the generator's split-adjusted price (``adjusted=True``), and ``adjclose`` multiplies
it by the dividends paid after the bar. Daily bars open and close exactly where the generator's session
opens and closes (the Alpaca and Alpha Vantage mocks agree on the same seed); their highs and lows come from
sampling the session path every 15 minutes plus a seeded wiggle, because aggregating 390 minute bars a
day is too slow for decades of history. Intraday bars are the generator's minute bars, grouped.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from portico.mocks._kit import MarketDataGenerator, is_trading_day, session_bounds

__all__ = ["Candle", "PriceSeries"]

NEW_YORK = ZoneInfo("America/New_York")
_SAMPLES = 26  # one point every 15 minutes of the 390-minute session


@dataclass(frozen=True)
class Candle:
    """One chart bar: ``start`` is when its period began (UTC), prices are split-adjusted."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    last_session: date | None = None
    """The last trading day a longer bar (week, month) covers; None for a bar of one session or less."""

    @property
    def close_day(self) -> date:
        """The trading day whose close is this bar's close (in New York)."""
        return self.last_session or self.start.astimezone(NEW_YORK).date()


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class PriceSeries:
    """Chart bars, dividends and splits of any symbol, cached per symbol and day.

    Args:
        generator: the mock kit's seeded generator.
        history_start: the first trading day the mock has data for (``firstTradeDate``).
    """

    def __init__(self, generator: MarketDataGenerator, *, history_start: date) -> None:
        self.generator = generator
        self.history_start = history_start
        self._days: OrderedDict[tuple[str, date], Candle] = OrderedDict()
        self._factors: dict[tuple[str, date], list[tuple[date, float]]] = {}

    # -- daily -------------------------------------------------------------------------------

    def day(self, symbol: str, day: date, now: datetime) -> Candle | None:
        """The session of ``day`` as of ``now`` (partial while it trades); None before it opens."""
        if not is_trading_day(day) or day < self.history_start:
            return None
        open_, close = session_bounds(day)
        if now < open_:
            return None
        complete = now >= close
        key = (symbol, day)
        if complete and key in self._days:
            self._days.move_to_end(key)
            return self._days[key]
        gen = self.generator
        end = close if complete else now
        span = (end - open_).total_seconds()
        points = [
            gen.price(symbol, open_ + timedelta(seconds=span * i / _SAMPLES), adjusted=True)
            for i in range(_SAMPLES + 1)
        ]
        rng = random.Random(_seed(gen.seed, symbol, "yahoo-day", day.isoformat()))
        wiggle = gen.daily_volatility / math.sqrt(_SAMPLES)
        fraction = max(span / (close - open_).total_seconds(), 1 / 390)
        candle = Candle(
            start=open_,
            open=points[0],
            high=round(max(points) * (1 + abs(rng.gauss(0, wiggle))), 2),
            low=round(min(points) * (1 - abs(rng.gauss(0, wiggle))), 2),
            close=points[-1],
            volume=max(100, int(rng.lognormvariate(15.0, 0.35) * fraction)),
        )
        if complete:
            self._days[key] = candle
            if len(self._days) > 200_000:
                self._days.popitem(last=False)
        return candle

    def days(self, symbol: str, first: date, last: date, now: datetime) -> list[Candle]:
        """Daily candles of the trading days in ``[first, last]``, oldest first."""
        out: list[Candle] = []
        day = max(first, self.history_start)
        while day <= last:
            candle = self.day(symbol, day, now)
            if candle is not None:
                out.append(candle)
            day += timedelta(days=1)
        return out

    # -- intraday ----------------------------------------------------------------------------

    def intraday(self, symbol: str, day: date, minutes: int, now: datetime) -> list[Candle]:
        """Candles of ``minutes`` each over the session of ``day``, only those that have begun by ``now``."""
        bars = [b for b in self.generator.minute_bars(symbol, day, adjusted=True) if b.timestamp < now]
        out: list[Candle] = []
        for i in range(0, len(bars), minutes):
            chunk = bars[i : i + minutes]
            out.append(
                Candle(
                    start=chunk[0].timestamp,
                    open=chunk[0].open,
                    high=max(b.high for b in chunk),
                    low=min(b.low for b in chunk),
                    close=chunk[-1].close,
                    volume=sum(b.volume for b in chunk),
                )
            )
        return out

    # -- corporate actions -------------------------------------------------------------------

    def dividends(self, symbol: str, first: date, last: date) -> list[tuple[date, float]]:
        """Cash dividends (ex date, split-adjusted amount) with ex dates in ``[first, last]``."""
        out = []
        # the generator spaces dividends 91 calendar days apart; an ex date falls on a session, as at a venue
        for action in self.generator.corporate_actions(symbol, first - timedelta(days=4), last):
            if action.kind != "cash_dividend" or not action.cash_amount:
                continue
            ex = action.ex_date
            while not is_trading_day(ex):
                ex += timedelta(days=1)
            if first <= ex <= last:
                out.append((ex, action.cash_amount))
        return out

    def splits(self, symbol: str, first: date, last: date) -> list[tuple[date, int, int]]:
        """Splits (ex date, numerator, denominator) with ex dates in ``[first, last]``: 4:1 gives 4 for 1."""
        return [
            (a.ex_date, a.ratio_to, a.ratio_from)
            for a in self.generator.corporate_actions(symbol, first, last)
            if a.kind == "split" and a.ratio_to and a.ratio_from
        ]

    def dividend_factor(self, symbol: str, day: date, today: date) -> float:
        """What multiplies the close of ``day`` to remove the dividends paid after it, up to ``today``."""
        key = (symbol, today)
        factors = self._factors.get(key)
        if factors is None:
            factors = []
            product = 1.0
            for ex, amount in sorted(self.dividends(symbol, self.history_start, today), reverse=True):
                before = self.generator.price(
                    symbol, session_bounds(ex)[0] - timedelta(minutes=1), adjusted=True
                )
                if before > amount:
                    product *= 1 - amount / before
                factors.append((ex, product))
            factors.reverse()
            self._factors[key] = factors
        for ex, product in factors:
            if ex > day:
                return product
        return 1.0

    def first_trade(self) -> datetime:
        """The start of the first session the mock has, as Yahoo's ``firstTradeDate`` counts it."""
        day = self.history_start
        while not is_trading_day(day):
            day += timedelta(days=1)
        return session_bounds(day)[0].astimezone(UTC)
