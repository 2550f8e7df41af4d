"""Multi-broker allocation: split a parent order across brokers, and allocate a block fill to accounts.

Splitting (:class:`FixedWeights`, :class:`BestQuote`, :class:`AvailableCapacity`) decides how much of a
parent order each broker gets; :meth:`Allocator.place_parent_order` places the children, tracks them to
the parent and, when a child fails definitively, re-routes its quantity or cancels the rest, recording
every compensating action.

Block allocation (:func:`allocate_block`) shares a filled block between accounts pro-rata by target.

**Rounding and residual rule** (both splitting and block allocation):

1. Only whole lots are shared pro-rata: each party's ideal share of the round-lot quantity is
   rounded down to whole lots.
2. The lots left over go one at a time to the party with the largest fractional remainder; ties go
   to the larger weight/target, then to the name first in alphabetical order. A party never gets
   more than its target.
3. An odd lot (quantity that is not a whole number of lots) goes to the party with the largest
   weight/target (ties: alphabetical).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from portico.errors import ConfigurationError, NotFound, PayloadRejected, PorticoError
from portico.models import Execution, OrderRequest, OrderSide
from portico.sdk import Capability
from portico.trading._errors import OrderRejected, OrderValidationError
from portico.trading._fingerprint import canonical_request, differences

if TYPE_CHECKING:
    from portico.trading._records import OrderRecord
    from portico.trading._service import TradingService

__all__ = [
    "AccountAllocation",
    "Allocator",
    "AvailableCapacity",
    "BestQuote",
    "BlockAllocation",
    "ChildPlan",
    "FixedWeights",
    "ParentOrderState",
    "SplitPolicy",
    "allocate_block",
    "split_pro_rata",
]

ZERO = Decimal(0)


def split_pro_rata(
    total: Decimal,
    weights: Mapping[str, Decimal],
    *,
    lot_size: Decimal = Decimal(1),
    caps: Mapping[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    """Share ``total`` by ``weights`` in whole lots, with the module's residual rule.

    Args:
        total: the quantity to share.
        weights: relative weights (or target quantities) by party; zero-weight parties get nothing.
        lot_size: the trading lot.
        caps: the most each party may get (its target); default unlimited.

    Returns:
        Quantity by party (every party in ``weights``, possibly zero), summing to ``total``.
    """
    if lot_size <= 0:
        raise ConfigurationError("lot_size must be positive", path="lot_size")
    live = {k: Decimal(w) for k, w in weights.items() if Decimal(w) > 0}
    if not live:
        raise PayloadRejected("no party has a positive weight to share with", field="weights")
    wsum = sum(live.values(), ZERO)
    lots = (total / lot_size).to_integral_value(rounding=ROUND_DOWN)
    round_part = lots * lot_size
    odd = total - round_part
    out = dict.fromkeys(weights, ZERO)
    remainders: dict[str, Decimal] = {}
    for name, w in live.items():
        ideal_lots = lots * w / wsum
        base = ideal_lots.to_integral_value(rounding=ROUND_DOWN)
        out[name] = base * lot_size
        remainders[name] = ideal_lots - base
    left = int(lots - sum((out[n] / lot_size for n in live), ZERO))
    order = sorted(live, key=lambda n: (-remainders[n], -live[n], n))
    while left > 0:
        progressed = False
        for name in order:
            if left == 0:
                break
            if caps is not None and out[name] + lot_size > caps.get(name, out[name] + lot_size):
                continue
            out[name] += lot_size
            left -= 1
            progressed = True
        if not progressed:
            raise PayloadRejected(
                f"{total} cannot be shared within the targets in lots of {lot_size}", field="quantity"
            )
    if odd:
        biggest = sorted(live, key=lambda n: (-live[n], n))[0]
        out[biggest] += odd
    return out


# -- splitting a parent order across brokers ---------------------------------------------------------


@dataclass(frozen=True)
class ChildPlan:
    """How much of a parent order goes to one broker, and why."""

    system: str
    quantity: Decimal
    reason: str = ""


class SplitPolicy(Protocol):
    """Decides how a parent order is shared among brokers."""

    name: str

    async def split(
        self, service: TradingService, request: OrderRequest, systems: Sequence[str], lot_size: Decimal
    ) -> list[ChildPlan]: ...


class FixedWeights:
    """Share by fixed weights per system (``{"alpaca": 60, "ib": 40}``)."""

    name = "fixed_weights"

    def __init__(self, weights: Mapping[str, Decimal | int | str]) -> None:
        self.weights = {k: Decimal(str(v)) for k, v in weights.items()}
        if any(w < 0 for w in self.weights.values()):
            raise ConfigurationError("weights must not be negative", path="weights")

    async def split(
        self, service: TradingService, request: OrderRequest, systems: Sequence[str], lot_size: Decimal
    ) -> list[ChildPlan]:
        weights = {s: self.weights.get(s, ZERO) for s in systems}
        shares = split_pro_rata(_quantity(request), weights, lot_size=lot_size)
        return [ChildPlan(s, q, f"weight {weights[s]}") for s, q in shares.items() if q > 0]


class BestQuote:
    """Send to the broker quoting the best price (lowest ask for buys, highest bid for sells).

    With ``use_size=True`` the order walks the venues best price first, taking up to each venue's
    quoted size, and any rest goes to the best venue. Brokers that cannot quote are skipped; when none
    can, the order fails with a clear error.
    """

    name = "best_quote"

    def __init__(self, *, use_size: bool = False) -> None:
        self.use_size = use_size

    async def split(
        self, service: TradingService, request: OrderRequest, systems: Sequence[str], lot_size: Decimal
    ) -> list[ChildPlan]:
        buy = request.side is OrderSide.BUY
        quotes: list[tuple[Decimal, str, Decimal | None]] = []
        for system in systems:
            connector = service.connector(system)
            if not connector.spec.capabilities.has(Capability.GET_LATEST_QUOTES):
                continue
            try:
                quote = (await connector.get_latest_quotes([request.symbol])).get(request.symbol)
            except PorticoError:
                continue
            if quote is None:
                continue
            price = quote.ask_price if buy else quote.bid_price
            size = quote.ask_size if buy else quote.bid_size
            if price:
                quotes.append((price, system, size))
        if not quotes:
            raise PayloadRejected(f"no broker among {list(systems)} quotes {request.symbol}", field="symbol")
        quotes.sort(key=lambda q: (q[0] if buy else -q[0], q[1]))
        total = _quantity(request)
        if not self.use_size:
            price, system, _ = quotes[0]
            return [ChildPlan(system, total, f"best {'ask' if buy else 'bid'} {price}")]
        plans: dict[str, Decimal] = {}
        why: dict[str, str] = {}
        left = total
        for price, system, size in quotes:
            if left <= 0:
                break
            if not size:
                continue
            take = min(left, (size / lot_size).to_integral_value(rounding=ROUND_DOWN) * lot_size)
            if take > 0:
                plans[system] = plans.get(system, ZERO) + take
                why[system] = f"{'ask' if buy else 'bid'} {price} x {size}"
                left -= take
        if left > 0:
            best = quotes[0][1]
            plans[best] = plans.get(best, ZERO) + left
            why.setdefault(best, f"best price {quotes[0][0]}")
        return [ChildPlan(s, q, why[s]) for s, q in plans.items()]


CapacityFn = Callable[[str], "Decimal | Awaitable[Decimal]"]


class AvailableCapacity:
    """Share in proportion to each broker's available capacity, never above it.

    ``capacity`` gives each system's capacity in order quantity: a mapping, or a function of the
    system id (sync or async) reading e.g. a rate budget or buying power. When the brokers together
    lack the capacity, the parent order is refused before anything is sent.
    """

    name = "available_capacity"

    def __init__(self, capacity: Mapping[str, Decimal | int | str] | CapacityFn) -> None:
        self.capacity = capacity

    @classmethod
    def from_rate_budget(
        cls, limiters: Mapping[str, Any], *, quantity_per_request: Decimal | int
    ) -> AvailableCapacity:
        """Capacity from each system's rate budget: the requests its limiter can still admit now (the
        tightest window of ``limiter.remaining()``) times ``quantity_per_request``."""

        def capacity(system: str) -> Decimal:
            limiter = limiters.get(system)
            if limiter is None:
                return ZERO
            left = min(limiter.remaining().values(), default=0)
            return Decimal(int(max(left, 0))) * Decimal(quantity_per_request)

        return cls(capacity)

    @classmethod
    def from_buying_power(cls, service: TradingService, price: Decimal) -> AvailableCapacity:
        """Capacity from each system's buying power at ``price`` (whole units)."""

        async def capacity(system: str) -> Decimal:
            account = await service.connector(system).get_account()
            power = account.buying_power if account.buying_power is not None else account.cash
            return (power / price).to_integral_value(rounding=ROUND_DOWN)

        return cls(capacity)

    async def _capacity(self, system: str) -> Decimal:
        if callable(self.capacity):
            value = self.capacity(system)
            if isinstance(value, Awaitable):
                value = await value
            return Decimal(str(value))
        return Decimal(str(self.capacity.get(system, 0)))

    async def split(
        self, service: TradingService, request: OrderRequest, systems: Sequence[str], lot_size: Decimal
    ) -> list[ChildPlan]:
        caps = {s: max(await self._capacity(s), ZERO) for s in systems}
        total = _quantity(request)
        if sum(caps.values(), ZERO) < total:
            raise PayloadRejected(
                f"available capacity {sum(caps.values(), ZERO)} across {list(systems)} is below {total}",
                field="quantity",
            )
        shares = split_pro_rata(total, caps, lot_size=lot_size, caps=caps)
        return [ChildPlan(s, q, f"capacity {caps[s]}") for s, q in shares.items() if q > 0]


def _quantity(request: OrderRequest) -> Decimal:
    if request.quantity is None:
        raise PayloadRejected("a parent order must be sized in quantity, not notional", field="quantity")
    return request.quantity


@dataclass
class ParentOrderState:
    """A parent order, its children and the compensating actions taken."""

    id: str
    idempotency_key: str
    policy: str
    on_child_failure: str
    request: OrderRequest
    children: list[OrderRecord]
    actions: list[dict[str, Any]]

    @property
    def filled_quantity(self) -> Decimal:
        return sum((c.filled_quantity for c in self.children), ZERO)

    @property
    def average_fill_price(self) -> Decimal | None:
        filled = self.filled_quantity
        if not filled:
            return None
        value = sum((c.filled_quantity * (c.average_fill_price or 0) for c in self.children), ZERO)
        return value / filled

    @property
    def working_quantity(self) -> Decimal:
        """Quantity in children that can still fill (not terminal, not rejected)."""
        return sum(
            ((c.request.quantity or ZERO) - c.filled_quantity for c in self.children if not c.is_terminal),
            ZERO,
        )

    @property
    def status(self) -> str:
        """``working`` while a child can still fill; ``filled`` when the whole quantity filled;
        ``partially_filled`` or ``failed`` when every child is done short of it."""
        if any(not c.is_terminal for c in self.children):
            return "working"
        total = self.request.quantity or ZERO
        if self.filled_quantity >= total:
            return "filled"
        return "partially_filled" if self.filled_quantity > 0 else "failed"


class Allocator:
    """Places parent orders across brokers through the trading service (durable, idempotent children)."""

    def __init__(self, service: TradingService) -> None:
        self.service = service

    async def place_parent_order(
        self,
        order: OrderRequest | Mapping[str, Any],
        *,
        policy: SplitPolicy,
        idempotency_key: str,
        systems: Sequence[str] | None = None,
        on_child_failure: Literal["reroute", "cancel_rest"] = "reroute",
        lot_size: Decimal | int = 1,
    ) -> ParentOrderState:
        """Split ``order`` by ``policy`` and place one child per broker.

        Children are placed one after the other, each with the key ``<parent key>/<system>/<n>``, so a
        repeated call (after a crash, say) places only what is missing. A child refused definitively
        (venue rejection, or pre-trade validation) triggers ``on_child_failure``: ``reroute`` shares
        its quantity among the brokers not yet failed by the same policy, ``cancel_rest`` cancels the
        other children and places no more. Every such step is recorded as a parent action.
        """
        from portico.trading._service import _coerce_request

        service = self.service
        request = _coerce_request(order)
        _quantity(request)
        lot = Decimal(lot_size)
        candidates = list(systems if systems is not None else service.connectors)
        stored = service.repo.parent_by_key(idempotency_key)
        canon = canonical_request(request)
        meta = {
            "policy": policy.name,
            "on_child_failure": on_child_failure,
            "systems": candidates,
            "lot_size": str(lot),
        }
        if stored is not None:
            previous = json.loads(stored.request_json)
            diff = differences(
                {**previous["order"], **{f"_{k}": v for k, v in previous["meta"].items()}},
                {**canon, **{f"_{k}": v for k, v in meta.items()}},
            )
            if diff:
                from portico.trading._errors import IdempotencyConflict

                raise IdempotencyConflict(
                    f"parent idempotency key {idempotency_key!r} was used for a different parent order",
                    idempotency_key=idempotency_key,
                    existing_id=stored.id,
                    differences=diff,
                )
            parent_id = stored.id
        else:
            # split before storing: a parent the policy cannot place leaves nothing behind
            plans = await policy.split(service, request, candidates, lot)
            parent_id = uuid.uuid4().hex
            service.repo.insert_parent(
                id=parent_id,
                key=idempotency_key,
                policy=policy.name,
                on_child_failure=on_child_failure,
                request={"order": canon, "meta": meta},
                now=service.clock.now(),
            )
            for plan in plans:
                service.repo.add_parent_action(
                    parent_id,
                    "plan",
                    now=service.clock.now(),
                    system=plan.system,
                    quantity=plan.quantity,
                    detail=plan.reason,
                )
        await self._work(parent_id, request, policy, candidates, on_child_failure, lot)
        return self.state(parent_id)

    async def _work(
        self,
        parent_id: str,
        request: OrderRequest,
        policy: SplitPolicy,
        candidates: list[str],
        on_child_failure: str,
        lot: Decimal,
    ) -> None:
        service = self.service
        key = service.repo.parent(parent_id).idempotency_key
        failed: set[str] = set()
        queue: list[tuple[str, Decimal, str]] = []
        for n, action in enumerate(
            a for a in service.repo.parent_actions(parent_id) if a["action"] in {"plan", "reroute"}
        ):
            queue.append((action["system"], action["quantity"], f"{key}/{action['system']}/{n}"))
        stop = any(a["action"] == "cancel_rest" for a in service.repo.parent_actions(parent_id))
        index = 0
        while index < len(queue):
            system, quantity, child_key = queue[index]
            index += 1
            if stop:
                if service.repo.by_key(system, child_key) is None:
                    service.repo.add_parent_action(
                        parent_id,
                        "skip",
                        now=service.clock.now(),
                        system=system,
                        quantity=quantity,
                        detail="not placed: rest cancelled",
                    )
                continue
            child_request = request.model_copy(update={"quantity": quantity, "client_order_id": None})
            failure: str | None = None
            child_id: str | None = None
            try:
                record = await service.place_order(
                    system, child_request, idempotency_key=child_key, parent_id=parent_id
                )
                child_id = record.id
            except OrderRejected as exc:
                failure, child_id = f"rejected by {system}: {exc.message}", exc.record.id
            except OrderValidationError as exc:
                failure = f"refused before sending: {exc.message}"
            except PorticoError as exc:
                if service.repo.by_key(system, child_key) is not None:
                    # stored, so it may be at the venue: it is tracked, not failed
                    continue
                failure = f"not placed: {exc.message}"
            if failure is None:
                continue
            failed.add(system)
            handled = any(
                a["action"] == "child_failed" and (a["detail"] or "").startswith(f"{child_key}: ")
                for a in service.repo.parent_actions(parent_id)
            )
            if handled:
                # a repeated call: this failure's compensation is already recorded (and queued)
                continue
            service.repo.add_parent_action(
                parent_id,
                "child_failed",
                now=service.clock.now(),
                child_id=child_id,
                system=system,
                quantity=quantity,
                detail=f"{child_key}: {failure}",
            )
            if on_child_failure == "cancel_rest":
                stop = True
                service.repo.add_parent_action(
                    parent_id,
                    "cancel_rest",
                    now=service.clock.now(),
                    system=system,
                    detail=f"{system} failed: cancelling the other children",
                )
                await self._cancel_children(parent_id)
                continue
            remaining = [s for s in candidates if s not in failed]
            if not remaining:
                service.repo.add_parent_action(
                    parent_id,
                    "unrouted",
                    now=service.clock.now(),
                    quantity=quantity,
                    detail="no broker left to re-route to",
                )
                continue
            try:
                plans = await policy.split(
                    service, request.model_copy(update={"quantity": quantity}), remaining, lot
                )
            except PorticoError as exc:
                service.repo.add_parent_action(
                    parent_id,
                    "unrouted",
                    now=service.clock.now(),
                    quantity=quantity,
                    detail=f"re-route failed: {exc.message}",
                )
                continue
            base = len(
                [a for a in service.repo.parent_actions(parent_id) if a["action"] in {"plan", "reroute"}]
            )
            for offset, plan in enumerate(plans):
                service.repo.add_parent_action(
                    parent_id,
                    "reroute",
                    now=service.clock.now(),
                    system=plan.system,
                    quantity=plan.quantity,
                    detail=f"from {system}: {plan.reason}",
                )
                queue.append((plan.system, plan.quantity, f"{key}/{plan.system}/{base + offset}"))

    async def _cancel_children(self, parent_id: str) -> None:
        service = self.service
        for child in service.repo.query(parent_id=parent_id):
            if child.is_terminal:
                continue
            try:
                after = await service.cancel_order(child.system, child.id)
                detail = f"cancel requested, now {after.status.value}"
            except PorticoError as exc:
                detail = f"cancel failed: {exc.message}"
            service.repo.add_parent_action(
                parent_id,
                "cancel",
                now=service.clock.now(),
                child_id=child.id,
                system=child.system,
                quantity=child.request.quantity,
                detail=detail,
            )

    async def cancel_parent(self, parent_id: str) -> ParentOrderState:
        """Cancel every working child of a parent order (recorded as parent actions)."""
        await self._cancel_children(parent_id)
        return self.state(parent_id)

    def allocate_fills(
        self,
        parent_id: str,
        targets: Mapping[str, Decimal | int | str],
        **options: Any,
    ) -> BlockAllocation:
        """Allocate the recorded executions of a parent order's children to accounts; see
        :func:`allocate_block` for ``options`` (``lot_size``, ``price_method``...). The allocation id
        defaults to the parent's id."""
        fills = [
            e
            for child in self.state(parent_id).children
            for e in self.service.repo.executions(order_id=child.id)
        ]
        if not fills:
            raise PayloadRejected(
                f"parent order {parent_id} has no recorded executions yet", field="parent_id"
            )
        options.setdefault("alloc_id", parent_id)
        return allocate_block(fills, targets, **options)

    def state(self, parent_id: str) -> ParentOrderState:
        """The parent order with its children as now tracked."""
        row = self.service.repo.parent(parent_id)
        if row is None:
            raise NotFound(f"no parent order {parent_id!r}")
        data = json.loads(row.request_json)
        return ParentOrderState(
            id=row.id,
            idempotency_key=row.idempotency_key,
            policy=row.policy,
            on_child_failure=row.on_child_failure,
            request=OrderRequest.model_validate(data["order"]),
            children=self.service.repo.query(parent_id=parent_id),
            actions=self.service.repo.parent_actions(parent_id),
        )


# -- allocating a block fill to accounts -------------------------------------------------------------

_FIX_SIDE = {OrderSide.BUY: "1", OrderSide.SELL: "2", OrderSide.SELL_SHORT: "5"}
FIX_COLUMNS = (
    "AllocID",
    "AllocTransType",
    "Side",
    "Symbol",
    "Quantity",
    "AvgPx",
    "TradeDate",
    "Currency",
    "AllocAccount",
    "AllocQty",
    "AllocAvgPx",
    "Commission",
)


@dataclass(frozen=True)
class AccountAllocation:
    """One account's share of a block."""

    account: str
    target: Decimal
    quantity: Decimal
    average_price: Decimal | None
    commission: Decimal


@dataclass
class BlockAllocation:
    """A filled block shared between accounts; exportable with FIX allocation field names."""

    alloc_id: str
    symbol: str
    side: OrderSide
    trade_date: date
    currency: str
    quantity: Decimal
    average_price: Decimal
    allocations: list[AccountAllocation] = field(default_factory=list)
    price_method: str = "average"

    def to_rows(self) -> list[dict[str, str]]:
        """One row per account: AllocID, AllocTransType (0 = new), Side (FIX code), Symbol, Quantity,
        AvgPx, TradeDate (YYYYMMDD), Currency, AllocAccount, AllocQty, AllocAvgPx, Commission."""
        return [
            {
                "AllocID": self.alloc_id,
                "AllocTransType": "0",
                "Side": _FIX_SIDE[self.side],
                "Symbol": self.symbol,
                "Quantity": str(self.quantity),
                "AvgPx": str(self.average_price),
                "TradeDate": self.trade_date.strftime("%Y%m%d"),
                "Currency": self.currency,
                "AllocAccount": a.account,
                "AllocQty": str(a.quantity),
                "AllocAvgPx": "" if a.average_price is None else str(a.average_price),
                "Commission": str(a.commission),
            }
            for a in self.allocations
        ]

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(FIX_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.to_rows())
        return buf.getvalue()

    def to_json(self) -> str:
        """The allocation as one message: block fields, then ``NoAllocs`` with one entry per account."""
        rows = self.to_rows()
        head = {
            k: v
            for k, v in (rows[0] if rows else {}).items()
            if not k.startswith("Alloc") or k in {"AllocID", "AllocTransType"}
        }
        head.pop("Commission", None)
        allocs = [{k: r[k] for k in ("AllocAccount", "AllocQty", "AllocAvgPx", "Commission")} for r in rows]
        return json.dumps({**head, "NoAllocs": allocs}, indent=2)

    def export(self, path: str | Path, format: str | None = None) -> Path:
        target = Path(path)
        fmt = (format or target.suffix.lstrip(".") or "csv").lower()
        if fmt not in {"csv", "json"}:
            raise ConfigurationError(
                f"allocation export format must be csv or json, not {fmt!r}", path="format"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_csv() if fmt == "csv" else self.to_json(), encoding="utf-8")
        return target


def allocate_block(
    fills: Sequence[Execution],
    targets: Mapping[str, Decimal | int | str],
    *,
    lot_size: Decimal | int = 1,
    price_method: Literal["average", "fifo"] = "average",
    price_places: int = 6,
    commission_places: int = 2,
    alloc_id: str | None = None,
) -> BlockAllocation:
    """Share the fills of one block order among accounts, pro-rata by their target quantities.

    Quantities follow the module's rounding and residual rule. Prices:

    - ``average`` (default): every account gets the block's volume-weighted average price.
    - ``fifo``: accounts, largest allocation first (ties alphabetical), take the fills in execution
      order; each account's price is the average of the fill quantities it took.

    Prices are rounded half-even to ``price_places``. The block's commission and fees are shared
    pro-rata by allocated quantity, rounded to ``commission_places``, the rounding residue going to
    the largest allocation.

    Raises:
        PayloadRejected: no fills, fills of different instruments or sides, or more filled than targeted.
    """
    if not fills:
        raise PayloadRejected("no fills to allocate", field="fills")
    first = fills[0]
    if any(f.symbol != first.symbol or f.side is not first.side for f in fills):
        raise PayloadRejected("a block allocation needs fills of one instrument and side", field="fills")
    tgt = {k: Decimal(str(v)) for k, v in targets.items()}
    if any(v < 0 for v in tgt.values()):
        raise PayloadRejected("targets must not be negative", field="targets")
    total = sum((f.quantity for f in fills), ZERO)
    if total > sum(tgt.values(), ZERO):
        raise PayloadRejected(
            f"filled {total} exceeds the targets' total {sum(tgt.values(), ZERO)}", field="targets"
        )
    quantities = split_pro_rata(total, tgt, lot_size=Decimal(lot_size), caps=tgt)
    value = sum((f.quantity * f.price for f in fills), ZERO)
    quantum = Decimal(1).scaleb(-price_places)
    block_avg = (value / total).quantize(quantum, rounding=ROUND_HALF_EVEN)
    prices: dict[str, Decimal | None] = {}
    if price_method == "average":
        prices = {k: (block_avg if q > 0 else None) for k, q in quantities.items()}
    elif price_method == "fifo":
        queue = deque([f.quantity, f.price] for f in sorted(fills, key=lambda f: (f.executed_at, f.execution_id)))
        for account in sorted(quantities, key=lambda k: (-quantities[k], k)):
            need, spent = quantities[account], ZERO
            while need > 0:
                take = min(need, queue[0][0])
                spent += take * queue[0][1]
                queue[0][0] -= take
                need -= take
                if queue[0][0] == 0:
                    queue.popleft()
            prices[account] = (
                (spent / quantities[account]).quantize(quantum, rounding=ROUND_HALF_EVEN)
                if quantities[account]
                else None
            )
    else:
        raise ConfigurationError(
            f"price_method must be average or fifo, not {price_method!r}", path="price_method"
        )
    charges = sum(((f.commission or ZERO) + (f.fees or ZERO) for f in fills), ZERO)
    cq = Decimal(1).scaleb(-commission_places)
    commissions = {k: (charges * q / total).quantize(cq, rounding=ROUND_DOWN) for k, q in quantities.items()}
    residue = charges.quantize(cq, rounding=ROUND_HALF_EVEN) - sum(commissions.values(), ZERO)
    if residue:
        largest = sorted(quantities, key=lambda k: (-quantities[k], k))[0]
        commissions[largest] += residue
    return BlockAllocation(
        alloc_id=alloc_id or uuid.uuid4().hex[:16],
        symbol=first.symbol,
        side=first.side,
        trade_date=min(f.executed_at for f in fills).date(),
        currency=first.currency,
        quantity=total,
        average_price=block_avg,
        allocations=[
            AccountAllocation(
                account=k,
                target=tgt[k],
                quantity=quantities[k],
                average_price=prices[k],
                commission=commissions[k],
            )
            for k in sorted(tgt)
        ],
        price_method=price_method,
    )
