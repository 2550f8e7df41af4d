"""Multi-broker splitting and block allocation, against hand-computed cases."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest

from portico.errors import PayloadRejected
from portico.models import Execution, OrderStatus
from portico.trading import (
    AvailableCapacity,
    BestQuote,
    FixedWeights,
    TradingService,
    allocate_block,
    split_pro_rata,
)
from tests.core.trading.fakes import FakeBroker, FakeVenue

D = Decimal


@pytest.mark.parametrize(
    ("total", "weights", "lot", "expected"),
    [
        # exact shares
        ("1000", {"A": 500, "B": 300, "C": 200}, 100, {"A": 500, "B": 300, "C": 200}),
        # ideal 350/210/140 -> 300/200/100, one lot left: largest remainder (A: 50) takes it
        ("700", {"A": 500, "B": 300, "C": 200}, 100, {"A": 400, "B": 200, "C": 100}),
        # equal remainders and targets: alphabetical
        ("200", {"A": 100, "B": 100, "C": 100}, 100, {"A": 100, "B": 100, "C": 0}),
        # ideal on 2 round lots: A 1.2, B 0.8 lots -> A 1, B 0, the left lot to B (0.8 > 0.2);
        # the odd 50 to the largest target (A)
        ("250", {"A": 600, "B": 400}, 100, {"A": 150, "B": 100}),
        # one round lot of 2: ideal A 1/3, B 2/3 -> B; the odd unit to the larger weight (B)
        ("3", {"A": 1, "B": 2}, 2, {"A": 0, "B": 3}),
        # lot of one, fractional weights
        ("10", {"A": "1", "B": "1", "C": "1"}, 1, {"A": 4, "B": 3, "C": 3}),
    ],
)
def test_split_pro_rata_hand_computed(total: str, weights: dict, lot: int, expected: dict) -> None:
    shares = split_pro_rata(D(total), {k: D(str(v)) for k, v in weights.items()}, lot_size=D(lot))
    assert shares == {k: D(v) for k, v in expected.items()}
    assert sum(shares.values()) == D(total)


def test_split_respects_caps_when_passing_residual_lots() -> None:
    # ideal 1.5 / 1.5 lots; A has the tie but is capped at 100, so the left lot goes to B
    shares = split_pro_rata(
        D(300), {"A": D(100), "B": D(300)}, lot_size=D(100), caps={"A": D(100), "B": D(300)}
    )
    assert shares == {"A": D(100), "B": D(200)}


def _fills(clock) -> list[Execution]:
    t0 = clock.now()
    return [
        Execution(
            execution_id="F1",
            order_id="O",
            symbol="AAPL",
            side="buy",
            quantity=D(150),
            price=D("10.00"),
            commission=D("1.00"),
            executed_at=t0,
        ),
        Execution(
            execution_id="F2",
            order_id="O",
            symbol="AAPL",
            side="buy",
            quantity=D(100),
            price=D("10.10"),
            commission=D("1.00"),
            fees=D("0.01"),
            executed_at=t0 + timedelta(seconds=1),
        ),
    ]


def test_block_allocation_average_price_and_residual(clock) -> None:
    alloc = allocate_block(_fills(clock), {"ACC-A": 600, "ACC-B": 400}, lot_size=100, alloc_id="BLK1")
    by = {a.account: a for a in alloc.allocations}
    # 250 filled of 1000: 2 round lots -> A 100 + B 100 (residual lot by remainder), odd 50 -> A
    assert (by["ACC-A"].quantity, by["ACC-B"].quantity) == (D(150), D(100))
    # VWAP (150*10.00 + 100*10.10) / 250 = 10.04 for everyone
    assert alloc.average_price == D("10.040000")
    assert by["ACC-A"].average_price == by["ACC-B"].average_price == D("10.040000")
    # charges 2.01 pro rata: A 1.206 -> 1.20, B 0.804 -> 0.80, residue 0.01 to the largest (A)
    assert (by["ACC-A"].commission, by["ACC-B"].commission) == (D("1.21"), D("0.80"))
    rows = list(csv.DictReader(io.StringIO(alloc.to_csv())))
    assert rows[0] == {
        "AllocID": "BLK1",
        "AllocTransType": "0",
        "Side": "1",
        "Symbol": "AAPL",
        "Quantity": "250",
        "AvgPx": "10.040000",
        "TradeDate": clock.now().strftime("%Y%m%d"),
        "Currency": "USD",
        "AllocAccount": "ACC-A",
        "AllocQty": "150",
        "AllocAvgPx": "10.040000",
        "Commission": "1.21",
    }
    message = json.loads(alloc.to_json())
    assert message["AllocID"] == "BLK1" and message["Quantity"] == "250"
    assert [a["AllocAccount"] for a in message["NoAllocs"]] == ["ACC-A", "ACC-B"]


def test_block_allocation_fifo_prices(clock) -> None:
    alloc = allocate_block(_fills(clock), {"ACC-A": 600, "ACC-B": 400}, lot_size=100, price_method="fifo")
    by = {a.account: a for a in alloc.allocations}
    # A (150, the larger) takes F1 entirely at 10.00; B takes F2 at 10.10
    assert by["ACC-A"].average_price == D("10.000000")
    assert by["ACC-B"].average_price == D("10.100000")
    # three accounts, a split fill: A 500/1000 of 700 filled...
    t0 = clock.now()
    fills = [
        Execution(
            execution_id="G1",
            order_id="O",
            symbol="X",
            side="sell",
            quantity=D(400),
            price=D(20),
            executed_at=t0,
        ),
        Execution(
            execution_id="G2",
            order_id="O",
            symbol="X",
            side="sell",
            quantity=D(300),
            price=D(21),
            executed_at=t0 + timedelta(seconds=1),
        ),
    ]
    alloc = allocate_block(fills, {"A": 500, "B": 300, "C": 200}, lot_size=100, price_method="fifo")
    by = {a.account: a for a in alloc.allocations}
    assert {k: v.quantity for k, v in by.items()} == {"A": D(400), "B": D(200), "C": D(100)}
    # A takes 400 of G1 @20; B takes 200 of G2 @21; C takes 100 of G2 @21
    assert (by["A"].average_price, by["B"].average_price, by["C"].average_price) == (D(20), D(21), D(21))
    assert alloc.to_rows()[0]["Side"] == "2"


def test_block_allocation_refuses_overfill_and_mixed_fills(clock) -> None:
    with pytest.raises(PayloadRejected, match="exceeds"):
        allocate_block(_fills(clock), {"A": 100}, lot_size=1)
    mixed = [*_fills(clock)]
    mixed[1] = mixed[1].model_copy(update={"symbol": "MSFT"})
    with pytest.raises(PayloadRejected, match="one instrument"):
        allocate_block(mixed, {"A": 1000})


@pytest.fixture
def three(make_service, clock):
    venues = {name: FakeVenue(clock=clock, seed=i) for i, name in enumerate(("a", "b", "c"))}
    service: TradingService = make_service({n: FakeBroker.create(v, n) for n, v in venues.items()})
    return service, venues


async def test_fixed_weights_children_tracked_to_parent(three) -> None:
    service, venues = three
    state = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "1000"},
        policy=FixedWeights({"a": 50, "b": 30, "c": 20}),
        idempotency_key="P1",
        lot_size=100,
    )
    assert {c.system: c.request.quantity for c in state.children} == {"a": D(500), "b": D(300), "c": D(200)}
    assert all(c.parent_id == state.id for c in state.children)
    assert state.status == "filled" and state.filled_quantity == D(1000)
    assert state.average_fill_price == D(100)
    again = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "1000"},
        policy=FixedWeights({"a": 50, "b": 30, "c": 20}),
        idempotency_key="P1",
        lot_size=100,
    )
    assert again.id == state.id
    assert sum(len(v.orders) for v in venues.values()) == 3


async def test_definitive_child_failure_is_rerouted(three) -> None:
    service, venues = three
    venues["b"].reject_symbols.add("AAPL")
    kwargs = dict(policy=FixedWeights({"a": 50, "b": 30, "c": 20}), idempotency_key="P2", lot_size=100)
    state = await service.place_parent_order({"symbol": "AAPL", "side": "buy", "quantity": "1000"}, **kwargs)
    # b's 300 re-shared 50:20 in lots: a 2 lots, c 0 + the left lot (remainder .857 > .143)
    placed = {}
    for c in state.children:
        if c.status is not OrderStatus.REJECTED:
            placed[c.system] = placed.get(c.system, D(0)) + c.request.quantity
    assert placed == {"a": D(700), "c": D(300)}
    assert state.filled_quantity == D(1000) and state.status == "filled"
    actions = [(a["action"], a["system"], a["quantity"]) for a in state.actions]
    assert actions == [
        ("plan", "a", D(500)),
        ("plan", "b", D(300)),
        ("plan", "c", D(200)),
        ("child_failed", "b", D(300)),
        ("reroute", "a", D(200)),
        ("reroute", "c", D(100)),
    ]
    # replaying the parent places nothing new and records nothing new
    again = await service.place_parent_order({"symbol": "AAPL", "side": "buy", "quantity": "1000"}, **kwargs)
    assert len(again.actions) == len(state.actions)
    assert sum(len(v.orders) for v in venues.values()) == 4


async def test_definitive_child_failure_cancels_the_rest(three) -> None:
    service, venues = three
    for v in venues.values():
        v.fill = "none"
    venues["b"].reject_symbols.add("AAPL")
    state = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "1000", "order_type": "limit", "limit_price": "100"},
        policy=FixedWeights({"a": 50, "b": 30, "c": 20}),
        idempotency_key="P3",
        lot_size=100,
        on_child_failure="cancel_rest",
    )
    assert {c.system: c.status for c in state.children} == {
        "a": OrderStatus.CANCELED,
        "b": OrderStatus.REJECTED,
    }
    assert [a["action"] for a in state.actions][3:] == ["child_failed", "cancel_rest", "cancel", "skip"]
    assert venues["c"].orders == {}
    assert state.status == "failed"


async def test_best_quote_routes_to_the_best_price(three) -> None:
    service, venues = three
    venues["a"].prices["AAPL"] = D(100)
    venues["b"].prices["AAPL"] = D(99)
    venues["c"].prices["AAPL"] = D("100.5")
    buy = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "10"}, policy=BestQuote(), idempotency_key="Q1"
    )
    assert [(c.system, c.request.quantity) for c in buy.children] == [("b", D(10))]
    venues["a"].positions["AAPL"] = venues["c"].positions["AAPL"] = D(1000)
    sell = await service.place_parent_order(
        {"symbol": "AAPL", "side": "sell", "quantity": "10"},
        policy=BestQuote(),
        idempotency_key="Q2",
        systems=["a", "c"],
    )
    assert [(c.system, c.request.quantity) for c in sell.children] == [("c", D(10))]
    for v in venues.values():
        v.quote_size = D(300)
    sized = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "500"},
        policy=BestQuote(use_size=True),
        idempotency_key="Q3",
    )
    assert sorted((c.system, c.request.quantity) for c in sized.children) == [("a", D(200)), ("b", D(300))]


async def test_available_capacity(three) -> None:
    service, _ = three
    state = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "400"},
        policy=AvailableCapacity({"a": 600, "b": 200}),
        idempotency_key="C1",
        systems=["a", "b"],
        lot_size=100,
    )
    assert sorted((c.system, c.request.quantity) for c in state.children) == [("a", D(300)), ("b", D(100))]

    async def capacity(system: str) -> Decimal:
        return D(100)

    with pytest.raises(PayloadRejected, match="capacity"):
        await service.place_parent_order(
            {"symbol": "AAPL", "side": "buy", "quantity": "400"},
            policy=AvailableCapacity(capacity),
            idempotency_key="C2",
        )


async def test_capacity_from_rate_budget_and_buying_power(three) -> None:
    service, venues = three

    class Limiter:
        def __init__(self, left: dict[str, float]) -> None:
            self.left = left

        def remaining(self) -> dict[str, float]:
            return self.left

    # a: 3 requests left in its tightest window, b: 1, c: none
    limiters = {
        "a": Limiter({"200/minute": 3.0, "10/second": 9.0}),
        "b": Limiter({"200/minute": 1.5}),
        "c": Limiter({"200/minute": 0.0}),
    }
    state = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "400"},
        policy=AvailableCapacity.from_rate_budget(limiters, quantity_per_request=100),
        idempotency_key="R1",
        lot_size=100,
    )
    # capacities 300 / 100 / 0 share 400 as 300 / 100
    assert sorted((c.system, c.request.quantity) for c in state.children) == [("a", D(300)), ("b", D(100))]
    venues["a"].cash, venues["b"].cash, venues["c"].cash = D(30_000), D(10_000), D(0)
    state = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "200"},
        policy=AvailableCapacity.from_buying_power(service, D(100)),
        idempotency_key="R2",
        lot_size=100,
    )
    # 300 and 100 units of buying power share 200 as 150/50 -> lots 1.5/0.5 -> 100/0 + the left lot
    # to the tie-break (equal remainders .5/.5: the larger capacity, a)
    assert sorted((c.system, c.request.quantity) for c in state.children) == [("a", D(200))]


async def test_parent_fills_allocated_to_accounts_and_exported(three, tmp_path) -> None:
    service, venues = three
    venues["a"].prices["AAPL"], venues["b"].prices["AAPL"] = D(100), D(101)
    state = await service.place_parent_order(
        {"symbol": "AAPL", "side": "buy", "quantity": "500"},
        policy=FixedWeights({"a": 3, "b": 2}),
        idempotency_key="BLK",
        systems=["a", "b"],
        lot_size=100,
    )
    for system in ("a", "b"):
        await service.sync_executions(system)
    alloc = service.allocator.allocate_fills(
        state.id, {"FUND-1": 250, "FUND-2": 150, "FUND-3": 100}, lot_size=50
    )
    # 300 @ 100 + 200 @ 101 -> VWAP 100.4; 500 shares exactly as targeted
    assert alloc.alloc_id == state.id and alloc.average_price == D("100.400000")
    assert [(a.account, a.quantity) for a in alloc.allocations] == [
        ("FUND-1", D(250)),
        ("FUND-2", D(150)),
        ("FUND-3", D(100)),
    ]
    # each child paid 1.00 commission + 0.02 fees: 2.04 shared 250/150/100 -> 1.02 / 0.612 / 0.408,
    # rounded down to 1.02 / 0.61 / 0.40, the 0.01 residue to the largest allocation (FUND-1)
    assert [a.commission for a in alloc.allocations] == [D("1.03"), D("0.61"), D("0.40")]
    path = alloc.export(tmp_path / "alloc.json")
    message = json.loads(path.read_text())
    assert message["AllocID"] == state.id and len(message["NoAllocs"]) == 3
    assert alloc.export(tmp_path / "alloc.csv").read_text().startswith("AllocID,AllocTransType,Side,Symbol")
