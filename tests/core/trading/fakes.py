"""An in-memory broker venue with injectable faults, and a Connector over it, for trading tests."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from portico.clock import Clock, FakeClock
from portico.errors import (
    ConnectionFailed,
    NotFound,
    OutcomeUnknown,
    PayloadRejected,
    RateLimited,
    ReadTimeout,
    ResponseLost,
    ServerError,
    VenueRejected,
)
from portico.models import (
    Account,
    Execution,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    TimeInForce,
)
from portico.sdk import (
    Capability,
    CapabilitySet,
    Connector,
    ConnectorContext,
    ConnectorKind,
    ConnectorSpec,
    Environment,
    StreamKind,
    Support,
)

_OPS = (
    Capability.GET_ACCOUNT,
    Capability.GET_POSITIONS,
    Capability.PLACE_ORDER,
    Capability.CANCEL_ORDER,
    Capability.GET_ORDER,
    Capability.GET_ORDER_BY_CLIENT_ID,
    Capability.LIST_ORDERS,
    Capability.GET_EXECUTIONS,
    Capability.GET_LATEST_QUOTES,
    Capability.SUBSCRIBE_ORDER_UPDATES,
)


_AFTER_COMMIT = {
    "ReadTimeout": lambda: ReadTimeout("read timed out"),
    "ResponseLost": lambda: ResponseLost("connection reset after send"),
    "ServerError": lambda: ServerError("503", status_code=503),
    "RateLimited": lambda: RateLimited("429", retry_after=1.0),
    "Malformed": lambda: PayloadRejected("response body is not JSON"),
    "OutcomeUnknown": lambda: OutcomeUnknown("sent, not known"),
    "RuntimeError": lambda: RuntimeError("connector bug"),
    "OSError": lambda: OSError("broken pipe"),
}


class FakeVenue:
    """A broker's books: orders by venue id and client id, fills, positions, cash, and a journal.

    Faults: ``refuse_before`` (probability a submit fails before reaching the venue),
    ``drop_after_commit`` (probability the order is committed but the answer lost), or a scripted
    queue ``script`` of ``"refuse"``, ``"drop"``, ``"server_error_after"``, ``"ok"``, ``"after:<Error>"``
    (committed, then that error) or ``"lost:<Error>"`` (that error, never committed) consumed by submits.
    ``fill`` decides what happens to a new order: ``"fill"`` (filled at once), ``"none"`` (stays new).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        refuse_before: float = 0.0,
        drop_after_commit: float = 0.0,
        fill: str = "fill",
        prices: dict[str, Decimal] | None = None,
        cash: Decimal = Decimal("1000000"),
        account_id: str = "ACC-1",
        commission: Decimal = Decimal("1.00"),
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = clock or FakeClock()
        self.refuse_before = refuse_before
        self.drop_after_commit = drop_after_commit
        self.fill = fill
        self.prices = prices or {"AAPL": Decimal("100"), "MSFT": Decimal("200"), "XYZ": Decimal("10")}
        self.cash = cash
        self.account_id = account_id
        self.commission = commission
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_cid: dict[str, str] = {}
        self.positions: dict[str, Decimal] = {}
        self.executions: list[Execution] = []
        self.journal: list[dict[str, Any]] = []
        self.script: list[str] = []
        self.reject_symbols: set[str] = set()
        self.lookup_failures = 0
        self.reported_positions: list[Position] | None = None
        self.quote_size: Decimal | None = None
        self.hanging = False
        self._ids = itertools.count(1)
        self._exec_ids = itertools.count(1)
        self.subscribers: list[asyncio.Queue[OrderEvent | BaseException]] = []

    # -- venue behaviour -------------------------------------------------------------------------

    def _fault(self) -> str:
        if self.script:
            return self.script.pop(0)
        roll = self.rng.random()
        if roll < self.refuse_before:
            return "refuse"
        if roll < self.refuse_before + self.drop_after_commit:
            return "drop"
        return "ok"

    def submit(self, request: OrderRequest) -> Order:
        fault = self._fault()
        if fault == "refuse":
            self.journal.append({"op": "submit", "cid": request.client_order_id, "outcome": "refused"})
            raise ConnectionFailed("connection refused")
        if fault.startswith("lost:"):
            # sent, but lost on the way in: the sender cannot tell it from an answer lost on the way out
            self.journal.append({"op": "submit", "cid": request.client_order_id, "outcome": "lost"})
            raise _AFTER_COMMIT[fault.split(":", 1)[1]]()
        if request.symbol in self.reject_symbols:
            self.journal.append({"op": "submit", "cid": request.client_order_id, "outcome": "rejected"})
            raise VenueRejected(f"{request.symbol} is not tradable", status_code=422)
        cid = request.client_order_id or ""
        if cid in self.by_cid:
            self.journal.append({"op": "submit", "cid": cid, "outcome": "duplicate"})
            raise VenueRejected("client_order_id must be unique", status_code=422)
        venue_id = f"V{next(self._ids):06d}"
        now = self.clock.now()
        state = {
            "order_id": venue_id,
            "request": request,
            "status": OrderStatus.NEW,
            "filled": Decimal(0),
            "avg": None,
            "created_at": now,
            "updated_at": now,
        }
        self.orders[venue_id] = state
        self.by_cid[cid] = venue_id
        self.journal.append({"op": "submit", "cid": cid, "outcome": "committed", "venue_id": venue_id})
        self._publish("new", state)
        if self.fill == "fill":
            self.fill_order(venue_id)
        if fault == "drop":
            raise ReadTimeout("response lost after commit")
        if fault == "server_error_after":
            raise ServerError("502 bad gateway", status_code=502)
        if fault.startswith("after:"):
            raise _AFTER_COMMIT[fault.split(":", 1)[1]]()
        if fault == "hang":
            self.hanging = True
        return self.order(venue_id)

    def fill_order(
        self, venue_id: str, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Execution:
        state = self.orders[venue_id]
        req: OrderRequest = state["request"]
        total = req.quantity or Decimal(1)
        qty = quantity if quantity is not None else total - state["filled"]
        px = price or req.limit_price or self.prices.get(req.symbol, Decimal(50))
        prev_value = (state["avg"] or 0) * state["filled"]
        state["filled"] += qty
        state["avg"] = (prev_value + qty * px) / state["filled"]
        state["status"] = OrderStatus.FILLED if state["filled"] >= total else OrderStatus.PARTIALLY_FILLED
        state["updated_at"] = self.clock.now()
        signed = qty if req.side is OrderSide.BUY else -qty
        self.positions[req.symbol] = self.positions.get(req.symbol, Decimal(0)) + signed
        self.cash -= signed * px + self.commission + Decimal("0.02")
        execution = Execution(
            execution_id=f"E{next(self._exec_ids):06d}",
            order_id=venue_id,
            client_order_id=req.client_order_id,
            account_id=self.account_id,
            symbol=req.symbol,
            side=req.side,
            quantity=qty,
            price=px,
            commission=self.commission,
            fees=Decimal("0.02"),
            executed_at=self.clock.now(),
        )
        self.executions.append(execution)
        self._publish("fill" if state["status"] is OrderStatus.FILLED else "partial_fill", state, execution)
        return execution

    def cancel(self, venue_id: str) -> None:
        state = self.orders.get(venue_id)
        if state is None:
            raise NotFound(f"order {venue_id} not found")
        if state["status"] in (OrderStatus.FILLED, OrderStatus.CANCELED):
            raise VenueRejected(f"order {venue_id} is {state['status'].value}", status_code=422)
        state["status"] = OrderStatus.CANCELED
        state["updated_at"] = self.clock.now()
        self._publish("canceled", state)

    def order(self, venue_id: str) -> Order:
        s = self.orders[venue_id]
        req: OrderRequest = s["request"]
        return Order(
            order_id=venue_id,
            client_order_id=req.client_order_id,
            # a venue reports the account the order was placed in
            account_id=req.account_id or self.account_id,
            symbol=req.symbol,
            side=req.side,
            order_type=req.order_type,
            time_in_force=req.time_in_force,
            status=s["status"],
            quantity=req.quantity,
            notional=req.notional,
            filled_quantity=s["filled"],
            average_fill_price=s["avg"],
            limit_price=req.limit_price,
            created_at=s["created_at"],
            updated_at=s["updated_at"],
        )

    def _publish(self, event: str, state: dict[str, Any], execution: Execution | None = None) -> None:
        ev = OrderEvent(
            event=event,
            order=self.order(state["order_id"]),
            execution=execution,
            timestamp=self.clock.now(),
            event_id=f"{state['order_id']}:{event}:{state['filled']}",
        )
        for queue in self.subscribers:
            queue.put_nowait(ev)

    def disconnect_streams(self) -> None:
        for queue in self.subscribers:
            queue.put_nowait(ConnectionFailed("stream dropped"))

    def orders_by_cid(self) -> dict[str, Order]:
        return {cid: self.order(vid) for cid, vid in self.by_cid.items()}


class FakeBroker(Connector):
    """A Connector over a :class:`FakeVenue` (set ``venue`` on the instance)."""

    spec: ClassVar[ConnectorSpec] = ConnectorSpec(
        name="fakebroker",
        display_name="Fake broker",
        kinds=(ConnectorKind.BROKERAGE,),
        environments=(Environment(name="paper", urls={"base": "memory://fake"}),),
        capabilities=CapabilitySet(
            operations=dict.fromkeys(_OPS, Support.SUPPORTED),
            order_types=(OrderType.MARKET, OrderType.LIMIT),
            time_in_force=(TimeInForce.DAY, TimeInForce.GTC),
            asset_classes=(),
            fractional=False,
        ),
        streams=(StreamKind.ORDER_UPDATES,),
    )

    def __init__(self, context: ConnectorContext, venue: FakeVenue) -> None:
        super().__init__(context)
        self.venue = venue
        self.calls: list[str] = []

    @classmethod
    def create(cls, venue: FakeVenue, system_id: str = "fake") -> FakeBroker:
        return cls(ConnectorContext.for_testing(cls, system_id=system_id), venue)

    async def get_account(self, account_id: str | None = None) -> Account:
        self.calls.append("get_account")
        return Account(
            account_id=self.venue.account_id,
            cash=self.venue.cash,
            buying_power=self.venue.cash,
            equity=self.venue.cash
            + sum(q * self.venue.prices.get(s, Decimal(0)) for s, q in self.venue.positions.items()),
        )

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        self.calls.append("get_positions")
        if self.venue.reported_positions is not None:
            return list(self.venue.reported_positions)
        return [
            Position(
                account_id=self.venue.account_id,
                symbol=s,
                quantity=q,
                average_cost=self.venue.prices.get(s),
                market_price=self.venue.prices.get(s),
                # real brokers mark every position to market
                market_value=q * self.venue.prices.get(s, Decimal(0)),
            )
            for s, q in sorted(self.venue.positions.items())
            if q != 0
        ]

    async def place_order(self, request: OrderRequest) -> Order:
        self.calls.append("place_order")
        await asyncio.sleep(0)
        order = self.venue.submit(request)
        if self.venue.hanging:
            self.venue.hanging = False
            await asyncio.Event().wait()  # the answer never comes
        return order

    async def cancel_order(self, order_id: str) -> None:
        self.calls.append("cancel_order")
        self.venue.cancel(order_id)

    async def get_order(self, order_id: str) -> Order:
        self.calls.append("get_order")
        if order_id not in self.venue.orders:
            raise NotFound(f"order {order_id} not found")
        return self.venue.order(order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        self.calls.append("get_order_by_client_id")
        if self.venue.lookup_failures > 0:
            self.venue.lookup_failures -= 1
            raise ConnectionFailed("lookup refused")
        venue_id = self.venue.by_cid.get(client_order_id)
        if venue_id is None:
            raise NotFound(f"no order with client_order_id {client_order_id}")
        return self.venue.order(venue_id)

    async def list_orders(
        self,
        *,
        status: str = "open",
        symbols: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        self.calls.append("list_orders")
        return [self.venue.order(v) for v in self.venue.orders]

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        self.calls.append("get_executions")
        return [
            e
            for e in self.venue.executions
            if (since is None or e.executed_at >= since) and (until is None or e.executed_at < until)
        ]

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        self.calls.append("get_latest_quotes")
        now = self.venue.clock.now()
        return {
            s: Quote(
                symbol=s,
                timestamp=now,
                bid_price=self.venue.prices[s] - Decimal("0.05"),
                ask_price=self.venue.prices[s] + Decimal("0.05"),
                bid_size=self.venue.quote_size,
                ask_size=self.venue.quote_size,
            )
            for s in symbols
            if s in self.venue.prices
        }

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:  # type: ignore[override]
        queue: asyncio.Queue[OrderEvent | BaseException] = asyncio.Queue()
        self.venue.subscribers.append(queue)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.venue.subscribers.remove(queue)
