"""Account and quote state for pre-trade checks, read from the venue at most once per bounded age.

Checking buying power before every buy used to cost two GETs per order (the account, then the latest
quote to price a market order). While the system's order stream is up, the trading service instead
keeps the last account snapshot and quote for at most ``trading.account_state_max_age`` seconds, and
never trusts a snapshot further than the orders it knows of: the estimated value of every buy it has
cleared since is held back from the snapshot's buying power until a snapshot taken after that order's
answer came back replaces it (the venue's own figure then includes the order). Positions (for sells)
are kept the same way until any fill on the system is seen (the service's open sell orders are held
back from them as from a fresh read, and a fill moves both). Orders placed outside this service are
seen at the next snapshot, so the staleness bound is the age limit. Without an order stream (or with
the age at 0) every check reads the venue, as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from portico.clock import Clock
from portico.models import Account, Position, Quote

__all__ = ["AccountSnapshots", "Reservation"]


@dataclass
class Reservation:
    """The estimated value of one cleared buy, held back from snapshots that may not include it."""

    value: Decimal
    settled_at: int | None = None
    """When the placement's answer came back, on the snapshots' own sequence (None while in flight)."""


@dataclass
class _Snapshot:
    account: Account
    taken_at: float
    """Monotonic time the GET that produced it was started."""


@dataclass
class _Entry:
    snapshot: _Snapshot | None = None
    reservations: dict[int, Reservation] = field(default_factory=dict)
    held: Decimal = Decimal(0)
    """The sum of ``reservations``' values, kept as they change: every buy reads it, and the buys
    cleared since the last snapshot can number in the hundreds while the order stream runs."""


class AccountSnapshots:
    """Per (system, account): the last account read and the buys cleared since; per (system, symbol):
    the last quote.

    Args:
        clock: the service's clock (its monotonic time bounds the age).
        max_age: seconds a snapshot or quote may be reused; 0 never reuses one.
    """

    def __init__(self, clock: Clock, max_age: float) -> None:
        self.clock = clock
        self.max_age = max_age
        self._accounts: dict[tuple[str, str | None], _Entry] = {}
        self._quotes: dict[tuple[str, str], tuple[Quote, float]] = {}
        self._positions: dict[tuple[str, str | None], tuple[list[Position], float]] = {}
        self._fills: dict[str, int] = {}
        self._ids = itertools.count(1)
        # orders events (a read starting, a placement answering) without relying on the clock moving
        self._sequence = itertools.count(1)

    def _entry(self, system: str, account_id: str | None) -> _Entry:
        return self._accounts.setdefault((system, account_id), _Entry())

    async def account(
        self,
        system: str,
        account_id: str | None,
        read: Callable[[], Awaitable[Account]],
        *,
        reuse: bool,
    ) -> Account:
        """The account with the buying power still free of the buys cleared since its snapshot.

        ``reuse`` False (no order stream up) always reads the venue.
        """
        entry = self._entry(system, account_id)
        now = self.clock.monotonic()
        snap = entry.snapshot
        if not reuse or self.max_age <= 0 or snap is None or now - snap.taken_at > self.max_age:
            started, begun = self.clock.monotonic(), next(self._sequence)
            account = await read()
            snap = entry.snapshot = _Snapshot(account, started)
            # buys answered before this read began are in the venue's figure now
            entry.reservations = {
                k: r for k, r in entry.reservations.items() if r.settled_at is None or r.settled_at > begun
            }
            entry.held = sum((r.value for r in entry.reservations.values()), Decimal(0))
        held = entry.held
        account = snap.account
        if held and account.buying_power is not None:
            account = account.model_copy(update={"buying_power": account.buying_power - held})
        return account

    def reserve(self, system: str, account_id: str | None, value: Decimal) -> int:
        """Hold ``value`` back from the buying power until a later snapshot includes the order."""
        token = next(self._ids)
        entry = self._entry(system, account_id)
        entry.reservations[token] = Reservation(value)
        entry.held += value
        return token

    def settle(self, system: str, account_id: str | None, token: int, *, placed: bool) -> None:
        """The placement answered: ``placed`` False (refused, never sent) releases the value."""
        entry = self._entry(system, account_id)
        reservations = entry.reservations
        if not placed:
            released = reservations.pop(token, None)
            if released is not None:
                entry.held -= released.value
        elif token in reservations:
            reservations[token].settled_at = next(self._sequence)

    async def quote(
        self, system: str, symbol: str, read: Callable[[], Awaitable[Quote | None]], *, reuse: bool
    ) -> Quote | None:
        """The latest quote of ``symbol``, read again once older than the age limit."""
        key = (system, symbol.upper())
        now = self.clock.monotonic()
        cached = self._quotes.get(key)
        if reuse and self.max_age > 0 and cached is not None and now - cached[1] <= self.max_age:
            return cached[0]
        quote = await read()
        if quote is None:
            self._quotes.pop(key, None)
        else:
            self._quotes[key] = (quote, now)
        return quote

    async def positions(
        self,
        system: str,
        account_id: str | None,
        read: Callable[[], Awaitable[list[Position]]],
        *,
        reuse: bool,
    ) -> list[Position]:
        """The account's positions, read again once older than the age limit or after a fill."""
        key = (system, account_id)
        now = self.clock.monotonic()
        cached = self._positions.get(key)
        if reuse and self.max_age > 0 and cached is not None and now - cached[1] <= self.max_age:
            return cached[0]
        fills = self._fills.get(system, 0)
        positions = await read()
        if self._fills.get(system, 0) == fills:
            # kept only when no fill was seen while the read was out (it may predate that fill)
            self._positions[key] = (positions, now)
        return positions

    def filled(self, system: str) -> None:
        """A fill on ``system`` was seen: its held positions moved, read them again next time."""
        self._fills[system] = self._fills.get(system, 0) + 1
        for key in [k for k in self._positions if k[0] == system]:
            del self._positions[key]

    def forget(self, system: str) -> None:
        """Drop every snapshot and quote of ``system`` (its order stream went down)."""
        for key in [k for k in self._accounts if k[0] == system]:
            entry = self._accounts[key]
            entry.snapshot = None
        for qkey in [k for k in self._quotes if k[0] == system]:
            del self._quotes[qkey]
        self.filled(system)
