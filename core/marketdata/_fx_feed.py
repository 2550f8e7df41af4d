"""The scheduled FX rate feed: many pairs with bid, ask and mid from Bloomberg every cycle, retried, with a
per-pair fallback to a secondary provider and one alert naming the pairs that fell back; rates kept
with their source and time, queryable as of a time (through USD when a cross is missing, saying so) and
exportable.

It is generic over its sources: the primary needs ``get_fx_rates(pairs, max_age=)`` (Bloomberg and
Refinitiv have it), the secondary only ``get_fx_rate(base, quote)`` (any market data connector). The
runtime runs it when ``market_data.fx_feed`` is configured (:class:`FxFeedConfig`). Stale and crossed quotes are refused from either.
:class:`FxRateBook` keeps rates in memory; :class:`StoredFxRateBook` also keeps them in portico's store
(table ``fx_feed_rates``, decimals as text) and loads them back on start.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portico.clock import Clock
from portico.errors import NotFound, PayloadRejected, PorticoError
from portico.models import FxRate

__all__ = ["FeedCycle", "FxFeedConfig", "FxRateBook", "FxRateFeed", "RateAnswer", "StoredFxRateBook", "StoredRate"]

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

Pair = tuple[str, str]


class FxFeedConfig(BaseModel):
    """``market_data.fx_feed``: the scheduled FX rate feed.

    Example (YAML)::

        market_data:
          fx_feed:
            primary: bloomberg            # a system with get_fx_rates (Bloomberg, Refinitiv)
            fallback: refinitiv           # per pair, after the primary's attempts
            pairs: [EUR/USD, USD/JPY, GBP/USD]
            interval: 900                 # seconds between cycle starts: every 15 minutes
    """

    model_config = ConfigDict(extra="forbid")

    primary: str = Field(description="the system the rates come from first (it needs get_fx_rates)")
    fallback: str | None = Field(default=None, description="the system asked per pair the primary did not give")
    pairs: list[str] = Field(min_length=1, description="currency pairs as BASE/QUOTE (EUR/USD)")
    interval: float = Field(default=900.0, gt=0, description="seconds between cycle starts")
    attempts: int = Field(default=3, ge=1, description="primary attempts per cycle before falling back")
    retry_delay: float = Field(default=30.0, ge=0, description="seconds between primary attempts")
    max_age: float = Field(default=900.0, gt=0, description="a quote older than this many seconds is stale")

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        out = []
        for text in value:
            base, sep, quote = text.strip().upper().partition("/")
            if not sep or len(base) != 3 or len(quote) != 3 or not (base + quote).isalpha() or base == quote:
                raise ValueError(f"{text!r} is not a currency pair written BASE/QUOTE (EUR/USD)")
            out.append(f"{base}/{quote}")
        return out

    def pair_tuples(self) -> list[Pair]:
        """The pairs as (base, quote)."""
        return [(p[:3], p[4:]) for p in self.pairs]
AlertSink = Callable[..., None]
"""Called as ``alert(event, severity=..., **data)`` (the monitor's ``emit`` fits)."""


class _Primary(Protocol):
    system: str

    async def get_fx_rates(self, pairs: Iterable[Pair], *, max_age: float | None = None) -> Any: ...


class _Secondary(Protocol):
    system: str

    async def get_fx_rate(self, base: str, quote: str) -> FxRate: ...


@dataclass(frozen=True)
class StoredRate:
    """One stored rate: what the source quoted, when, and whether it came from the fallback."""

    base: str
    quote: str
    mid: Decimal
    bid: Decimal | None
    ask: Decimal | None
    timestamp: datetime
    source: str
    fallback: bool = False


@dataclass(frozen=True)
class RateAnswer:
    """The answer of :meth:`FxRateBook.get_fx_rate`: the rate, and how it was made.

    ``how`` is ``direct``, ``inverse`` (1 / the stored opposite pair) or ``triangulated`` (through
    ``via``, from ``legs``); ``timestamp`` is the oldest leg's.
    """

    base: str
    quote: str
    rate: Decimal
    timestamp: datetime
    how: str
    legs: tuple[StoredRate, ...]
    via: str | None = None

    @property
    def sources(self) -> list[str]:
        """The sources of the legs."""
        return [leg.source for leg in self.legs]


class FxRateBook:
    """Rates by pair and time (in memory; the store behind it is the integrator's choice)."""

    def __init__(self) -> None:
        self._rates: dict[Pair, list[StoredRate]] = {}

    def add(self, rate: StoredRate) -> None:
        """Keep ``rate`` (a later add for the same pair and time replaces it)."""
        series = self._rates.setdefault((rate.base, rate.quote), [])
        stamps = [r.timestamp for r in series]
        index = bisect.bisect_left(stamps, rate.timestamp)
        if index < len(series) and series[index].timestamp == rate.timestamp:
            series[index] = rate
        else:
            series.insert(index, rate)

    def _at(self, pair: Pair, at: datetime | None) -> StoredRate | None:
        series = self._rates.get(pair)
        if not series:
            return None
        if at is None:
            return series[-1]
        index = bisect.bisect_right([r.timestamp for r in series], at)
        return series[index - 1] if index else None

    def _leg(self, base: str, quote: str, at: datetime | None) -> tuple[Decimal, StoredRate, bool] | None:
        direct = self._at((base, quote), at)
        if direct is not None:
            return direct.mid, direct, False
        inverse = self._at((quote, base), at)
        if inverse is not None:
            return 1 / inverse.mid, inverse, True
        return None

    def get_fx_rate(self, base: str, quote: str, at: datetime | None = None) -> RateAnswer:
        """The rate of ``base`` in ``quote`` known at ``at`` (latest when None): direct, inverse, or
        triangulated through USD.

        Raises:
            NotFound: no rate for the pair, its inverse, or both USD legs at that time.
        """
        base, quote = base.upper(), quote.upper()
        if base == quote:
            raise PayloadRejected(f"{base}/{quote} is not a currency pair", field="currency")
        leg = self._leg(base, quote, at)
        if leg is not None:
            rate, stored, inverted = leg
            return RateAnswer(
                base, quote, rate, stored.timestamp, "inverse" if inverted else "direct", (stored,)
            )
        if "USD" not in (base, quote):
            first, second = self._leg(base, "USD", at), self._leg("USD", quote, at)
            if first is not None and second is not None:
                legs = (first[1], second[1])
                stamp = min(leg.timestamp for leg in legs)
                return RateAnswer(base, quote, first[0] * second[0], stamp, "triangulated", legs, via="USD")
        when = f" at {at.isoformat()}" if at else ""
        raise NotFound(f"no {base}/{quote} rate{when}, directly, inverted or through USD")

    def export(self) -> list[dict[str, Any]]:
        """Every stored rate as a row (pair, bid, ask, mid, time, source, fallback), by pair then time."""
        return [
            {
                "base": r.base,
                "quote": r.quote,
                "bid": r.bid,
                "ask": r.ask,
                "mid": r.mid,
                "timestamp": r.timestamp.isoformat(),
                "source": r.source,
                "fallback": r.fallback,
            }
            for pair in sorted(self._rates)
            for r in self._rates[pair]
        ]


_TABLE: Any = None


def _fx_feed_table() -> sa.Table:
    """``fx_feed_rates``: one row per pair and quote time (declared on first use: SQLAlchemy is slow to import)."""
    global _TABLE
    if _TABLE is None:
        import sqlalchemy as sa

        from portico.store import metadata  # lazy: cold start (SQLAlchemy)

        _TABLE = sa.Table(
            "fx_feed_rates",
            metadata(),
            sa.Column("base", sa.String(3), primary_key=True),
            sa.Column("quote", sa.String(3), primary_key=True),
            sa.Column("timestamp", sa.String(40), primary_key=True),  # ISO 8601 UTC: sorts as text
            sa.Column("mid", sa.String(40), nullable=False),  # Decimal as text: no float rounding
            sa.Column("bid", sa.String(40)),
            sa.Column("ask", sa.String(40)),
            sa.Column("source", sa.String(64), nullable=False),
            sa.Column("fallback", sa.Boolean, nullable=False),
        )
    return _TABLE


class StoredFxRateBook(FxRateBook):
    """A rate book kept in portico's store (SQLite by default), loaded back when created.

    Args:
        database: the embedded database (the runtime's ``context.store``).
    """

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._db = database
        self._table = _fx_feed_table()
        database.ensure_tables(self._table)
        import sqlalchemy as sa

        with database.begin() as conn:
            for row in conn.execute(sa.select(self._table)).mappings():
                super().add(
                    StoredRate(
                        row["base"], row["quote"], Decimal(row["mid"]),
                        None if row["bid"] is None else Decimal(row["bid"]),
                        None if row["ask"] is None else Decimal(row["ask"]),
                        datetime.fromisoformat(row["timestamp"]), row["source"], bool(row["fallback"]),
                    )
                )  # fmt: skip

    def add(self, rate: StoredRate) -> None:
        """Keep ``rate`` in memory and in the store (the same pair and time is replaced)."""
        import sqlalchemy as sa

        stamp = rate.timestamp.astimezone(UTC).isoformat()
        key = (
            (self._table.c.base == rate.base)
            & (self._table.c.quote == rate.quote)
            & (self._table.c.timestamp == stamp)
        )
        values = {
            "base": rate.base, "quote": rate.quote, "timestamp": stamp, "mid": str(rate.mid),
            "bid": None if rate.bid is None else str(rate.bid), "ask": None if rate.ask is None else str(rate.ask),
            "source": rate.source, "fallback": rate.fallback,
        }  # fmt: skip
        with self._db.begin() as conn:
            conn.execute(sa.delete(self._table).where(key))
            conn.execute(sa.insert(self._table).values(**values))
        super().add(rate)


@dataclass
class FeedCycle:
    """What one cycle did."""

    started: datetime
    finished: datetime | None = None
    primary_attempts: int = 0
    from_primary: set[Pair] = field(default_factory=set)
    from_fallback: set[Pair] = field(default_factory=set)
    failed: dict[Pair, str] = field(default_factory=dict)
    primary_reasons: dict[Pair, str] = field(default_factory=dict)
    """Why the primary did not give each pair that fell back (its last answer)."""


class FxRateFeed:
    """Pulls ``pairs`` from ``primary`` each cycle, falling back per pair to ``secondary``.

    Args:
        primary: the main source (this connector).
        secondary: the fallback, or None.
        pairs: the (base, quote) pairs to keep.
        book: where rates are stored.
        clock: time source (retry pauses, cycle spacing, staleness).
        alert: receives ``fx.fallback`` (warning) when pairs fell back or failed, once per cycle.
        attempts: primary attempts per cycle before falling back (3: the integration plan's retries).
        retry_delay: seconds between primary attempts.
        max_age: a quote older than this many seconds is stale and refused.
        interval: seconds between cycle starts (900: every 15 minutes).
    """

    def __init__(
        self,
        primary: _Primary,
        secondary: _Secondary | None,
        pairs: Iterable[Pair],
        *,
        book: FxRateBook,
        clock: Clock,
        alert: AlertSink,
        attempts: int = 3,
        retry_delay: float = 30.0,
        max_age: float = 900.0,
        interval: float = 900.0,
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.pairs = list(dict.fromkeys((b.upper(), q.upper()) for b, q in pairs))
        if not self.pairs:
            raise PayloadRejected("the FX feed needs at least one currency pair", field="pairs")
        if attempts < 1 or retry_delay < 0 or max_age <= 0 or interval <= 0:
            raise PayloadRejected(
                "attempts >= 1, retry_delay >= 0, max_age > 0 and interval > 0 are required", field="feed"
            )
        self.book = book
        self.clock = clock
        self.alert = alert
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.max_age = max_age
        self.interval = interval
        self.cycles: list[FeedCycle] = []

    async def run_cycle(self) -> FeedCycle:
        """One pull: the primary (``attempts`` times for what is still missing), then the fallback."""
        cycle = FeedCycle(started=self.clock.now())
        remaining = list(self.pairs)
        reasons: dict[Pair, str] = {}
        for attempt in range(1, self.attempts + 1):
            cycle.primary_attempts = attempt
            try:
                answer = await self.primary.get_fx_rates(remaining, max_age=self.max_age)
            except PorticoError as exc:
                reasons = dict.fromkeys(remaining, f"{type(exc).__name__}: {exc.message}")
            else:
                for pair, rate in answer.rates.items():
                    self.book.add(_stored(rate, self.primary.system))
                    cycle.from_primary.add(pair)
                reasons = dict(answer.missing)
                remaining = [p for p in remaining if p in answer.missing]
            if not remaining:
                break
            if attempt < self.attempts:
                await self.clock.sleep(self.retry_delay)
        cycle.primary_reasons = {p: reasons.get(p, "not answered") for p in remaining}
        for pair in remaining:
            await self._fall_back(pair, cycle)
        cycle.finished = self.clock.now()
        if cycle.from_fallback or cycle.failed:
            self.alert(
                "fx.fallback",
                severity="warning",
                primary=self.primary.system,
                secondary=self.secondary.system if self.secondary else None,
                fell_back=sorted(f"{b}/{q}" for b, q in cycle.from_fallback),
                failed=sorted(f"{b}/{q}" for b, q in cycle.failed),
                reasons={f"{b}/{q}": why for (b, q), why in cycle.primary_reasons.items()},
            )
        self.cycles.append(cycle)
        return cycle

    async def _fall_back(self, pair: Pair, cycle: FeedCycle) -> None:
        if self.secondary is None:
            cycle.failed[pair] = "no secondary source"
            return
        try:
            rate = await self.secondary.get_fx_rate(*pair)
        except PorticoError as exc:
            cycle.failed[pair] = f"{type(exc).__name__}: {exc.message}"
            return
        problem = self._problem(rate)
        if problem:
            cycle.failed[pair] = problem
            return
        self.book.add(_stored(rate, self.secondary.system, fallback=True))
        cycle.from_fallback.add(pair)

    def _problem(self, rate: FxRate) -> str | None:
        if rate.bid is not None and rate.ask is not None and rate.bid > rate.ask:
            return f"crossed quote (bid {rate.bid} > ask {rate.ask})"
        if rate.rate <= 0:
            return f"non-positive rate {rate.rate}"
        if self.clock.now() - rate.timestamp > timedelta(seconds=self.max_age):
            return f"stale quote from {rate.timestamp.isoformat()}"
        return None

    async def run(self, stop: asyncio.Event, *, max_cycles: int | None = None) -> None:
        """Run cycles every ``interval`` seconds (from each cycle's start) until ``stop`` is set (or
        ``max_cycles`` have run). A cycle that overruns the interval is followed at once by the next."""
        done = 0
        while not stop.is_set():
            cycle = await self.run_cycle()
            done += 1
            if stop.is_set() or (max_cycles is not None and done >= max_cycles):
                return
            spent = (self.clock.now() - cycle.started).total_seconds()
            await self.clock.sleep(max(0.0, self.interval - spent))


def _stored(rate: FxRate, source: str, *, fallback: bool = False) -> StoredRate:
    return StoredRate(rate.base, rate.quote, rate.rate, rate.bid, rate.ask, rate.timestamp, source, fallback)
