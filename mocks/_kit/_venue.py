"""A stateful simulated venue shared by every broker mock.

Broker-neutral: accounts, positions, orders with their whole lifecycle, fills and a matching engine
driven by the seeded price process and the mock clock. Each broker mock translates this state into its
own wire format (Alpaca JSON, IB messages...) and its venue errors into its own error codes.

Matching rules:

* market orders fill at the simulated price;
* limit orders fill when the price crosses the limit (buy at or below, sell at or above);
* stop and stop-limit orders trigger when the price reaches the stop, then act as market or limit;
* trailing stops follow the high (sells) or low (buys) water mark by a price or a percentage;
* orders larger than ``partial_fill_size`` fill in chunks of that size, one chunk per
  ``fill_interval`` seconds of simulated time (so a test sees ``partially_filled`` and drives the rest
  by advancing the clock);
* ``ioc`` fills what it can at once and cancels the rest; ``fok`` fills entirely or is canceled;
* ``day`` orders expire at the close of the session they were submitted in; ``opg``/``cls`` wait for
  the next open/close.
"""

from __future__ import annotations

import copy
import itertools
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from portico.mocks._kit._clock import MockClock
from portico.mocks._kit._data import NEW_YORK, MarketDataGenerator, is_trading_day, session_bounds
from portico.mocks._kit._holder_events import CorporateActionDesk

__all__ = [
    "OPEN_STATUSES",
    "AccountState",
    "AssetInfo",
    "FillState",
    "OrderState",
    "PositionState",
    "SimulatedVenue",
    "VenueError",
    "VenueEvent",
]

OPEN_STATUSES = frozenset({"accepted", "new", "partially_filled", "pending_new", "held"})
_CENT = Decimal("0.01")
_DEFAULT_UNIVERSE = (
    "AAPL", "MSFT", "TSLA", "SPY", "QQQ", "AMZN", "GOOGL", "NVDA", "META", "IBM", "JPM", "BAC",
    "AMD", "INTC", "NFLX", "DIS", "KO", "PEP", "WMT", "XOM", "CVX", "V", "MA", "T", "F", "GE",
)  # fmt: skip
_ASSET_NAMESPACE = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")


def _money(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


class VenueError(Exception):
    """A venue refusal. ``reason`` is broker-neutral; each mock maps it to its own status and code.

    Reasons: ``insufficient_buying_power``, ``insufficient_qty``, ``not_found``, ``duplicate_client_order_id``,
    ``invalid``, ``not_cancelable``, ``not_replaceable``, ``unknown_asset``.
    """

    def __init__(self, reason: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class AssetInfo:
    """An instrument the venue trades."""

    id: str
    symbol: str
    name: str
    exchange: str
    asset_class: str = "us_equity"
    status: str = "active"
    tradable: bool = True
    marginable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    fractionable: bool = True


@dataclass
class AccountState:
    """A cash-and-margin account."""

    id: str
    number: str
    cash: Decimal
    created_at: datetime
    currency: str = "USD"
    multiplier: int = 2
    status: str = "ACTIVE"
    pattern_day_trader: bool = False
    configuration: dict[str, Any] = field(default_factory=dict)


@dataclass
class PositionState:
    """A holding; ``qty`` negative when short."""

    account_id: str
    symbol: str
    asset_id: str
    qty: Decimal = Decimal(0)
    avg_entry_price: Decimal = Decimal(0)
    lastday_price: Decimal = Decimal(0)

    @property
    def cost_basis(self) -> Decimal:
        """What the position cost (absolute value)."""
        return _money(abs(self.qty) * self.avg_entry_price)


@dataclass
class OrderState:
    """An order as the venue holds it. Prices and quantities are Decimal; sides are ``buy``/``sell``."""

    id: str
    client_order_id: str
    account_id: str
    symbol: str
    asset_id: str
    side: str
    order_type: str
    time_in_force: str
    created_at: datetime
    qty: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None
    extended_hours: bool = False
    asset_class: str = "us_equity"
    status: str = "new"
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    replaced_at: datetime | None = None
    failed_at: datetime | None = None
    expires_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    triggered: bool = False
    reject_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Vendor-specific fields a mock keeps with the order (order_class, position_intent...)."""
    next_fill_at: datetime | None = None
    eligible_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True while the order can still fill, be canceled or replaced."""
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal | None:
        """Quantity left to fill, when sized in units."""
        return None if self.qty is None else self.qty - self.filled_qty

    def snapshot(self) -> OrderState:
        """A copy safe to hand to another thread."""
        clone = copy.copy(self)
        clone.extra = dict(self.extra)
        return clone


@dataclass(frozen=True)
class FillState:
    """One execution."""

    id: str
    order_id: str
    account_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    timestamp: datetime
    cum_qty: Decimal
    leaves_qty: Decimal
    order_status: str


@dataclass(frozen=True)
class VenueEvent:
    """A change to an order: ``new``, ``partial_fill``, ``fill``, ``canceled``, ``expired``, ``replaced``,
    ``rejected``; ``seq`` increases by one per event."""

    seq: int
    event: str
    order: OrderState
    timestamp: datetime
    fill: FillState | None = None
    position_qty: Decimal | None = None


EventListener = Callable[[VenueEvent], None]


class SimulatedVenue:
    """Accounts, positions, orders and a matching engine over a seeded price process.

    Thread-safe: the mock server may run in a background thread while a test inspects the venue.

    Args:
        seed: seeds the price process and ids.
        clock: simulated time (a frozen :class:`MockClock` by default); advancing it runs matching.
        data: the price source (a :class:`MarketDataGenerator` with ``seed`` by default).
        starting_cash: cash of the default account.
        multiplier: buying power multiple of equity (2 = Reg T margin, 1 = cash account).
        partial_fill_size: orders larger than this fill in chunks of this size.
        fill_interval: simulated seconds between two chunks of a large order.
        respect_market_hours: when False (default) orders fill at any hour at the last price.
        symbols: the tradable universe (any symbol of 1-5 letters is accepted when None).
        corporate_actions: apply the data's splits and dividends to positions and cash as the clock
            passes their dates (:class:`~portico.mocks._kit._holder_events.CorporateActionDesk`).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: MockClock | None = None,
        data: MarketDataGenerator | None = None,
        starting_cash: Decimal | float = Decimal(100_000),
        multiplier: int = 2,
        partial_fill_size: Decimal | int = Decimal(1000),
        fill_interval: float = 1.0,
        respect_market_hours: bool = False,
        symbols: tuple[str, ...] | None = None,
        corporate_actions: bool = False,
    ) -> None:
        self.seed = seed
        self.clock = clock or MockClock()
        self.data = data or MarketDataGenerator(seed)
        self.multiplier = multiplier
        self.partial_fill_size = Decimal(partial_fill_size)
        """Orders larger than this fill in chunks (settable at run time)."""
        self.fill_interval = fill_interval
        self.respect_market_hours = respect_market_hours
        self.universe = symbols
        self._rng = random.Random(seed)
        self._assets: dict[str, AssetInfo] = {}
        self._lock = threading.RLock()
        self._lastday_cache: dict[tuple[str, Any], Decimal] = {}
        self._held_cache: tuple[tuple[int, str, int], list[PositionState], list[str]] | None = None
        self._seq = itertools.count(1)
        self.accounts: dict[str, AccountState] = {}
        self.orders: dict[str, OrderState] = {}
        self._open: dict[str, OrderState] = {}
        """Orders that may still change, so matching never walks the whole history."""
        self._by_client_id: dict[tuple[str, str], str] = {}
        self.positions: dict[tuple[str, str], PositionState] = {}
        self.fills: list[FillState] = []
        self.events: list[VenueEvent] = []
        self._listeners: list[EventListener] = []
        self.version = 0
        """Bumped on every change of state (order events, new accounts): a cache key for mocks."""
        self.default_account_id = self.create_account(cash=starting_cash).id
        self.holder_events = CorporateActionDesk(self) if corporate_actions else None
        self.clock.on_advance(self.match)

    # -- ids and reference data ----------------------------------------------------------------

    def new_id(self) -> str:
        """A UUID v4 drawn from the venue's seeded generator (deterministic per seed)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def asset(self, symbol: str) -> AssetInfo:
        """The asset of ``symbol``; raises ``VenueError('unknown_asset')`` outside the universe."""
        cached = self._assets.get(symbol)
        if cached is None:
            cached = self._assets[symbol] = self._make_asset(symbol)
        return cached

    def _make_asset(self, symbol: str) -> AssetInfo:
        symbol = symbol.strip().upper()
        known = self.universe if self.universe is not None else _DEFAULT_UNIVERSE
        if symbol not in known and (self.universe is not None or not (symbol.isalpha() and 1 <= len(symbol) <= 5)):
            raise VenueError("unknown_asset", f'asset "{symbol}" not found')
        exchange = "NYSE" if sum(map(ord, symbol)) % 3 == 0 else "NASDAQ"
        if symbol in ("SPY", "QQQ"):
            exchange = "ARCA"
        return AssetInfo(
            id=str(uuid.uuid5(_ASSET_NAMESPACE, symbol)),
            symbol=symbol,
            name=f"{symbol} Inc. Common Stock",
            exchange=exchange,
        )

    def asset_by_id(self, asset_id: str) -> AssetInfo:
        """The asset with venue id ``asset_id`` (within the known universe)."""
        for symbol in self.universe or _DEFAULT_UNIVERSE:
            info = self.asset(symbol)
            if info.id == asset_id:
                return info
        for pos in self.positions.values():
            if pos.asset_id == asset_id:
                return self.asset(pos.symbol)
        raise VenueError("unknown_asset", f'asset "{asset_id}" not found')

    def assets(self) -> list[AssetInfo]:
        """Every asset of the universe."""
        return [self.asset(s) for s in (self.universe or _DEFAULT_UNIVERSE)]

    def price(self, symbol: str) -> Decimal:
        """The simulated price of ``symbol`` now."""
        return _money(self.data.price(symbol, self.clock.now()))

    # -- accounts ------------------------------------------------------------------------------

    def create_account(self, *, cash: Decimal | float = Decimal(100_000), account_id: str | None = None) -> AccountState:
        """Open an account with ``cash``."""
        with self._lock:
            account = AccountState(
                id=account_id or self.new_id(),
                number=f"PA{self._rng.randrange(10**9, 10**10)}",
                cash=_money(Decimal(str(cash))),
                created_at=self.clock.now() - timedelta(days=30),
                multiplier=self.multiplier,
            )
            self.accounts[account.id] = account
            self.version += 1
            return account

    def account(self, account_id: str | None = None) -> AccountState:
        """The account (the default one when ``account_id`` is None)."""
        try:
            return self.accounts[account_id or self.default_account_id]
        except KeyError:
            raise VenueError("not_found", "account not found") from None

    def balances(self, account_id: str | None = None) -> dict[str, Decimal]:
        """Cash, market values, equity and buying power of an account at current prices."""
        with self._lock:
            account = self.account(account_id)
            long_mv, short_mv, last_equity = self._market_values(account)
            equity = account.cash + long_mv + short_mv
            buying_power = self._buying_power(account, long_mv, short_mv)
            return {
                "cash": _money(account.cash),
                "long_market_value": _money(long_mv),
                "short_market_value": _money(short_mv),
                "equity": _money(equity),
                "last_equity": _money(last_equity),
                "buying_power": _money(buying_power),
                "regt_buying_power": _money(buying_power),
                "daytrading_buying_power": _money(buying_power * 2),
                "initial_margin": _money((long_mv - short_mv) / 2),
                "maintenance_margin": _money((long_mv - short_mv) * Decimal("0.3")),
            }

    def _market_values(self, account: AccountState) -> tuple[Decimal, Decimal, Decimal]:
        """(long market value, short market value, last equity) of ``account``, the book priced at one
        instant."""
        long_mv = Decimal(0)
        short_mv = Decimal(0)
        last_equity = account.cash
        held = [p for p in self.positions.values() if p.account_id == account.id and p.qty != 0]
        prices = self.data.spot_many([p.symbol for p in held], self.clock.now())
        for pos, price in zip(held, prices, strict=True):
            value = pos.qty * _money(price)
            last_equity += pos.qty * (pos.lastday_price or pos.avg_entry_price)
            if pos.qty > 0:
                long_mv += value
            else:
                short_mv += value
        return long_mv, short_mv, last_equity

    def _buying_power(self, account: AccountState, long_mv: Decimal, short_mv: Decimal) -> Decimal:
        equity = account.cash + long_mv + short_mv
        reserved = self._reserved(account.id)
        return max(Decimal(0), equity * account.multiplier - long_mv + short_mv - reserved)

    def _settle(self, order: OrderState) -> None:
        """Forget a finished order from the open book (matching and reservations only walk that)."""
        if not order.is_open and order.status != "pending_replace":
            self._open.pop(order.id, None)

    def _reserved(self, account_id: str) -> Decimal:
        total = Decimal(0)
        for order in self._open.values():
            if order.account_id == account_id and order.is_open:
                total += self._order_cost(order)
        return total

    def _order_cost(self, order: OrderState) -> Decimal:
        if order.notional is not None:
            return order.notional
        pos = self.positions.get((order.account_id, order.symbol))
        held = pos.qty if pos else Decimal(0)
        remaining = order.remaining or Decimal(0)
        # selling what is held, or buying back a short, needs no buying power
        if order.side == "sell" and held > 0:
            remaining = max(Decimal(0), remaining - held)
        if order.side == "buy" and held < 0:
            remaining = max(Decimal(0), remaining + held)
        price = order.limit_price or order.stop_price or self.price(order.symbol)
        return remaining * price

    # -- listeners -----------------------------------------------------------------------------

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` on every order event; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: str, order: OrderState, fill: FillState | None = None) -> None:
        self.version += 1
        pos = self.positions.get((order.account_id, order.symbol))
        record = VenueEvent(
            seq=next(self._seq),
            event=event,
            order=order.snapshot(),
            timestamp=self.clock.now(),
            fill=fill,
            position_qty=pos.qty if pos else Decimal(0),
        )
        self.events.append(record)
        for listener in list(self._listeners):
            listener(record)

    # -- orders --------------------------------------------------------------------------------

    def place_order(
        self,
        *,
        symbol: str,
        side: str,
        order_type: str = "market",
        time_in_force: str = "day",
        qty: Decimal | None = None,
        notional: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail_price: Decimal | None = None,
        trail_percent: Decimal | None = None,
        client_order_id: str | None = None,
        extended_hours: bool = False,
        account_id: str | None = None,
        extra: dict[str, Any] | None = None,
        replaces: str | None = None,
    ) -> OrderState:
        """Accept an order (status ``new``) and match it at once; raises :class:`VenueError` on refusal."""
        qty, notional, limit_price, stop_price, trail_price, trail_percent = (
            None if v is None else Decimal(str(v)) for v in (qty, notional, limit_price, stop_price, trail_price, trail_percent)
        )
        with self._lock:
            account = self.account(account_id)
            asset = self.asset(symbol)
            self._validate(side, order_type, time_in_force, qty, notional, limit_price, stop_price, trail_price, trail_percent)
            client_order_id = client_order_id or self.new_id()
            if (account.id, client_order_id) in self._by_client_id:
                raise VenueError("duplicate_client_order_id", "client_order_id must be unique")
            now = self.clock.now()
            order = OrderState(
                id=self.new_id(),
                client_order_id=client_order_id,
                account_id=account.id,
                symbol=asset.symbol,
                asset_id=asset.id,
                side=side,
                order_type=order_type,
                time_in_force=time_in_force,
                created_at=now,
                updated_at=now,
                submitted_at=now,
                qty=qty,
                notional=notional,
                limit_price=_money(limit_price) if limit_price is not None else None,
                stop_price=_money(stop_price) if stop_price is not None else None,
                trail_price=trail_price,
                trail_percent=trail_percent,
                extended_hours=extended_hours,
                extra=dict(extra or {}),
                replaces=replaces,
            )
            self._schedule(order, now)
            if order.order_type == "trailing_stop":
                order.hwm = self.price(order.symbol)
                order.stop_price = self._trail_stop(order)
            cost = self._order_cost(order)
            if cost > 0:
                long_mv, short_mv, _ = self._market_values(account)
                available = _money(self._buying_power(account, long_mv, short_mv))
                if cost > available:
                    raise VenueError(
                        "insufficient_buying_power",
                        "insufficient buying power",
                        buying_power=str(available),
                        cost_basis=str(_money(cost)),
                    )
            self.orders[order.id] = order
            self._open[order.id] = order
            self._by_client_id[(account.id, client_order_id)] = order.id
            self._emit("new", order)
            self._match_order(order, now)
            self._settle(order)
            return order.snapshot()

    def _validate(
        self,
        side: str,
        order_type: str,
        tif: str,
        qty: Decimal | None,
        notional: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        trail_price: Decimal | None,
        trail_percent: Decimal | None,
    ) -> None:
        if side not in ("buy", "sell"):
            raise VenueError("invalid", f"invalid side {side!r}")
        if order_type not in ("market", "limit", "stop", "stop_limit", "trailing_stop"):
            raise VenueError("invalid", f"invalid order type {order_type!r}")
        if tif not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            raise VenueError("invalid", f"invalid time_in_force {tif!r}")
        if (qty is None) == (notional is None):
            raise VenueError("invalid", "qty or notional is required")
        if qty is not None and qty <= 0:
            raise VenueError("invalid", "qty must be > 0")
        if notional is not None and (notional <= 0 or order_type != "market"):
            raise VenueError("invalid", "notional orders must be market orders with notional > 0")
        if order_type in ("limit", "stop_limit") and limit_price is None:
            raise VenueError("invalid", "limit_price is required for limit orders")
        if order_type in ("stop", "stop_limit") and stop_price is None:
            raise VenueError("invalid", "stop_price is required for stop orders")
        if order_type == "trailing_stop" and (trail_price is None) == (trail_percent is None):
            raise VenueError("invalid", "one of trail_price or trail_percent is required")
        for name, value in (("limit_price", limit_price), ("stop_price", stop_price)):
            if value is not None and value <= 0:
                raise VenueError("invalid", f"{name} must be > 0")

    def _schedule(self, order: OrderState, now: datetime) -> None:
        day = now.astimezone(NEW_YORK).date()
        if order.time_in_force == "day":
            while not is_trading_day(day) or now >= session_bounds(day)[1]:
                day += timedelta(days=1)
                now = session_bounds(day)[0]
            order.expires_at = session_bounds(day)[1]
        elif order.time_in_force in ("opg", "cls"):
            index = 0 if order.time_in_force == "opg" else 1
            while not is_trading_day(day) or now > session_bounds(day)[index]:
                day += timedelta(days=1)
            order.eligible_at = session_bounds(day)[index]

    def get_order(self, order_id: str) -> OrderState:
        """The order with venue id ``order_id``."""
        with self._lock:
            self.match()
            order = self.orders.get(order_id)
            if order is None:
                raise VenueError("not_found", "order not found")
            return order.snapshot()

    def get_order_by_client_id(self, client_order_id: str, account_id: str | None = None) -> OrderState:
        """The order placed with ``client_order_id``."""
        with self._lock:
            account = self.account(account_id)
            order_id = self._by_client_id.get((account.id, client_order_id))
            if order_id is None:
                raise VenueError("not_found", "order not found")
            return self.get_order(order_id)

    def list_orders(
        self,
        *,
        account_id: str | None = None,
        status: str = "open",
        symbols: list[str] | None = None,
        side: str | None = None,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        limit: int | None = None,
    ) -> list[OrderState]:
        """Orders by status group (``open``, ``closed``, ``all``), symbols, side and submission time."""
        with self._lock:
            self.match()
            account = self.account(account_id)
            wanted = {s.upper() for s in symbols} if symbols else None
            out = []
            for order in self.orders.values():
                if order.account_id != account.id:
                    continue
                if (status == "open" and not order.is_open) or (status == "closed" and order.is_open):
                    continue
                if wanted is not None and order.symbol not in wanted:
                    continue
                if side is not None and order.side != side:
                    continue
                if after is not None and order.submitted_at is not None and order.submitted_at <= after:
                    continue
                if until is not None and order.submitted_at is not None and order.submitted_at >= until:
                    continue
                out.append(order)
            # insertion order is submission order; ties on the timestamp keep it
            if direction == "desc":
                out.reverse()
            if limit is not None:
                out = out[:limit]
            return [o.snapshot() for o in out]

    def cancel_order(self, order_id: str) -> OrderState:
        """Cancel an open order; raises ``not_found`` or ``not_cancelable``."""
        with self._lock:
            self.match()
            order = self.orders.get(order_id)
            if order is None:
                raise VenueError("not_found", "order not found")
            if not order.is_open:
                raise VenueError("not_cancelable", "order is not cancelable", status=order.status)
            now = self.clock.now()
            order.status = "canceled"
            order.canceled_at = order.updated_at = now
            self._emit("canceled", order)
            self._settle(order)
            return order.snapshot()

    def cancel_all(self, account_id: str | None = None) -> list[tuple[str, VenueError | None]]:
        """Cancel every open order; one ``(order_id, error or None)`` per order."""
        with self._lock:
            self.match()
            account = self.account(account_id)
            results: list[tuple[str, VenueError | None]] = []
            for order in list(self._open.values()):
                if order.account_id == account.id and order.is_open:
                    try:
                        self.cancel_order(order.id)
                        results.append((order.id, None))
                    except VenueError as exc:
                        results.append((order.id, exc))
            return results

    def replace_order(
        self,
        order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail: Decimal | None = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> OrderState:
        """Replace an open order by a new one with the changed fields; the old one becomes ``replaced``."""
        with self._lock:
            self.match()
            old = self.orders.get(order_id)
            if old is None:
                raise VenueError("not_found", "order not found")
            if not old.is_open or old.notional is not None:
                raise VenueError("not_replaceable", "order is not replaceable", status=old.status)
            if old.order_type == "market":
                raise VenueError("invalid", "market orders cannot be replaced")
            if qty is not None and qty <= old.filled_qty:
                raise VenueError("invalid", "qty must be greater than the filled quantity")
            trail_price, trail_percent = old.trail_price, old.trail_percent
            if trail is not None:
                if trail_percent is not None:
                    trail_percent = trail
                else:
                    trail_price = trail
            # the old order's reservation must not count against its own replacement
            old.status = "pending_replace"
            try:
                new = self.place_order(
                    symbol=old.symbol,
                    side=old.side,
                    order_type=old.order_type,
                    time_in_force=time_in_force or old.time_in_force,
                    qty=(qty if qty is not None else old.qty),
                    limit_price=limit_price if limit_price is not None else old.limit_price,
                    stop_price=stop_price if stop_price is not None else old.stop_price,
                    trail_price=trail_price,
                    trail_percent=trail_percent,
                    client_order_id=client_order_id,
                    extended_hours=old.extended_hours,
                    account_id=old.account_id,
                    extra=old.extra,
                    replaces=old.id,
                )
            except VenueError:
                old.status = "partially_filled" if old.filled_qty else "new"
                raise
            now = self.clock.now()
            old.status = "replaced"
            old.replaced_by = new.id
            old.replaced_at = old.updated_at = now
            self._emit("replaced", old)
            self._settle(old)
            return self.orders[new.id].snapshot()

    # -- positions -----------------------------------------------------------------------------

    def list_positions(self, account_id: str | None = None) -> list[PositionState]:
        """Open positions of an account, by symbol."""
        with self._lock:
            self.match()
            account = self.account(account_id)
            held = [copy.copy(p) for p in self.positions.values() if p.account_id == account.id and p.qty != 0]
            return sorted(held, key=lambda p: p.symbol)

    def marked_positions(self, account_id: str | None = None) -> list[tuple[PositionState, Decimal, Decimal]]:
        """Open positions of an account, by symbol, each with its price now and the previous close.

        One read of the clock prices the whole book at the same instant (what a positions endpoint
        serves). The positions are the venue's own objects, to render at once: unlike
        :meth:`list_positions` it copies nothing, since a mock's positions endpoint is its hottest read.
        """
        held, now, spots = self.marks(account_id)
        # spot prices are already whole cents: formatting them to two places is _money's result
        return [
            (p, Decimal(f"{spot:.2f}"), self._lastday(p.symbol, now))
            for p, spot in zip(held, spots, strict=True)
        ]

    def marks(self, account_id: str | None = None) -> tuple[list[PositionState], datetime, tuple[float, ...]]:
        """The book as :meth:`marked_positions` prices it, before any rendering: the open positions by
        symbol (the venue's own objects), the instant they are priced at, and each one's price then
        in whole cents (floats).

        A caller caches what it renders from this on ``(version, the New York day of the instant,
        the prices)``: the previous closes depend on the day only.
        """
        with self._lock:
            self.match()
            account = self.account(account_id)
            now = self.clock.now()
            key = (self.version, account.id, len(self.positions))
            cached = self._held_cache
            if cached is None or cached[0] != key:
                held = sorted(
                    (p for p in self.positions.values() if p.account_id == account.id and p.qty != 0),
                    key=lambda p: p.symbol,
                )
                cached = self._held_cache = (key, held, [p.symbol for p in held])
            return cached[1], now, self.data.spot_many(cached[2], now)

    def lastday_at(self, symbol: str, now: datetime) -> Decimal:
        """The close of the session before the New York day of ``now``."""
        return self._lastday(symbol, now)

    def get_position(self, symbol_or_asset_id: str, account_id: str | None = None) -> PositionState:
        """One open position by symbol or asset id."""
        with self._lock:
            for pos in self.list_positions(account_id):
                if symbol_or_asset_id.upper() == pos.symbol or symbol_or_asset_id == pos.asset_id:
                    return pos
            raise VenueError("not_found", "position does not exist")

    def close_position(
        self,
        symbol_or_asset_id: str,
        *,
        qty: Decimal | None = None,
        percentage: Decimal | None = None,
        account_id: str | None = None,
    ) -> OrderState:
        """Send a market order that closes all (or ``qty``, or ``percentage`` %) of a position."""
        with self._lock:
            pos = self.get_position(symbol_or_asset_id, account_id)
            size = abs(pos.qty)
            if qty is not None:
                if qty > size:
                    raise VenueError("insufficient_qty", "insufficient qty available for order", available=str(size), requested=str(qty))
                size = qty
            elif percentage is not None:
                size = (size * percentage / 100).quantize(Decimal("0.000000001"))
            return self.place_order(
                symbol=pos.symbol,
                side="sell" if pos.qty > 0 else "buy",
                qty=size,
                account_id=pos.account_id,
            )

    def close_all_positions(
        self, *, cancel_orders: bool = False, account_id: str | None = None
    ) -> list[tuple[str, OrderState | VenueError]]:
        """Close every position; one ``(symbol, order or error)`` per position."""
        with self._lock:
            if cancel_orders:
                self.cancel_all(account_id)
            out: list[tuple[str, OrderState | VenueError]] = []
            for pos in self.list_positions(account_id):
                try:
                    out.append((pos.symbol, self.close_position(pos.symbol, account_id=pos.account_id)))
                except VenueError as exc:
                    out.append((pos.symbol, exc))
            return out

    def list_fills(
        self,
        *,
        account_id: str | None = None,
        after: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[FillState]:
        """Executions, oldest first."""
        with self._lock:
            self.match()
            account = self.account(account_id)
            return [
                f
                for f in self.fills
                if f.account_id == account.id
                and (after is None or f.timestamp > after)
                and (until is None or f.timestamp < until)
                and (symbol is None or f.symbol == symbol.upper())
                and (order_id is None or f.order_id == order_id)
            ]

    # -- matching ------------------------------------------------------------------------------

    def match(self) -> None:
        """Run the matching engine for every open order at the current simulated time."""
        with self._lock:
            now = self.clock.now()
            if self.holder_events is not None:
                # splits and dividends up to now take effect before any order fills at now
                self.holder_events.settle(now)
            for order in list(self._open.values()):
                if order.is_open:
                    self._match_order(order, now)
                self._settle(order)

    def _market_open(self, now: datetime) -> bool:
        day = now.astimezone(NEW_YORK).date()
        if not is_trading_day(day):
            return False
        open_, close = session_bounds(day)
        return open_ <= now < close

    def _trail_stop(self, order: OrderState) -> Decimal:
        assert order.hwm is not None
        if order.trail_percent is not None:
            offset = order.hwm * order.trail_percent / 100
        else:
            offset = order.trail_price or Decimal(0)
        return _money(order.hwm - offset if order.side == "sell" else order.hwm + offset)

    def _match_order(self, order: OrderState, now: datetime) -> None:
        if order.expires_at is not None and now >= order.expires_at:
            order.status = "expired"
            order.expired_at = order.updated_at = order.expires_at
            self._emit("expired", order)
            return
        if order.eligible_at is not None and now < order.eligible_at:
            return
        if self.respect_market_hours and not order.extended_hours and not self._market_open(now):
            return
        if order.next_fill_at is not None and now < order.next_fill_at:
            return
        price = self.price(order.symbol)
        if order.order_type == "trailing_stop" and order.hwm is not None and not order.triggered:
            better = price > order.hwm if order.side == "sell" else price < order.hwm
            if better:
                order.hwm = price
                order.stop_price = self._trail_stop(order)
        if order.order_type in ("stop", "stop_limit", "trailing_stop") and not order.triggered:
            assert order.stop_price is not None
            hit = price >= order.stop_price if order.side == "buy" else price <= order.stop_price
            if not hit:
                return self._finish_unfilled(order, now)
            order.triggered = True
        if order.order_type in ("limit", "stop_limit"):
            assert order.limit_price is not None
            crosses = price <= order.limit_price if order.side == "buy" else price >= order.limit_price
            if not crosses:
                return self._finish_unfilled(order, now)
        if order.notional is not None:
            qty = (order.notional / price).quantize(Decimal("0.000000001"))
            order.qty = qty
        remaining = order.remaining or Decimal(0)
        chunk = min(remaining, Decimal(self.partial_fill_size))
        if order.time_in_force == "fok" and chunk < remaining:
            order.status = "canceled"
            order.canceled_at = order.updated_at = now
            self._emit("canceled", order)
            return
        self._fill(order, chunk, price, now)
        if order.is_open:
            if order.time_in_force == "ioc":
                order.status = "canceled"
                order.canceled_at = order.updated_at = now
                self._emit("canceled", order)
            else:
                order.next_fill_at = now + timedelta(seconds=self.fill_interval)

    def _finish_unfilled(self, order: OrderState, now: datetime) -> None:
        if order.time_in_force in ("ioc", "fok"):
            order.status = "canceled"
            order.canceled_at = order.updated_at = now
            self._emit("canceled", order)

    def _fill(self, order: OrderState, qty: Decimal, price: Decimal, now: datetime) -> None:
        if qty <= 0:
            return
        account = self.accounts[order.account_id]
        signed = qty if order.side == "buy" else -qty
        key = (order.account_id, order.symbol)
        pos = self.positions.get(key)
        if pos is None:
            pos = PositionState(order.account_id, order.symbol, order.asset_id, lastday_price=self._lastday(order.symbol))
            self.positions[key] = pos
        new_qty = pos.qty + signed
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            pos.avg_entry_price = _money((pos.avg_entry_price * abs(pos.qty) + price * qty) / abs(new_qty))
        elif (pos.qty > 0) != (new_qty > 0) and new_qty != 0:
            # the fill crossed through zero: what remains was opened at this price
            pos.avg_entry_price = price
        pos.qty = new_qty
        if new_qty == 0:
            pos.avg_entry_price = Decimal(0)
        account.cash -= signed * price
        previous = order.filled_qty
        order.filled_qty = previous + qty
        order.filled_avg_price = _money(((order.filled_avg_price or Decimal(0)) * previous + price * qty) / order.filled_qty)
        order.updated_at = now
        done = order.filled_qty >= (order.qty or Decimal(0))
        order.status = "filled" if done else "partially_filled"
        if done:
            order.filled_at = now
        fill = FillState(
            id=self.new_id(),
            order_id=order.id,
            account_id=order.account_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            timestamp=now,
            cum_qty=order.filled_qty,
            leaves_qty=(order.qty or order.filled_qty) - order.filled_qty,
            order_status=order.status,
        )
        self.fills.append(fill)
        self._emit("fill" if done else "partial_fill", order, fill)

    def _lastday(self, symbol: str, now: datetime | None = None) -> Decimal:
        today = self.data.local_day(now or self.clock.now())
        key = (symbol, today)
        cached = self._lastday_cache.get(key)
        if cached is None:
            day = today - timedelta(days=1)
            while not is_trading_day(day):
                day -= timedelta(days=1)
            cached = _money(self.data.price(symbol, session_bounds(day)[1]))
            if len(self._lastday_cache) > 4096:
                self._lastday_cache.clear()
            self._lastday_cache[key] = cached
        return cached

    def lastday_price(self, symbol: str) -> Decimal:
        """The previous session's close of ``symbol``."""
        return self._lastday(symbol)
