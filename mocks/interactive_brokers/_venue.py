"""The simulated Interactive Brokers venue both IB mocks (Client Portal and TWS) trade on.

One venue holds the listings (with IB contract ids), a seeded price process, the accounts, orders and
fills. The wire layers (``tws/`` and the Client Portal app) translate their protocol into calls here
and subscribe to :class:`VenueEvent` notifications to push order updates and ticks to their clients.

Prices are deterministic for a seed: the live quote is a seeded random walk moved by :meth:`IbVenue.step`,
and historical bars come from a closed-form function of (seed, conid, bar start), so the same request
always answers the same bars.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "DEFAULT_ACCOUNT",
    "LISTINGS",
    "IbVenue",
    "Listing",
    "Quote",
    "VenueBar",
    "VenueError",
    "VenueEvent",
    "VenueFill",
    "VenueOrder",
]

DEFAULT_ACCOUNT = "DU1234567"
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Listing:
    """A tradable contract as IB describes it."""

    conid: int
    symbol: str
    name: str
    exchange: str
    base_price: Decimal
    currency: str = "USD"
    sec_type: str = "STK"
    min_tick: Decimal = Decimal("0.01")


# Real IB contract ids of these US stocks (as seen in IB's own documentation and examples).
LISTINGS: tuple[Listing, ...] = (
    Listing(265598, "AAPL", "APPLE INC", "NASDAQ", Decimal("190.00")),
    Listing(272093, "MSFT", "MICROSOFT CORP", "NASDAQ", Decimal("410.00")),
    Listing(8314, "IBM", "INTL BUSINESS MACHINES CORP", "NYSE", Decimal("170.00")),
    Listing(756733, "SPY", "SPDR S&P 500 ETF TRUST", "ARCA", Decimal("500.00")),
    Listing(3691937, "AMZN", "AMAZON.COM INC", "NASDAQ", Decimal("180.00")),
    Listing(76792991, "TSLA", "TESLA INC", "NASDAQ", Decimal("240.00")),
    Listing(4815747, "NVDA", "NVIDIA CORP", "NASDAQ", Decimal("120.00")),
    Listing(208813719, "GOOGL", "ALPHABET INC-CL A", "NASDAQ", Decimal("165.00")),
)


class VenueError(Exception):
    """The venue refuses a request; ``code`` is the IB error code the wire layers report."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Quote:
    """The live top of book and session statistics of one listing."""

    bid: Decimal
    ask: Decimal
    last: Decimal
    bid_size: int
    ask_size: int
    last_size: int
    volume: int
    high: Decimal
    low: Decimal
    open: Decimal
    close: Decimal
    """The prior session's close."""


@dataclass(frozen=True)
class VenueBar:
    """One OHLCV bar."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    wap: Decimal
    count: int


@dataclass
class VenueFill:
    """One execution of an order."""

    exec_id: str
    perm_id: int
    quantity: Decimal
    price: Decimal
    time: datetime
    commission: Decimal
    cum_qty: Decimal
    avg_price: Decimal


@dataclass
class VenueOrder:
    """An order at the venue, in IB's vocabulary (statuses ``PreSubmitted``, ``Submitted``, ``Filled``...)."""

    perm_id: int
    order_id: int
    client_id: int
    account: str
    listing: Listing
    action: str
    quantity: Decimal
    order_type: str
    tif: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    order_ref: str
    created: datetime
    status: str = "PreSubmitted"
    filled: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    last_fill_price: Decimal = Decimal(0)
    fills: list[VenueFill] = field(default_factory=list)
    updated: datetime | None = None
    completed_status: str = ""
    outside_rth: bool = False
    stop_triggered: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in {"PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel"}


@dataclass(frozen=True)
class VenueEvent:
    """A change the wire layers push to their clients.

    ``kind`` is ``order`` (status or fields changed), ``fill`` (``fill`` set), ``position`` (after a
    fill, the account's position in ``order.listing`` changed) or ``tick`` (``listing`` quote moved).
    """

    kind: str
    order: VenueOrder | None = None
    fill: VenueFill | None = None
    listing: Listing | None = None


Listener = Callable[[VenueEvent], None]

_BAR_SECONDS = {
    "1 secs": 1,
    "5 secs": 5,
    "1 min": 60,
    "2 mins": 120,
    "5 mins": 300,
    "15 mins": 900,
    "30 mins": 1800,
    "1 hour": 3600,
    "1 day": 86400,
    "1 week": 604800,
    "1 month": 2592000,
}


def _unit(seed: int, *parts: object) -> float:
    """A deterministic number in [0, 1) from the seed and ``parts``."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


class IbVenue:
    """A stateful simulated IB venue with one or more paper accounts.

    Args:
        seed: seeds the price process and order ids, so runs repeat.
        accounts: account id -> starting cash.
        now: the time source (wall clock by default; tests pass a fixed one).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        accounts: dict[str, Decimal] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.seed = seed
        self._now = now or (lambda: datetime.now(UTC))
        self._rng = random.Random(seed)
        self.listings: dict[int, Listing] = {listing.conid: listing for listing in LISTINGS}
        self.cash: dict[str, Decimal] = dict(accounts or {DEFAULT_ACCOUNT: Decimal("1000000.00")})
        self.realized: dict[str, Decimal] = {acct: Decimal(0) for acct in self.cash}
        # account -> conid -> (quantity, average cost)
        self.positions: dict[str, dict[int, tuple[Decimal, Decimal]]] = {acct: {} for acct in self.cash}
        self.orders: dict[int, VenueOrder] = {}
        self.fills: list[VenueFill] = []
        self._perm_ids = itertools.count(1_000_000 + self._rng.randrange(1_000_000))
        self._exec_seq = itertools.count(1)
        self._listeners: list[Listener] = []
        self.quotes: dict[int, Quote] = {
            conid: self._opening_quote(listing) for conid, listing in self.listings.items()
        }

    # -- plumbing ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The venue's current time (UTC)."""
        return self._now()

    @property
    def accounts(self) -> list[str]:
        """Account ids, in a stable order."""
        return list(self.cash)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every :class:`VenueEvent`; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _publish(self, event: VenueEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- instruments -------------------------------------------------------------------------------

    def listing(self, *, conid: int | None = None, symbol: str | None = None) -> Listing:
        """The listing by contract id or symbol; ``VenueError(200)`` when there is none."""
        if conid:
            found = self.listings.get(conid)
            if found is not None:
                return found
        if symbol:
            for listing in self.listings.values():
                if listing.symbol == symbol.upper():
                    return listing
        raise VenueError(200, "No security definition has been found for the request")

    def search(self, text: str) -> list[Listing]:
        """Listings whose symbol starts with, or whose name contains, ``text`` (symbol matches first)."""
        needle = text.strip().upper()
        by_symbol = [x for x in self.listings.values() if x.symbol.startswith(needle)]
        by_name = [x for x in self.listings.values() if needle in x.name and x not in by_symbol]
        return sorted(by_symbol, key=lambda x: (x.symbol != needle, x.symbol)) + by_name

    # -- prices ------------------------------------------------------------------------------------

    def _level(self, listing: Listing, at: datetime) -> float:
        """The slowly varying fair price of ``listing`` at ``at`` (closed form, so history is cheap)."""
        days = at.timestamp() / 86400
        phase = _unit(self.seed, listing.conid, "phase") * 2 * math.pi
        drift = 0.08 * math.sin(2 * math.pi * days / 97 + phase) + 0.03 * math.sin(
            2 * math.pi * days / 11 + phase
        )
        return float(listing.base_price) * (1 + drift)

    def _opening_quote(self, listing: Listing) -> Quote:
        mid = _money(self._level(listing, self.now()))
        spread = max(listing.min_tick, _money(float(mid) * 0.0002))
        close = _money(float(mid) * (1 + (self._rng.random() - 0.5) * 0.02))
        return Quote(
            bid=mid - spread,
            ask=mid + spread,
            last=mid,
            bid_size=self._rng.randrange(1, 20) * 100,
            ask_size=self._rng.randrange(1, 20) * 100,
            last_size=100,
            volume=self._rng.randrange(100_000, 5_000_000),
            high=max(mid, close) + spread * 10,
            low=min(mid, close) - spread * 10,
            open=close,
            close=close,
        )

    def step(self, conids: list[int] | None = None) -> None:
        """Move the price of each listing (all by default) one seeded random step and match resting orders."""
        for conid in conids or list(self.listings):
            listing = self.listings[conid]
            quote = self.quotes[conid]
            move = _money(float(quote.last) * self._rng.gauss(0, 0.0008))
            last = max(listing.min_tick * 10, quote.last + move)
            spread = max(listing.min_tick, _money(float(last) * 0.0002))
            quote.last = last
            quote.bid, quote.ask = last - spread, last + spread
            quote.bid_size = self._rng.randrange(1, 20) * 100
            quote.ask_size = self._rng.randrange(1, 20) * 100
            quote.last_size = self._rng.randrange(1, 10) * 100
            quote.volume += quote.last_size
            quote.high, quote.low = max(quote.high, last), min(quote.low, last)
            self._publish(VenueEvent("tick", listing=listing))
            self._match(listing)

    def bars(self, listing: Listing, bar_size: str, *, end: datetime, count: int) -> list[VenueBar]:
        """``count`` bars of ``bar_size`` (an IB bar size setting like ``"1 day"``) ending at ``end``."""
        try:
            seconds = _BAR_SECONDS[bar_size.strip()]
        except KeyError:
            raise VenueError(
                321, f"Error validating request.-'bQ' : cause - Invalid bar size '{bar_size}'"
            ) from None
        anchor = int(end.timestamp()) // seconds * seconds
        out: list[VenueBar] = []
        for index in range(count - 1, -1, -1):
            start_ts = anchor - index * seconds
            start = datetime.fromtimestamp(start_ts, UTC)
            base = self._level(listing, start)
            width = base * 0.004 * math.sqrt(seconds / 60) ** 0.5
            u = [_unit(self.seed, listing.conid, seconds, start_ts, k) for k in range(4)]
            open_ = base + (u[0] - 0.5) * width
            close = base + (u[1] - 0.5) * width
            high = max(open_, close) + u[2] * width / 2
            low = min(open_, close) - u[3] * width / 2
            volume = int(
                1000 + _unit(self.seed, listing.conid, seconds, start_ts, "v") * 100_000 * seconds / 60
            )
            out.append(
                VenueBar(
                    start=start,
                    open=_money(open_),
                    high=_money(high),
                    low=_money(low),
                    close=_money(close),
                    volume=volume,
                    wap=_money((high + low + close) / 3),
                    count=max(1, volume // 100),
                )
            )
        return out

    # -- accounts ----------------------------------------------------------------------------------

    def _account(self, account: str | None) -> str:
        if not account:
            return self.accounts[0]
        if account not in self.cash:
            raise VenueError(321, f"Error validating request.-'bN' : cause - Invalid account {account}")
        return account

    def market_value(self, account: str) -> Decimal:
        """The account's positions at the last price."""
        return sum(
            (qty * self.quotes[conid].last for conid, (qty, _cost) in self.positions[account].items()),
            start=Decimal(0),
        )

    def account_values(self, account: str) -> dict[str, Decimal]:
        """IB account value tags (``NetLiquidation``, ``TotalCashValue``...) in the base currency."""
        account = self._account(account)
        cash = self.cash[account]
        gross = sum(
            (abs(qty) * self.quotes[conid].last for conid, (qty, _c) in self.positions[account].items()),
            start=Decimal(0),
        )
        net = cash + self.market_value(account)
        init_margin = _money(gross * Decimal("0.25"))
        return {
            "NetLiquidation": _money(net),
            "TotalCashValue": _money(cash),
            "CashBalance": _money(cash),
            "GrossPositionValue": _money(gross),
            "EquityWithLoanValue": _money(net),
            "InitMarginReq": init_margin,
            "MaintMarginReq": init_margin,
            "AvailableFunds": _money(net - init_margin),
            "ExcessLiquidity": _money(net - init_margin),
            "BuyingPower": _money((net - init_margin) * 4),
            "RealizedPnL": _money(self.realized[account]),
            "UnrealizedPnL": _money(self.unrealized(account)),
        }

    def unrealized(self, account: str) -> Decimal:
        """Unrealized profit and loss of the account's positions."""
        return sum(
            (
                (self.quotes[conid].last - cost) * qty
                for conid, (qty, cost) in self.positions[account].items()
            ),
            start=Decimal(0),
        )

    # -- orders ------------------------------------------------------------------------------------

    def find_order(self, *, client_id: int, order_id: int) -> VenueOrder | None:
        """The order a TWS client placed under ``order_id``."""
        for order in self.orders.values():
            if order.client_id == client_id and order.order_id == order_id:
                return order
        return None

    def find_by_ref(self, order_ref: str, *, account: str | None = None) -> VenueOrder | None:
        """The order placed with the client reference (``orderRef`` / ``cOID``)."""
        for order in self.orders.values():
            if order.order_ref == order_ref and (account is None or order.account == account):
                return order
        return None

    def place(
        self,
        *,
        client_id: int,
        order_id: int,
        account: str | None,
        listing: Listing,
        action: str,
        quantity: Decimal,
        order_type: str,
        tif: str,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        order_ref: str,
        outside_rth: bool = False,
    ) -> VenueOrder:
        """Accept a new order, or raise :class:`VenueError` with IB's code and text."""
        account = self._account(account)
        action = action.upper()
        order_type = order_type.upper()
        if action not in {"BUY", "SELL", "SSHORT"}:
            raise VenueError(321, f"Error validating request.-'bF' : cause - Invalid side {action}")
        if quantity <= 0:
            raise VenueError(434, "The order size cannot be zero.")
        if order_type not in {"MKT", "LMT", "STP", "STP LMT"}:
            raise VenueError(387, "Unsupported order type for this exchange and security type.")
        if order_type in {"LMT", "STP LMT"} and (limit_price is None or limit_price <= 0):
            raise VenueError(321, "Error validating request.-'bX' : cause - Limit price must be set")
        if order_type in {"STP", "STP LMT"} and (stop_price is None or stop_price <= 0):
            raise VenueError(321, "Error validating request.-'bX' : cause - Stop price must be set")
        if tif.upper() not in {"DAY", "GTC", "IOC", "OPG", "FOK", "GTD"}:
            raise VenueError(321, f"Error validating request.-'bK' : cause - Invalid time in force {tif}")
        now = self.now()
        order = VenueOrder(
            perm_id=next(self._perm_ids),
            order_id=order_id,
            client_id=client_id,
            account=account,
            listing=listing,
            action=action,
            quantity=quantity,
            order_type=order_type,
            tif=tif.upper(),
            limit_price=limit_price,
            stop_price=stop_price,
            order_ref=order_ref,
            created=now,
            updated=now,
            outside_rth=outside_rth,
        )
        self.orders[order.perm_id] = order
        order.status = "Submitted" if order_type in {"MKT", "LMT"} else "PreSubmitted"
        self._publish(VenueEvent("order", order=order))
        self._match(listing, only=order)
        if order.is_open and order.tif in {"IOC", "FOK"}:
            self._finish(order, "Cancelled")
        return order

    def modify(
        self,
        order: VenueOrder,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        tif: str | None = None,
    ) -> VenueOrder:
        """Change an open order in place (IB keeps the order id on modify)."""
        if not order.is_open:
            raise VenueError(
                10148,
                f"OrderId {order.order_id} that needs to be cancelled cannot be modified, state: {order.status}.",
            )
        if quantity is not None:
            if quantity < order.filled or quantity <= 0:
                raise VenueError(434, "The order size cannot be zero or less than the filled quantity.")
            order.quantity = quantity
        if limit_price is not None:
            order.limit_price = limit_price
        if stop_price is not None:
            order.stop_price = stop_price
        if tif is not None:
            order.tif = tif.upper()
        order.updated = self.now()
        self._publish(VenueEvent("order", order=order))
        self._match(order.listing, only=order)
        return order

    def cancel(self, order: VenueOrder) -> VenueOrder:
        """Cancel an open order; ``VenueError(10148)`` when it is already done."""
        if not order.is_open:
            raise VenueError(
                10148,
                f"OrderId {order.order_id} that needs to be cancelled cannot be cancelled, state: {order.status}.",
            )
        self._finish(order, "Cancelled")
        return order

    def _finish(self, order: VenueOrder, status: str) -> None:
        order.status = status
        order.completed_status = status
        order.updated = self.now()
        self._publish(VenueEvent("order", order=order))

    def _fill_price(self, order: VenueOrder, quote: Quote) -> Decimal | None:
        """The price ``order`` executes at against ``quote`` now, or None when it does not execute."""
        buying = order.action == "BUY"
        touch = quote.ask if buying else quote.bid
        kind = order.order_type
        if kind in {"STP", "STP LMT"} and not order.stop_triggered:
            assert order.stop_price is not None
            triggered = quote.last >= order.stop_price if buying else quote.last <= order.stop_price
            if not triggered:
                return None
            order.stop_triggered = True
            order.status = "Submitted"
        if kind in {"MKT", "STP"}:
            return touch
        assert order.limit_price is not None
        if buying and touch <= order.limit_price:
            return touch
        if not buying and touch >= order.limit_price:
            return touch
        return None

    def _match(self, listing: Listing, *, only: VenueOrder | None = None) -> None:
        quote = self.quotes[listing.conid]
        candidates = (
            [only]
            if only is not None
            else [o for o in self.orders.values() if o.listing.conid == listing.conid and o.is_open]
        )
        for order in candidates:
            if not order.is_open:
                continue
            price = self._fill_price(order, quote)
            if price is None:
                continue
            self._execute(order, order.remaining, price)

    def _execute(self, order: VenueOrder, quantity: Decimal, price: Decimal) -> None:
        now = self.now()
        cum = order.filled + quantity
        avg = ((order.avg_price * order.filled) + price * quantity) / cum
        commission = max(Decimal("1.00"), _money(quantity * Decimal("0.005")))
        fill = VenueFill(
            exec_id=f"0000e0d5.{order.perm_id:08x}.{next(self._exec_seq):02d}.01",
            perm_id=order.perm_id,
            quantity=quantity,
            price=price,
            time=now,
            commission=commission,
            cum_qty=cum,
            avg_price=avg.quantize(Decimal("0.0001")),
        )
        order.fills.append(fill)
        self.fills.append(fill)
        order.filled = cum
        order.avg_price = fill.avg_price
        order.last_fill_price = price
        order.updated = now
        signed = quantity if order.action == "BUY" else -quantity
        self._apply_position(order.account, order.listing.conid, signed, price)
        self.cash[order.account] -= signed * price + commission
        if order.filled >= order.quantity:
            order.status = "Filled"
            order.completed_status = "Filled"
        self._publish(VenueEvent("fill", order=order, fill=fill))
        self._publish(VenueEvent("order", order=order))
        self._publish(VenueEvent("position", order=order))

    def _apply_position(self, account: str, conid: int, signed: Decimal, price: Decimal) -> None:
        qty, cost = self.positions[account].get(conid, (Decimal(0), Decimal(0)))
        new_qty = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):
            new_cost = (qty * cost + signed * price) / new_qty if new_qty else Decimal(0)
        else:
            closed = min(abs(signed), abs(qty))
            self.realized[account] += (price - cost) * closed * (1 if qty > 0 else -1)
            new_cost = cost if new_qty and (new_qty > 0) == (qty > 0) else price
        if new_qty == 0:
            self.positions[account].pop(conid, None)
        else:
            self.positions[account][conid] = (new_qty, new_cost.quantize(Decimal("0.0001")))

    def seed_position(self, account: str, conid: int, quantity: Decimal, average_cost: Decimal) -> None:
        """Give an account a starting position (for demos and tests)."""
        self.positions[self._account(account)][conid] = (quantity, average_cost)

    def day_start(self) -> datetime:
        """Midnight UTC of the venue's current day."""
        now = self.now()
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    def recent(self, days: int) -> datetime:
        """``days`` before now."""
        return self.now() - timedelta(days=days)
