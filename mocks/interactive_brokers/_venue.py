"""The Interactive Brokers view of the kit's simulated venue, shared by both IB mocks.

The kit's :class:`~portico.mocks.SimulatedVenue` holds accounts, orders, positions and the matching
engine, priced by the seeded market data generator on the mock clock. This adapter adds what IB has and
the kit does not: contract ids (conids), IB account ids (``DU...``), permanent order ids, TWS order ids
per API client, ``orderRef``, IB status names (``PreSubmitted``, ``Submitted``, ``Filled``,
``Cancelled``), execution ids and commissions, in-place order modification, and quotes with sizes.

The wire layers (``tws/`` and the Client Portal app) call this adapter and subscribe to its
:class:`VenueEvent` notifications (``order``, ``fill``, ``position``, ``tick``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from portico.mocks._kit import NEW_YORK, MockClock, OrderState, SimulatedVenue, is_trading_day
from portico.mocks._kit import VenueError as KitVenueError
from portico.mocks._kit import VenueEvent as KitVenueEvent

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
    currency: str = "USD"
    sec_type: str = "STK"
    min_tick: Decimal = Decimal("0.01")


# IB contract ids of these US stocks, as IB's own documentation and examples show them.
LISTINGS: tuple[Listing, ...] = (
    Listing(265598, "AAPL", "APPLE INC", "NASDAQ"),
    Listing(272093, "MSFT", "MICROSOFT CORP", "NASDAQ"),
    Listing(8314, "IBM", "INTL BUSINESS MACHINES CORP", "NYSE"),
    Listing(756733, "SPY", "SPDR S&P 500 ETF TRUST", "ARCA"),
    Listing(3691937, "AMZN", "AMAZON.COM INC", "NASDAQ"),
    Listing(76792991, "TSLA", "TESLA INC", "NASDAQ"),
    Listing(4815747, "NVDA", "NVIDIA CORP", "NASDAQ"),
    Listing(208813719, "GOOGL", "ALPHABET INC-CL A", "NASDAQ"),
)

_KIT_ERRORS = {
    "insufficient_buying_power": 201,
    "insufficient_qty": 201,
    "not_found": 10147,
    "duplicate_client_order_id": 103,
    "invalid": 321,
    "unknown_asset": 200,
    "not_cancelable": 10148,
    "not_replaceable": 10148,
}

_BAR_SIZES: dict[str, tuple[str, int]] = {
    # IB bar size setting: (kit timeframe, seconds)
    "1 min": ("1min", 60),
    "5 mins": ("5min", 300),
    "15 mins": ("15min", 900),
    "30 mins": ("30min", 1800),
    "1 hour": ("1hour", 3600),
    "1 day": ("1day", 86400),
    "1 week": ("1week", 604800),
    "1 month": ("1month", 2592000),
}


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
    at: datetime


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
    """One execution of an order, in IB terms."""

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
    """An order in IB's vocabulary over the kit's order (``state``, refreshed on every change)."""

    perm_id: int
    order_id: int
    client_id: int
    account: str
    listing: Listing
    order_ref: str
    venue_id: str
    state: OrderState
    fills: list[VenueFill] = field(default_factory=list)
    outside_rth: bool = False
    origin: str = "tws"

    @property
    def action(self) -> str:
        return "BUY" if self.state.side == "buy" else "SELL"

    @property
    def quantity(self) -> Decimal:
        return self.state.qty or Decimal(0)

    @property
    def order_type(self) -> str:
        return {"market": "MKT", "limit": "LMT", "stop": "STP", "stop_limit": "STP LMT"}.get(
            self.state.order_type, self.state.order_type.upper()
        )

    @property
    def tif(self) -> str:
        return self.state.time_in_force.upper()

    @property
    def limit_price(self) -> Decimal | None:
        return self.state.limit_price

    @property
    def stop_price(self) -> Decimal | None:
        return self.state.stop_price

    @property
    def filled(self) -> Decimal:
        return self.state.filled_qty

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def avg_price(self) -> Decimal:
        return self.state.filled_avg_price or Decimal(0)

    @property
    def last_fill_price(self) -> Decimal:
        return self.fills[-1].price if self.fills else Decimal(0)

    @property
    def created(self) -> datetime:
        return self.state.created_at

    @property
    def updated(self) -> datetime | None:
        return self.state.updated_at

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def status(self) -> str:
        """IB's status name: stops not yet triggered are ``PreSubmitted``, working orders ``Submitted``."""
        kit = self.state.status
        if kit == "filled":
            return "Filled"
        if kit in {"canceled", "expired", "replaced"}:
            return "Cancelled"
        if kit == "rejected":
            return "Inactive"
        if self.state.order_type in {"stop", "stop_limit"} and not self.state.triggered:
            return "PreSubmitted"
        return "Submitted"

    @property
    def completed_status(self) -> str:
        return self.status if not self.is_open else ""


@dataclass(frozen=True)
class VenueEvent:
    """A change pushed to the wire layers.

    ``kind`` is ``order`` (status or fields changed), ``fill`` (``fill`` set), ``position`` (after a
    fill, the account's position in ``order.listing`` changed) or ``tick`` (``listing`` quote moved).
    """

    kind: str
    order: VenueOrder | None = None
    fill: VenueFill | None = None
    listing: Listing | None = None


Listener = Callable[[VenueEvent], None]


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


class IbVenue:
    """Interactive Brokers on the kit's simulated venue.

    Args:
        seed: seeds prices and ids (ignored when ``venue`` is given).
        venue: the simulated venue to trade on (a new one with a frozen mock clock by default).
        clock: the mock clock of a new venue.
        cash: starting cash of the IB paper account.
        tick_seconds: how far :meth:`step` moves a frozen clock (simulated seconds per tick).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        venue: SimulatedVenue | None = None,
        clock: MockClock | None = None,
        cash: Decimal = Decimal("1000000.00"),
        tick_seconds: float = 5.0,
    ) -> None:
        # splits and dividends of the seeded data reach positions and cash as the clock passes them
        self.venue = venue or SimulatedVenue(
            seed, clock=clock or MockClock(), starting_cash=cash, corporate_actions=True
        )
        self.clock = self.venue.clock
        self.seed = self.venue.seed
        self.tick_seconds = tick_seconds
        self.listings: dict[int, Listing] = {listing.conid: listing for listing in LISTINGS}
        self._by_symbol = {listing.symbol: listing for listing in LISTINGS}
        # IB account id -> kit account id
        self._accounts: dict[str, str] = {DEFAULT_ACCOUNT: self.venue.default_account_id}
        self.venue.account().cash = _money(cash)
        self.orders: dict[int, VenueOrder] = {}
        self._by_venue_id: dict[str, VenueOrder] = {}
        self.fills: list[VenueFill] = []
        self._perm_ids = itertools.count(1_000_000 + self.venue.seed % 1_000_000)
        self._exec_seq = itertools.count(1)
        self._listeners: list[Listener] = []
        self._placing: VenueOrder | None = None
        """The order being placed: the kit announces it (and may fill it) before place_order returns."""
        self._sizes = itertools.cycle((100, 200, 300, 500, 800, 1300, 2100))
        self.venue.subscribe(self._on_kit_event)

    # -- plumbing ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The venue's current (simulated) time."""
        return self.clock.now()

    @property
    def accounts(self) -> list[str]:
        """IB account ids, in a stable order."""
        return list(self._accounts)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every :class:`VenueEvent`; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _publish(self, event: VenueEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _kit_account(self, account: str | None) -> str:
        if not account:
            return self._accounts[self.accounts[0]]
        try:
            return self._accounts[account]
        except KeyError:
            raise VenueError(
                321, f"Error validating request.-'bN' : cause - Invalid account {account}"
            ) from None

    def _ib_account(self, kit_id: str) -> str:
        for ib_id, kit in self._accounts.items():
            if kit == kit_id:
                return ib_id
        return kit_id

    # -- instruments -------------------------------------------------------------------------------

    def listing(self, *, conid: int | None = None, symbol: str | None = None) -> Listing:
        """The listing by contract id or symbol; ``VenueError(200)`` when there is none."""
        if conid:
            found = self.listings.get(conid)
            if found is not None:
                return found
        if symbol:
            found = self._by_symbol.get(symbol.upper())
            if found is not None:
                return found
        raise VenueError(200, "No security definition has been found for the request")

    def search(self, text: str) -> list[Listing]:
        """Listings whose symbol starts with, or whose name contains, ``text`` (symbol matches first)."""
        needle = text.strip().upper()
        by_symbol = [x for x in self.listings.values() if x.symbol.startswith(needle)]
        by_name = [x for x in self.listings.values() if needle in x.name and x not in by_symbol]
        return sorted(by_symbol, key=lambda x: (x.symbol != needle, x.symbol)) + by_name

    # -- prices ------------------------------------------------------------------------------------

    @property
    def quotes(self) -> _Quotes:
        """``quotes[conid]``: the quote standing now."""
        return _Quotes(self)

    def quote(self, listing: Listing) -> Quote:
        """The quote of ``listing`` at the current simulated time."""
        now = self.now()
        data = self.venue.data
        book = data.quote(listing.symbol, now)
        last = self.venue.price(listing.symbol)
        bid, ask = _money(book.bid_price), _money(book.ask_price)
        if not bid < last < ask:
            # the book straddles the price the venue fills at
            half = max(listing.min_tick, _money(float(last) * 0.0001))
            bid, ask = last - half, last + half
        day = now.astimezone(NEW_YORK).date()
        session = (
            data.bars(listing.symbol, "1day", _day_start(day), now, until=now) if is_trading_day(day) else []
        )
        prior = self.venue.lastday_price(listing.symbol)
        if session:
            bar = session[-1]
            open_, high, low, volume = _money(bar.open), _money(bar.high), _money(bar.low), bar.volume
        else:
            open_, high, low, volume = last, last, last, 0
        return Quote(
            bid=bid,
            ask=ask,
            last=last,
            bid_size=book.bid_size,
            ask_size=book.ask_size,
            last_size=next(self._sizes),
            volume=volume,
            high=max(high, last),
            low=min(low, last),
            open=open_,
            close=prior,
            at=now,
        )

    def step(self, conids: list[int] | None = None) -> None:
        """Move the market: advance a frozen clock by ``tick_seconds`` (matching resting orders) and push
        a tick for each listing (all by default)."""
        if self.clock.realtime:
            self.venue.match()
        else:
            self.clock.advance(self.tick_seconds)
        for conid in conids or list(self.listings):
            self._publish(VenueEvent("tick", listing=self.listings[conid]))

    def bars(self, listing: Listing, bar_size: str, *, start: datetime, end: datetime) -> list[VenueBar]:
        """Bars of ``bar_size`` (an IB bar size setting like ``"1 day"``) starting in ``[start, end]``."""
        try:
            timeframe, _seconds = _BAR_SIZES[bar_size.strip()]
        except KeyError:
            raise VenueError(
                321, f"Error validating request.-'bQ' : cause - Invalid bar size '{bar_size}'"
            ) from None
        rows = self.venue.data.bars(listing.symbol, timeframe, start, end, until=self.now())  # type: ignore[arg-type]
        return [
            VenueBar(
                start=row.timestamp,
                open=_money(row.open),
                high=_money(row.high),
                low=_money(row.low),
                close=_money(row.close),
                volume=row.volume,
                wap=_money(row.vwap),
                count=row.trade_count,
            )
            for row in rows
        ]

    # -- accounts ----------------------------------------------------------------------------------

    def positions(self, account: str) -> dict[int, tuple[Decimal, Decimal]]:
        """The account's positions: conid -> (quantity, average cost)."""
        out: dict[int, tuple[Decimal, Decimal]] = {}
        for pos in self.venue.list_positions(self._kit_account(account)):
            listing = self._by_symbol.get(pos.symbol)
            if listing is not None:
                out[listing.conid] = (pos.qty, pos.avg_entry_price)
        return out

    def account_values(self, account: str) -> dict[str, Decimal]:
        """IB account value tags (``NetLiquidation``, ``TotalCashValue``...) in the base currency."""
        kit_id = self._kit_account(account)
        balances = self.venue.balances(kit_id)
        gross = balances["long_market_value"] - balances["short_market_value"]
        unrealized = sum(
            (
                (self.venue.price(p.symbol) - p.avg_entry_price) * p.qty
                for p in self.venue.list_positions(kit_id)
            ),
            start=Decimal(0),
        )
        equity = balances["equity"]
        return {
            "NetLiquidation": equity,
            "TotalCashValue": balances["cash"],
            "CashBalance": balances["cash"],
            "GrossPositionValue": _money(gross),
            "EquityWithLoanValue": equity,
            "InitMarginReq": balances["initial_margin"],
            "MaintMarginReq": balances["maintenance_margin"],
            "AvailableFunds": _money(equity - balances["initial_margin"]),
            "ExcessLiquidity": _money(equity - balances["maintenance_margin"]),
            "BuyingPower": balances["buying_power"],
            "UnrealizedPnL": _money(unrealized),
        }

    def seed_position(self, account: str, conid: int, quantity: Decimal, average_cost: Decimal) -> None:
        """Give an account a starting position (for demos and tests): bought before the session."""
        listing = self.listings[conid]
        kit_id = self._kit_account(account)
        # bought on the kit venue directly: history, not an IB order of today (the adapter ignores it)
        self.venue.place_order(
            symbol=listing.symbol,
            side="buy",
            qty=quantity,
            account_id=kit_id,
            client_order_id=f"seed-{conid}",
        )
        # restate the cost as given (and the cash it took)
        pos = self.venue.positions[(kit_id, listing.symbol)]
        self.venue.account(kit_id).cash += quantity * (pos.avg_entry_price - average_cost)
        pos.avg_entry_price = average_cost

    # -- orders ------------------------------------------------------------------------------------

    def find_order(self, *, client_id: int, order_id: int) -> VenueOrder | None:
        """The order a TWS client placed under ``order_id``."""
        for order in self.orders.values():
            if order.client_id == client_id and order.order_id == order_id and order.origin == "tws":
                return order
        return None

    def find_by_ref(self, order_ref: str, *, account: str | None = None) -> VenueOrder | None:
        """The order placed with the client reference (``orderRef`` / ``cOID``)."""
        for order in self.orders.values():
            if order.order_ref == order_ref and (account is None or order.account == account):
                return order
        return None

    def order_by_perm(self, perm_id: int) -> VenueOrder:
        """The order with IB's permanent id; ``VenueError(10147)`` when unknown."""
        try:
            return self.orders[perm_id]
        except KeyError:
            raise VenueError(10147, f"OrderId {perm_id} that needs to be cancelled is not found.") from None

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
        unique_ref: bool = False,
        origin: str = "tws",
    ) -> VenueOrder:
        """Accept a new order, or raise :class:`VenueError` with IB's code and text.

        ``unique_ref`` makes ``order_ref`` the venue's client order id, so a repeat is refused (the
        Client Portal's ``cOID``); TWS's ``orderRef`` is free text and may repeat.
        """
        ib_account = account or self.accounts[0]
        kit_account = self._kit_account(ib_account)
        action = action.upper()
        kind = {"MKT": "market", "LMT": "limit", "STP": "stop", "STP LMT": "stop_limit"}.get(
            order_type.upper()
        )
        if action not in {"BUY", "SELL"}:
            raise VenueError(321, f"Error validating request.-'bF' : cause - Invalid side {action}")
        if quantity <= 0:
            raise VenueError(434, "The order size cannot be zero.")
        if kind is None:
            raise VenueError(387, "Unsupported order type for this exchange and security type.")
        if kind in {"limit", "stop_limit"} and (limit_price is None or limit_price <= 0):
            raise VenueError(321, "Error validating request.-'bX' : cause - Limit price must be set")
        if kind in {"stop", "stop_limit"} and (stop_price is None or stop_price <= 0):
            raise VenueError(321, "Error validating request.-'bX' : cause - Stop price must be set")
        time_in_force = tif.lower()
        if time_in_force not in {"day", "gtc", "ioc", "opg", "fok"}:
            raise VenueError(321, f"Error validating request.-'bK' : cause - Invalid time in force {tif}")
        perm_id = next(self._perm_ids)
        client_ref = order_ref if unique_ref and order_ref else f"perm-{perm_id}"
        pending = VenueOrder(
            perm_id=perm_id,
            order_id=order_id,
            client_id=client_id,
            account=ib_account,
            listing=listing,
            order_ref=order_ref,
            venue_id="",
            state=OrderState(
                id="",
                client_order_id=client_ref,
                account_id=kit_account,
                symbol=listing.symbol,
                asset_id="",
                side=action.lower(),
                order_type=kind,
                time_in_force=time_in_force,
                created_at=self.now(),
                qty=quantity,
            ),
            outside_rth=outside_rth,
            origin=origin,
        )
        self._placing = pending
        try:
            state = self.venue.place_order(
                symbol=listing.symbol,
                side=action.lower(),
                order_type=kind,
                time_in_force=time_in_force,
                qty=quantity,
                limit_price=limit_price,
                stop_price=stop_price,
                client_order_id=client_ref,
                extended_hours=outside_rth,
                account_id=kit_account,
            )
        except KitVenueError as exc:
            if exc.reason == "duplicate_client_order_id":
                raise VenueError(
                    103, f"Order couldn't be submitted: Local order ID={order_ref} is already registered."
                ) from None
            raise VenueError(_KIT_ERRORS.get(exc.reason, 321), exc.message) from None
        finally:
            self._placing = None
        order = self._by_venue_id[state.id]
        order.state = self.venue.orders[state.id]
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
        """Change an open order in place.

        IB keeps an order's ids on modify, while the kit's venue replaces orders; so the adapter edits
        the resting kit order itself and runs matching again.
        """
        live = self.venue.orders[order.venue_id]
        if not live.is_open:
            raise VenueError(
                10148,
                f"OrderId {order.order_id} that needs to be modified cannot be modified, state: {order.status}.",
            )
        if quantity is not None:
            if quantity <= live.filled_qty or quantity <= 0:
                raise VenueError(434, "The order size cannot be zero or below the filled quantity.")
            live.qty = quantity
        if limit_price is not None:
            live.limit_price = _money(limit_price)
        if stop_price is not None:
            live.stop_price = _money(stop_price)
        if tif is not None:
            live.time_in_force = tif.lower()
        live.updated_at = self.now()
        order.state = live
        self._publish(VenueEvent("order", order=order))
        self.venue.match()
        return order

    def cancel(self, order: VenueOrder) -> VenueOrder:
        """Cancel an open order; ``VenueError(10148)`` when it is already done."""
        try:
            self.venue.cancel_order(order.venue_id)
        except KitVenueError:
            raise VenueError(
                10148,
                f"OrderId {order.order_id} that needs to be cancelled cannot be cancelled, state: {order.status}.",
            ) from None
        return order

    # -- kit events -> IB events -------------------------------------------------------------------

    def _on_kit_event(self, event: KitVenueEvent) -> None:
        order = self._by_venue_id.get(event.order.id)
        if order is None:
            pending = self._placing
            if pending is None or event.order.client_order_id != pending.state.client_order_id:
                return  # an order not placed through IB (another mock sharing the venue)
            order = pending
            order.venue_id = event.order.id
            self.orders[order.perm_id] = order
            self._by_venue_id[order.venue_id] = order
        order.state = self.venue.orders.get(event.order.id, event.order)
        if event.fill is not None:
            fill = event.fill
            commission = max(Decimal("1.00"), _money(fill.qty * Decimal("0.005")))
            self.venue.account(order.state.account_id).cash -= commission
            ib_fill = VenueFill(
                exec_id=f"0000e0d5.{order.perm_id:08x}.{next(self._exec_seq):02d}.01",
                perm_id=order.perm_id,
                quantity=fill.qty,
                price=fill.price,
                time=fill.timestamp,
                commission=commission,
                cum_qty=fill.cum_qty,
                avg_price=order.state.filled_avg_price or fill.price,
            )
            order.fills.append(ib_fill)
            self.fills.append(ib_fill)
            self._publish(VenueEvent("fill", order=order, fill=ib_fill))
            self._publish(VenueEvent("order", order=order))
            self._publish(VenueEvent("position", order=order))
        else:
            self._publish(VenueEvent("order", order=order))


class _Quotes:
    """``venue.quotes[conid]`` -> the current :class:`Quote`."""

    def __init__(self, venue: IbVenue) -> None:
        self._venue = venue

    def __getitem__(self, conid: int) -> Quote:
        return self._venue.quote(self._venue.listings[conid])


def _day_start(day: object) -> datetime:
    from datetime import date, time

    assert isinstance(day, date)
    return datetime.combine(day, time(0), NEW_YORK).astimezone(UTC)
