"""A deterministic, seeded market data generator shared by every data mock.

Prices follow one process per symbol, so everything derived from it agrees: minute bars aggregate to
the daily bar, quotes straddle the trade price, the latest trade is the price the venue fills at.

* Daily closes are a random walk anchored at a per-symbol base price on :data:`ANCHOR` (walking
  forward and backward from it, so any date is cheap to reach and prices stay plausible).
* Within a regular session (09:30-16:00 New York, weekdays) the price follows a Brownian bridge from
  the day's open to its close, one point per minute, seeded by (seed, symbol, day).
* Corporate actions are seeded too: quarterly dividends for some symbols, a 4-for-1 split for others;
  raw prices before a split are scaled by its ratio, and ``adjusted`` prices undo that.

Same seed, same numbers, on every machine.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "ANCHOR",
    "NEW_YORK",
    "BarData",
    "CorporateActionData",
    "MarketDataGenerator",
    "QuoteData",
    "Timeframe",
    "TradeData",
    "is_trading_day",
    "session_bounds",
]

NEW_YORK = ZoneInfo("America/New_York")
ANCHOR = date(2026, 1, 2)
"""The date on which each symbol's daily close equals its base price."""
SESSION_MINUTES = 390
EXCHANGES = ("V", "Q", "N", "P", "Z", "K")

_BASE_PRICES = {
    "AAPL": 190.0, "MSFT": 410.0, "TSLA": 250.0, "SPY": 500.0, "QQQ": 430.0, "AMZN": 180.0,
    "GOOGL": 170.0, "NVDA": 120.0, "META": 480.0, "IBM": 190.0, "JPM": 200.0, "BAC": 38.0,
}  # fmt: skip
_USD_PER_UNIT = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.12, "CAD": 0.73, "AUD": 0.66,
    "NZD": 0.61, "SEK": 0.095, "NOK": 0.093, "HKD": 0.128, "CNY": 0.138, "SGD": 0.74,
}  # fmt: skip
_SECTORS = ("Technology", "Financials", "Health Care", "Energy", "Industrials", "Consumer Discretionary")

Timeframe = str
"""``{n}min`` (1-59), ``{n}hour`` (1-23), ``1day``, ``1week`` or ``1month``."""


def _intraday_minutes(timeframe: str) -> int | None:
    """Minutes per bar of an intraday timeframe, None for day/week/month; ValueError when unknown."""
    for unit, factor, top in (("min", 1, 59), ("hour", 60, 23)):
        if timeframe.endswith(unit) and timeframe[: -len(unit)].isdigit():
            n = int(timeframe[: -len(unit)])
            if not 1 <= n <= top:
                raise ValueError(f"timeframe {timeframe!r} out of range")
            return n * factor
    if timeframe in ("1day", "1week", "1month"):
        return None
    raise ValueError(f"unknown timeframe {timeframe!r}")


@dataclass(frozen=True)
class BarData:
    """One OHLCV bar; ``timestamp`` is the start of its period (UTC)."""

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    trade_count: int
    vwap: float


@dataclass(frozen=True)
class QuoteData:
    """A top-of-book quote."""

    symbol: str
    timestamp: datetime
    bid_price: float
    bid_size: int
    ask_price: float
    ask_size: int
    bid_exchange: str
    ask_exchange: str
    conditions: tuple[str, ...] = ("R",)
    tape: str = "C"


@dataclass(frozen=True)
class TradeData:
    """One print."""

    symbol: str
    timestamp: datetime
    price: float
    size: int
    exchange: str
    trade_id: int
    conditions: tuple[str, ...] = ("@",)
    tape: str = "C"


@dataclass(frozen=True)
class CorporateActionData:
    """A dividend or split."""

    symbol: str
    kind: Literal["cash_dividend", "split"]
    ex_date: date
    record_date: date
    pay_date: date
    cash_amount: float | None = None
    ratio_from: int | None = None
    ratio_to: int | None = None


@lru_cache(maxsize=4096)
def is_trading_day(day: date) -> bool:
    """Weekdays that are not NYSE holidays, so mock series pass the calendar checks real data passes."""
    from portico.marketdata import nyse_holidays

    return day.weekday() < 5 and day not in nyse_holidays(day.year)


@lru_cache(maxsize=4096)
def session_bounds(day: date) -> tuple[datetime, datetime]:
    """The regular session of ``day`` as UTC datetimes (09:30-16:00 New York)."""
    open_ = datetime.combine(day, time(9, 30), NEW_YORK).astimezone(UTC)
    close = datetime.combine(day, time(16, 0), NEW_YORK).astimezone(UTC)
    return open_, close


_DayPlan = tuple[datetime, datetime, list[float] | None, float, float]
"""(session open, session close, the day's minute path or None on a closed day, split scale, price
before the open)."""


def _digest(*parts: object) -> int:
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _at(plan: _DayPlan, when: datetime) -> float:
    """The price at ``when`` (within the plan's day), in cents."""
    open_, close, path, scale, outside = plan
    if path is None or when >= close or when < open_:
        return outside if path is None or when < open_ else round(path[-1] * scale, 2)
    minutes = (when - open_).total_seconds() / 60
    i = int(minutes)
    frac = minutes - i
    return round((path[i] + (path[i + 1] - path[i]) * frac) * scale, 2)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC)


@dataclass
class _Walk:
    """Cumulative log returns by day offset from the anchor, extended lazily in both directions."""

    forward: list[float] = field(default_factory=lambda: [0.0])
    backward: list[float] = field(default_factory=lambda: [0.0])


class MarketDataGenerator:
    """Seeded prices, bars, quotes, trades, fundamentals, FX rates and corporate actions.

    Args:
        seed: the seed; the same seed always yields the same data.
        daily_volatility: standard deviation of daily log returns.
    """

    def __init__(self, seed: int = 0, *, daily_volatility: float = 0.015) -> None:
        self.seed = seed
        self.daily_volatility = daily_volatility
        self._walks: dict[str, _Walk] = {}
        self._split_cache: dict[str, list[CorporateActionData]] = {}
        self._price_cache: dict[tuple[str, datetime, bool], float] = {}
        self._paths: OrderedDict[tuple[str, date], list[float]] = OrderedDict()
        self._action_cache: dict[tuple[str, date, date], list[CorporateActionData]] = {}
        # the New York calendar day last asked about, as its UTC bounds: a mock on the real-time clock
        # prices at a new instant on every read, nearly always of the same day
        self._day_span: tuple[datetime, datetime, date] | None = None
        self._day_plans: dict[tuple[str, date, bool], _DayPlan] = {}
        # a day's 390 minute bars (frozen): every intraday or daily request builds from them, and a
        # request for a window a minute later than the last needs the same days again
        self._minute_cache: OrderedDict[tuple[str, date, float], tuple[BarData, ...]] = OrderedDict()

    # -- the process --------------------------------------------------------------------------

    def base_price(self, symbol: str) -> float:
        """The symbol's close on the anchor date."""
        symbol = symbol.upper()
        if symbol in _BASE_PRICES:
            return _BASE_PRICES[symbol]
        return round(20 + (_digest("base", symbol) % 48000) / 100, 2)

    def _cumulative(self, symbol: str, offset: int) -> float:
        walk = self._walks.setdefault(symbol, _Walk())
        series, direction = (walk.forward, 1) if offset >= 0 else (walk.backward, -1)
        steps = abs(offset)
        # extend in whole seeded blocks so the numbers never depend on the order of calls
        while len(series) <= steps:
            block = (len(series) - 1) // 256
            rng = random.Random(_digest(self.seed, symbol, "walk", direction, block))
            for _ in range(256):
                series.append(series[-1] + rng.gauss(0.0003 * direction, self.daily_volatility))
        return series[steps]

    def _raw_close(self, symbol: str, day: date) -> float:
        """The process's close of ``day`` (weekends carry Friday's close), before split scaling."""
        while not is_trading_day(day):
            day -= timedelta(days=1)
        return self.base_price(symbol) * math.exp(self._cumulative(symbol, (day - ANCHOR).days))

    def _previous_trading_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def _path(self, symbol: str, day: date) -> list[float]:
        """391 prices, one per session minute boundary, from the day's open to its close."""
        key = (symbol, day)
        cached = self._paths.get(key)
        if cached is not None:
            self._paths.move_to_end(key)
            return cached
        rng = random.Random(_digest(self.seed, symbol, "day", day.isoformat()))
        prev_close = self._raw_close(symbol, self._previous_trading_day(day))
        close = self._raw_close(symbol, day)
        open_ = prev_close * math.exp(rng.gauss(0, self.daily_volatility * 0.3))
        step_sd = self.daily_volatility / math.sqrt(SESSION_MINUTES)
        walk = [0.0]
        for _ in range(SESSION_MINUTES):
            walk.append(walk[-1] + rng.gauss(0, step_sd))
        start, end = math.log(open_), math.log(close)
        path = [
            math.exp(start + walk[i] + (end - start - walk[-1]) * i / SESSION_MINUTES)
            for i in range(SESSION_MINUTES + 1)
        ]
        self._paths[key] = path
        if len(self._paths) > 512:
            self._paths.popitem(last=False)
        return path

    def split_factor(self, symbol: str, day: date) -> float:
        """How many raw units one adjusted unit was on ``day`` (>1 before a split's ex date)."""
        factor = 1.0
        for action in self._splits(symbol):
            if day < action.ex_date and action.ratio_to and action.ratio_from:
                factor *= action.ratio_to / action.ratio_from
        return factor

    def price(self, symbol: str, when: datetime, *, adjusted: bool = False) -> float:
        """The traded price of ``symbol`` at ``when`` (the last close outside a session), in cents."""
        key = (symbol, when, adjusted)
        cached = self._price_cache.get(key)
        if cached is None:
            cached = self._price(symbol.upper(), _utc(when), adjusted)
            if len(self._price_cache) > 8192:
                self._price_cache.clear()
            self._price_cache[key] = cached
        return cached

    def spot(self, symbol: str, when: datetime) -> float:
        """:meth:`price` (unadjusted, ``symbol`` upper case, ``when`` in UTC) without its memo: for
        instants that do not come back, as a clock running with wall time gives."""
        return self._price(symbol, when, False)

    def local_day(self, when: datetime) -> date:
        """The New York calendar date of ``when`` (timezone-aware)."""
        span = self._day_span
        if span is not None and span[0] <= when < span[1]:
            return span[2]
        day = when.astimezone(NEW_YORK).date()
        lo = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
        hi = datetime.combine(day + timedelta(days=1), time(0), NEW_YORK).astimezone(UTC)
        self._day_span = (lo, hi, day)
        return day

    def spot_many(self, symbols: Sequence[str], when: datetime) -> tuple[float, ...]:
        """:meth:`spot` of each of ``symbols`` at the one instant ``when``: the day and its plans are
        looked up once for the whole book (a positions endpoint prices every holding on each read)."""
        local_day = self.local_day(when)
        plans = self._day_plans
        out: list[float] = []
        opened = None
        i, frac = 0, 0.0
        for symbol in symbols:
            plan = plans.get((symbol, local_day, False)) or self._plan(symbol, local_day, False)
            open_, close, path, scale, outside = plan
            if path is None or when >= close or when < open_:
                out.append(outside if path is None or when < open_ else round(path[-1] * scale, 2))
                continue
            if open_ != opened:  # one session a day: the minute is worked out once for the book
                opened = open_
                minutes = (when - open_).total_seconds() / 60
                i = int(minutes)
                frac = minutes - i
            low = path[i]
            out.append(round((low + (path[i + 1] - low) * frac) * scale, 2))
        return tuple(out)

    def _plan(self, symbol: str, local_day: date, adjusted: bool) -> _DayPlan:
        plan_key = (symbol, local_day, adjusted)
        plan = self._day_plans.get(plan_key)
        if plan is None:
            plan = self._day_plan(symbol, local_day, adjusted)
            if len(self._day_plans) > 4096:
                self._day_plans.clear()
            self._day_plans[plan_key] = plan
        return plan

    def _price(self, symbol: str, when: datetime, adjusted: bool) -> float:
        return _at(self._plan(symbol, self.local_day(when), adjusted), when)

    def _day_plan(self, symbol: str, day: date, adjusted: bool) -> _DayPlan:
        """What pricing an instant of ``day`` needs: the session, its minute path, the split scale, and
        the price before the open (the previous session's close)."""
        scale = 1.0 if adjusted else self.split_factor(symbol, day)
        prev = self._previous_trading_day(day)
        before_open = round(self._path(symbol, prev)[-1] * scale, 2)
        if not is_trading_day(day):
            never = datetime.min.replace(tzinfo=UTC)
            return (never, never, None, scale, before_open)
        open_, close = session_bounds(day)
        return (open_, close, self._path(symbol, day), scale, before_open)

    # -- bars ---------------------------------------------------------------------------------

    def _minute_bars(self, symbol: str, day: date, scale: float) -> list[BarData]:
        # one generator per day: cheap enough to build a year of daily bars from minutes
        path = self._path(symbol, day)
        rng = random.Random(_digest(self.seed, symbol, "bars", day.isoformat()))
        wiggle = self.daily_volatility / math.sqrt(SESSION_MINUTES)
        open_ = session_bounds(day)[0]
        out = []
        for minute in range(SESSION_MINUTES):
            o, c = path[minute] * scale, path[minute + 1] * scale
            h = max(o, c) * (1 + abs(rng.gauss(0, wiggle)))
            low = min(o, c) * (1 - abs(rng.gauss(0, wiggle)))
            # more volume at the open and the close, as on a real tape
            u_shape = 1.6 - math.sin(math.pi * minute / SESSION_MINUTES)
            volume = max(100, int(rng.lognormvariate(8.5, 0.5) * u_shape / scale))
            vwap = (o + c + h + low) / 4
            out.append(
                BarData(
                    symbol, open_ + timedelta(minutes=minute), round(o, 2), round(h, 2), round(low, 2), round(c, 2),
                    volume, max(1, volume // 120), round(vwap, 4),
                )
            )
        return out

    @staticmethod
    def _aggregate(symbol: str, timestamp: datetime, bars: list[BarData]) -> BarData:
        volume = sum(b.volume for b in bars)
        vwap = sum(b.vwap * b.volume for b in bars) / volume if volume else bars[-1].close
        return BarData(
            symbol,
            timestamp,
            bars[0].open,
            max(b.high for b in bars),
            min(b.low for b in bars),
            bars[-1].close,
            volume,
            sum(b.trade_count for b in bars),
            round(vwap, 4),
        )

    def minute_bars(self, symbol: str, day: date, *, adjusted: bool = False) -> list[BarData]:
        """The 390 one-minute bars of a trading day (none on weekends)."""
        symbol = symbol.upper()
        if not is_trading_day(day):
            return []
        scale = 1.0 if adjusted else self.split_factor(symbol, day)
        key = (symbol, day, scale)
        cached = self._minute_cache.get(key)
        if cached is not None:
            self._minute_cache.move_to_end(key)
            return list(cached)
        bars = self._minute_bars(symbol, day, scale)
        self._minute_cache[key] = tuple(bars)
        if len(self._minute_cache) > 128:
            self._minute_cache.popitem(last=False)
        return bars

    def daily_bar(self, symbol: str, day: date, *, adjusted: bool = False) -> BarData | None:
        """The daily bar of ``day``, aggregated from its minute bars (so the two always agree)."""
        bars = self.minute_bars(symbol, day, adjusted=adjusted)
        if not bars:
            return None
        stamp = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
        return self._aggregate(symbol.upper(), stamp, bars)

    def bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime,
        end: datetime,
        *,
        adjusted: bool = False,
        until: datetime | None = None,
    ) -> list[BarData]:
        """Bars whose period starts in ``[start, end]``, oldest first, only for periods that began by
        ``until`` (the simulated now); the bar still forming is cut at ``until``."""
        symbol = symbol.upper()
        start, end = _utc(start), _utc(end)
        if until is not None:
            end = min(end, _utc(until))
        out: list[BarData] = []
        size = _intraday_minutes(timeframe)
        day = start.astimezone(NEW_YORK).date() - timedelta(days=35 if timeframe in ("1week", "1month") else 0)
        last = end.astimezone(NEW_YORK).date()
        if size is not None:
            while day <= last:
                minutes = self.minute_bars(symbol, day, adjusted=adjusted)
                for i in range(0, len(minutes), size):
                    chunk = [b for b in minutes[i : i + size] if until is None or b.timestamp <= end]
                    if chunk and start <= chunk[0].timestamp <= end:
                        out.append(self._aggregate(symbol, chunk[0].timestamp, chunk))
                day += timedelta(days=1)
            return out
        days: list[BarData] = []
        while day <= last:
            minutes = self.minute_bars(symbol, day, adjusted=adjusted)
            if until is not None:
                minutes = [b for b in minutes if b.timestamp <= end]
            if minutes:
                stamp = datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
                days.append(self._aggregate(symbol, stamp, minutes))
            day += timedelta(days=1)
        if timeframe == "1day":
            return [b for b in days if start <= b.timestamp <= end]
        groups: OrderedDict[tuple[int, int], list[BarData]] = OrderedDict()
        for bar in days:
            local = bar.timestamp.astimezone(NEW_YORK).date()
            key = local.isocalendar()[:2] if timeframe == "1week" else (local.year, local.month)
            groups.setdefault(key, []).append(bar)
        for group in groups.values():
            agg = self._aggregate(symbol, group[0].timestamp, group)
            if start <= agg.timestamp <= end or any(start <= b.timestamp <= end for b in group):
                out.append(agg)
        return out

    # -- quotes and trades --------------------------------------------------------------------

    def quote(self, symbol: str, when: datetime) -> QuoteData:
        """The quote standing at ``when``: a spread of a few cents around the price."""
        symbol = symbol.upper()
        when = _utc(when)
        price = self.price(symbol, when)
        second = int(when.timestamp())
        rng = random.Random(_digest(self.seed, symbol, "quote", second))
        half = max(0.01, round(price * rng.uniform(0.00005, 0.0004), 2))
        return QuoteData(
            symbol,
            when.replace(microsecond=(second % 997) * 1000),
            round(price - half, 2),
            rng.randint(1, 12) * 100,
            round(price + half, 2),
            rng.randint(1, 12) * 100,
            rng.choice(EXCHANGES),
            rng.choice(EXCHANGES),
        )

    def trade(self, symbol: str, when: datetime) -> TradeData:
        """The print at ``when``."""
        symbol = symbol.upper()
        when = _utc(when)
        second = int(when.timestamp())
        rng = random.Random(_digest(self.seed, symbol, "trade", second))
        return TradeData(
            symbol,
            when.replace(microsecond=(second % 991) * 1000),
            self.price(symbol, when),
            rng.choice((1, 5, 10, 50, 100, 100, 100, 200, 500)),
            rng.choice(EXCHANGES),
            _digest(self.seed, symbol, "trade-id", second) % 10**13,
        )

    def _ticks(self, start: datetime, end: datetime, step: float) -> list[datetime]:
        out: list[datetime] = []
        t = _utc(start)
        end = _utc(end)
        # ticks only inside sessions; jump across nights and weekends
        while t <= end:
            day = t.astimezone(NEW_YORK).date()
            open_, close = session_bounds(day)
            if not is_trading_day(day) or t >= close:
                nxt = datetime.combine(day + timedelta(days=1), time(0), NEW_YORK).astimezone(UTC)
                t = max(nxt, t + timedelta(seconds=step))
                continue
            if t < open_:
                t = open_
                continue
            # ticks sit on a grid from the open, so any window sees the same instants
            offset = (t - open_).total_seconds()
            aligned = open_ + timedelta(seconds=math.ceil(offset / step - 1e-9) * step)
            if aligned != t:
                t = aligned
                continue
            out.append(t)
            t += timedelta(seconds=step)
        return out

    def quotes(self, symbol: str, start: datetime, end: datetime, *, step: float = 5.0, limit: int | None = None) -> list[QuoteData]:
        """Quotes every ``step`` seconds of session time in ``[start, end]``."""
        ticks = self._ticks(start, end, step)
        return [self.quote(symbol, t) for t in ticks[: limit if limit else None]]

    def trades(self, symbol: str, start: datetime, end: datetime, *, step: float = 7.0, limit: int | None = None) -> list[TradeData]:
        """Trades every ``step`` seconds of session time in ``[start, end]``."""
        ticks = self._ticks(start, end, step)
        return [self.trade(symbol, t) for t in ticks[: limit if limit else None]]

    # -- reference data -----------------------------------------------------------------------

    def _splits(self, symbol: str) -> list[CorporateActionData]:
        cached = self._split_cache.get(symbol)
        if cached is None:
            cached = self._split_cache[symbol] = self._make_splits(symbol)
        return cached

    def _make_splits(self, symbol: str) -> list[CorporateActionData]:
        h = _digest(self.seed, symbol.upper(), "split")
        if h % 5 != 0:
            return []
        ex = ANCHOR - timedelta(days=200 + h % 300)
        while not is_trading_day(ex):
            ex += timedelta(days=1)
        return [
            CorporateActionData(symbol.upper(), "split", ex, ex + timedelta(days=1), ex - timedelta(days=7), ratio_from=1, ratio_to=4)
        ]

    def corporate_actions(self, symbol: str, start: date, end: date) -> list[CorporateActionData]:
        """Dividends (quarterly, for about two symbols in three) and splits with ex date in ``[start, end]``."""
        symbol = symbol.upper()
        key = (symbol, start, end)
        cached = self._action_cache.get(key)
        if cached is None:
            cached = self._corporate_actions(symbol, start, end)
            if len(self._action_cache) > 4096:
                self._action_cache.clear()
            self._action_cache[key] = cached
        return list(cached)

    def _corporate_actions(self, symbol: str, start: date, end: date) -> list[CorporateActionData]:
        out = [a for a in self._splits(symbol) if start <= a.ex_date <= end]
        h = _digest(self.seed, symbol, "dividend")
        if h % 3 != 0:
            first = ANCHOR + timedelta(days=h % 91)
            k = math.floor((start - first).days / 91)
            while True:
                ex = first + timedelta(days=91 * k)
                k += 1
                if ex > end:
                    break
                if ex < start:
                    continue
                amount = round(self.price(symbol, session_bounds(ex)[0], adjusted=True) * 0.004, 2)
                out.append(
                    CorporateActionData(symbol, "cash_dividend", ex, ex + timedelta(days=1), ex + timedelta(days=14), cash_amount=amount)
                )
        return sorted(out, key=lambda a: a.ex_date)

    def fundamentals(self, symbol: str, when: datetime) -> dict[str, object]:
        """Company overview figures consistent with the price at ``when``."""
        symbol = symbol.upper()
        rng = random.Random(_digest(self.seed, symbol, "fundamentals"))
        price = self.price(symbol, when)
        shares = rng.randint(50, 16000) * 1_000_000
        eps = round(price / rng.uniform(8, 45), 2)
        return {
            "symbol": symbol,
            "name": f"{symbol.title()} Corporation",
            "exchange": rng.choice(("NASDAQ", "NYSE")),
            "currency": "USD",
            "country": "US",
            "sector": rng.choice(_SECTORS),
            "industry": "Diversified",
            "shares_outstanding": shares,
            "market_capitalization": round(price * shares),
            "eps": eps,
            "pe_ratio": round(price / eps, 2),
            "dividend_yield": round(rng.uniform(0, 0.04), 4),
            "beta": round(rng.uniform(0.5, 1.8), 3),
            "fiscal_year_end": "December",
            "revenue": round(shares * eps * rng.uniform(3, 9)),
        }

    def _usd(self, currency: str, when: datetime) -> float:
        currency = currency.upper()
        if currency not in _USD_PER_UNIT:
            raise KeyError(f"unknown currency {currency!r}")
        if currency == "USD":
            return 1.0
        when = _utc(when)
        day = when.date()
        frac = (when - datetime.combine(day, time(0), UTC)).total_seconds() / 86400
        fx = f"FX:{currency}"
        a = self._cumulative(fx, (day - ANCHOR).days) * 0.3
        b = self._cumulative(fx, (day - ANCHOR).days + 1) * 0.3
        return _USD_PER_UNIT[currency] * math.exp(a + (b - a) * frac)

    def fx_rate(self, base: str, quote: str, when: datetime) -> float:
        """Units of ``quote`` per one ``base`` at ``when``; raises KeyError for an unknown currency."""
        return round(self._usd(base, when) / self._usd(quote, when), 6)

    def fx_bars(self, base: str, quote: str, start: date, end: date) -> list[BarData]:
        """Daily FX bars (every calendar weekday) in ``[start, end]``."""
        out: list[BarData] = []
        day = start
        pair = f"{base.upper()}/{quote.upper()}"
        while day <= end:
            if is_trading_day(day):
                t0 = datetime.combine(day, time(0), UTC)
                points = [self.fx_rate(base, quote, t0 + timedelta(hours=h)) for h in range(0, 25, 3)]
                out.append(BarData(pair, t0, points[0], max(points), min(points), points[-1], 0, 0, round(sum(points) / len(points), 6)))
            day += timedelta(days=1)
        return out

    @staticmethod
    def currencies() -> list[str]:
        """The currencies the generator knows."""
        return sorted(_USD_PER_UNIT)
