"""What a venue does to its holders when a corporate action of the seeded data takes effect.

At an action's ex date (midnight New York) a split multiplies every position in the symbol by its ratio
and divides the average entry price by it; a cash dividend entitles each long position held then to
``quantity x amount``, credited to the account's cash on the pay date and recorded as a ``DIV``
activity. The actions are the generator's, so the bars the mocks serve, the actions the market data
mocks report and what the broker mocks do to positions agree on one seed.

Events are applied lazily, in time order, whenever the venue is read or its clock moves, for every
moment since the last settlement; fills happen only inside the venue's matching, after settlement, so
a position bought after an ex date never receives that dividend.
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from portico.mocks._kit._data import NEW_YORK, CorporateActionData

if TYPE_CHECKING:
    from portico.mocks._kit._venue import SimulatedVenue

__all__ = ["CorporateActionDesk", "HolderActivity"]

_NAMESPACE = uuid.UUID("5b0f3d2e-8f8e-4c52-9a55-2f4c3a3c9d11")
_CENTS = Decimal("0.01")


@dataclass(frozen=True)
class HolderActivity:
    """A non-trade activity of an account: ``DIV`` (cash dividend paid) or ``SPLIT`` (shares changed)."""

    id: str
    account_id: str
    activity_type: str
    date: date
    timestamp: datetime
    symbol: str
    qty: Decimal
    per_share_amount: Decimal | None = None
    net_amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class _Entitlement:
    account_id: str
    symbol: str
    qty: Decimal
    action: CorporateActionData


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), NEW_YORK)


class CorporateActionDesk:
    """Applies the seeded corporate actions to a venue's positions and cash.

    Args:
        venue: the venue whose holders are served.
    """

    def __init__(self, venue: SimulatedVenue) -> None:
        self.venue = venue
        self.settled_until = venue.clock.now()
        self.activities: list[HolderActivity] = []
        self._pending: list[_Entitlement] = []

    def _id(self, *parts: object) -> str:
        return str(uuid.uuid5(_NAMESPACE, "|".join(map(str, (self.venue.seed, *parts)))))

    def settle(self, now: datetime) -> None:
        """Apply every split, ex date and payment in ``(settled_until, now]``, oldest first."""
        start = self.settled_until
        if now <= start:
            return
        venue = self.venue
        first, last = venue.data.local_day(start), venue.data.local_day(now)
        if first == last and all(_midnight(e.action.pay_date) > now for e in self._pending):
            # every event falls at a New York midnight: none lies inside one day after its first
            # instant, so within the day only a payment already due could take effect
            self.settled_until = now
            return
        events: list[tuple[datetime, int, str, object]] = []
        seq = 0
        symbols = sorted({p.symbol for p in venue.positions.values() if p.qty != 0})
        for symbol in symbols:
            for action in venue.data.corporate_actions(symbol, first, last):
                at = _midnight(action.ex_date)
                if start < at <= now:
                    events.append((at, seq, "ex", action))
                    seq += 1
        for entitlement in self._pending:
            events.append((_midnight(entitlement.action.pay_date), seq, "pay", entitlement))
            seq += 1
        events.sort(key=lambda e: (e[0], e[1]))
        self._pending = []
        while events:
            at, _, kind, item = events.pop(0)
            if at > now:
                assert isinstance(item, _Entitlement)
                self._pending.append(item)
                continue
            if kind == "pay":
                assert isinstance(item, _Entitlement)
                self._pay(item, at)
                continue
            assert isinstance(item, CorporateActionData)
            if item.kind == "split" and item.ratio_from and item.ratio_to:
                self._split(item, at)
            elif item.kind == "cash_dividend" and item.cash_amount:
                for pos in list(venue.positions.values()):
                    if pos.symbol == item.symbol and pos.qty > 0:
                        entitlement = _Entitlement(pos.account_id, pos.symbol, pos.qty, item)
                        event = (_midnight(item.pay_date), seq, "pay", entitlement)
                        seq += 1
                        bisect.insort(events, event, key=lambda e: (e[0], e[1]))
        self.settled_until = now

    def _split(self, action: CorporateActionData, at: datetime) -> None:
        assert action.ratio_from and action.ratio_to
        ratio = Decimal(action.ratio_to) / Decimal(action.ratio_from)
        for pos in self.venue.positions.values():
            if pos.symbol != action.symbol or pos.qty == 0:
                continue
            before = pos.qty
            pos.qty = before * ratio
            pos.avg_entry_price = (pos.avg_entry_price / ratio).quantize(Decimal("0.000001"))
            pos.lastday_price = (pos.lastday_price / ratio).quantize(_CENTS)
            self.activities.append(
                HolderActivity(
                    id=self._id(pos.account_id, action.symbol, action.ex_date, "SPLIT"),
                    account_id=pos.account_id,
                    activity_type="SPLIT",
                    date=action.ex_date,
                    timestamp=at,
                    symbol=action.symbol,
                    qty=pos.qty - before,
                )
            )
        self.venue.version += 1

    def _pay(self, entitlement: _Entitlement, at: datetime) -> None:
        action = entitlement.action
        assert action.cash_amount is not None
        rate = Decimal(str(action.cash_amount))
        amount = (entitlement.qty * rate).quantize(_CENTS, rounding=ROUND_HALF_UP)
        account = self.venue.accounts[entitlement.account_id]
        account.cash += amount
        self.activities.append(
            HolderActivity(
                id=self._id(entitlement.account_id, action.symbol, action.ex_date, "DIV"),
                account_id=entitlement.account_id,
                activity_type="DIV",
                date=action.pay_date,
                timestamp=at,
                symbol=action.symbol,
                qty=entitlement.qty,
                per_share_amount=rate,
                net_amount=amount,
            )
        )
        self.venue.version += 1

    def list(
        self,
        *,
        account_id: str,
        types: set[str] | None = None,
        after: datetime | None = None,
        until: datetime | None = None,
    ) -> list[HolderActivity]:
        """The account's activities, oldest first (``after`` exclusive, ``until`` exclusive)."""
        return [
            a
            for a in self.activities
            if a.account_id == account_id
            and (types is None or a.activity_type in types)
            and (after is None or a.timestamp > after)
            and (until is None or a.timestamp < until)
        ]

    @staticmethod
    def window(day: date) -> tuple[datetime, datetime]:
        """``after`` and ``until`` covering one date's activities."""
        return _midnight(day) - timedelta(microseconds=1), _midnight(day + timedelta(days=1))
