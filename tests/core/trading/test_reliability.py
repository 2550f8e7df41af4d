"""The reliability test, CI-sized: orders through the trading service to two mock brokers at once (Alpaca
with 20% answers dropped after commit, 5% connections dropped before, stream cuts; IB with 20% acknowledgements
lost) with the driving process SIGKILLed and restarted twice on the same store; invariants checked from the
history file, the venues and the store (the full 1,000 orders: ``tests/soak`` or
``python -m benchmarks.order_soak``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ib_async")

from tests.soak.harness import Broker, SoakResult, check_invariants, read_history, run_soak


@pytest.mark.slow
async def test_orders_survive_faults_and_two_kills(tmp_path: Path) -> None:
    result = await run_soak(tmp_path / "soak", count=150, seed=7)
    assert result.violations == [], "\n".join(result.violations[:20])
    assert result.kills == 2 and result.runs == 3
    # the faults and the kills really exercised the recovery paths
    ops = result.operations
    assert ops["final"] == 150 and ops["done"] == 1
    assert ops["ok"] > 150, "the restarted runs replay keys already answered"
    assert ops["recovered"] == 3
    # each kill landed with new orders in flight, and the restarted run's recovery resolved them
    recovered = [h for h in read_history(result.history) if h["op"] == "recovered"]
    assert [sum(len(ids) for ids in h["resolved"].values()) >= 1 for h in recovered] == [False, True, True]
    alpaca, ib = result.fault_hits["alpaca_a"], result.fault_hits["ib_b"]
    assert (
        alpaca.get("drop_after", 0) > 0
        and alpaca.get("drop_before", 0) > 0
        and alpaca.get("ws_disconnect", 0) > 0
    )
    assert ib["drop_order_ack"] > 0
    # a few orders were refused by the venue (unknown instrument), and reported so only with its answer
    assert result.rejected > 0 and ops["rejected"] >= result.rejected


class _FakeBroker(Broker):
    def __init__(self, system: str, orders: list[dict]) -> None:
        super().__init__(system=system, kind="fake", seed=0, setup={})
        self._orders = orders

    def venue_orders(self) -> list[dict]:
        return self._orders


async def test_invariant_checker_catches_each_violation(tmp_path: Path) -> None:
    """The checker is not vacuous: duplicates, orphans, lost intents, state mismatches, unfinished
    runs and rejections without a venue answer are each reported."""
    from decimal import Decimal

    from portico.models import OrderRequest
    from portico.store import Database
    from portico.trading._fingerprint import fingerprint
    from portico.trading._repository import OrderRepository
    from portico.trading._tracking import Observation

    url = f"sqlite:///{tmp_path / 'check.db'}"
    db = Database(url)
    repo = OrderRepository(db)
    from portico.clock import FakeClock
    from portico.models import OrderStatus

    now = FakeClock().now()
    plan = []
    for i in range(4):
        request = OrderRequest(symbol="AAPL", side="buy", quantity=Decimal(1))
        repo.insert_intent(
            id=f"id{i}",
            system="x",
            idempotency_key=f"k{i}",
            client_order_id=f"c{i}",
            request=request,
            request_hash=fingerprint(request)[0],
            now=now,
        )
        plan.append({"key": f"k{i}", "system": "x", "order": {}})
    repo.apply(
        "id0",
        Observation(status=OrderStatus.FILLED, event="fill", source="t", filled_quantity=Decimal(1)),
        now,
    )
    repo.apply("id1", Observation(status=OrderStatus.REJECTED, event="rejected", source="t"), now)
    repo.apply("id3", Observation(status=OrderStatus.NEW, event="new", source="t"), now)
    db.dispose()
    history = tmp_path / "history.jsonl"
    lines = [
        {"op": "ok", "key": "k0", "system": "x", "id": "id0", "client_order_id": "c0", "status": "filled"},
        {"op": "ok", "key": "k0", "system": "x", "id": "other", "client_order_id": "c0", "status": "filled"},
        {"op": "rejected", "key": "k1", "system": "x", "id": "id1", "client_order_id": "c1"},
    ]
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    broker = _FakeBroker(
        "x",
        [
            {"client_order_id": "c0", "status": "filled", "filled": "1"},
            {"client_order_id": "c0", "status": "filled", "filled": "1"},
            {"client_order_id": "c3", "status": "filled", "filled": "1"},
            {"client_order_id": "zz", "status": "new", "filled": "0"},
        ],
    )
    result = SoakResult(orders=4, runs=1, kills=0, history=history)
    check_invariants(result, plan, [broker], url)
    text = "\n".join(result.violations)
    assert "key k0 answered with 2 different intents" in text
    assert "did not finish" in text
    assert "c0 exists 2 times" in text
    assert "order zz at the venue matches no intent" in text
    assert "intent id2 (pending_submit) is not at the venue" in text
    assert "intent id2 ended pending_submit" in text
    assert "intent id3: filled 0 vs venue 1" in text and "intent id3: status new vs venue filled" in text
    assert "key k1 reported rejected without the venue rejecting it" in text
