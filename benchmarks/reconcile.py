"""Trade reconciliation and FIFO allocation at 1k / 10k / 100k fills: how the time grows.

Trades: the store holds N executions; the broker reports the same N, a third of them under another
id (a stream execution id in the store, the REST activity id at the broker: the pairs reconciliation
must match by order, side, quantity, price and time), and 2% on each side with no counterpart (real
breaks). ``TradingService.reconciler().reconcile_trades`` is timed, wall and CPU, on SQLite in a
temporary directory, against the test kit's in-memory broker (so the broker's own cost is nil and
what grows is portico's). Allocation: ``allocate_block`` with ``price_method="fifo"`` over N fills
to 50 accounts.

Linear growth means each 10x in N costs about 10x in time (the per-fill figure stays flat); the old
pairing was O(n^2 log n) (10k fills took 14 s). Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portico.clock import FakeClock
from portico.models import Execution
from portico.store import Database
from portico.trading import TradingService, allocate_block
from portico.trading import _tables as t
from tests.core.trading.fakes import FakeBroker, FakeVenue  # run from the repository root (python -m)

SIZES = (1_000, 10_000, 100_000)
START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def _fills(n: int, rng: random.Random) -> tuple[list[Execution], list[Execution]]:
    mine: list[Execution] = []
    theirs: list[Execution] = []
    for i in range(n):
        at = START + timedelta(seconds=i)
        fill = Execution(
            execution_id=f"S-{i}",
            order_id=f"V{i // 3}",
            account_id="ACC-1",
            symbol=rng.choice(("AAPL", "MSFT", "XYZ")),
            side="buy" if i % 2 else "sell",
            quantity=Decimal(rng.randint(1, 500)),
            price=Decimal(rng.randint(1000, 50000)) / 100,
            executed_at=at,
        )
        kind = i % 50
        if kind != 0:
            mine.append(fill)
        if kind != 1:
            if i % 3 == 0:  # the same fill under the broker's activity id, a second later
                fill = fill.model_copy(
                    update={"execution_id": f"ACT-{i}", "executed_at": at + timedelta(seconds=1)}
                )
            theirs.append(fill)
    return mine, theirs


def _store(db: Database, fills: list[Execution]) -> None:
    db.ensure_tables(*t.trading_tables())
    rows = [
        {
            "system": "fake",
            "execution_id": e.execution_id,
            "order_id": None,
            "venue_order_id": e.order_id,
            "account_id": e.account_id,
            "symbol": e.symbol,
            "side": e.side.value,
            "quantity": t.to_dec(e.quantity),
            "price": t.to_dec(e.price),
            "currency": e.currency,
            "executed_at": e.executed_at,
            "recorded_at": START,
        }
        for e in fills
    ]
    with db.begin() as conn:
        conn.execute(t.executions.insert(), rows)


async def _reconcile(n: int, root: Path) -> tuple[float, float, int, int]:
    mine, theirs = _fills(n, random.Random(n))
    db = Database(f"sqlite:///{root / f'rec-{n}.db'}")
    _store(db, mine)
    clock = FakeClock(START + timedelta(days=1))
    venue = FakeVenue(clock=clock)
    venue.executions = theirs
    service = TradingService(db=db, clock=clock, connectors={"fake": FakeBroker.create(venue)})
    wall, cpu = time.perf_counter(), time.process_time()
    breaks, compared = await service.reconciler().reconcile_trades("fake")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.dispose()
    return wall, cpu, len(breaks), compared


def _allocate(n: int) -> tuple[float, float]:
    rng = random.Random(n)
    fills = [
        Execution(
            execution_id=f"F-{i}",
            order_id="BLOCK",
            symbol="AAPL",
            side="buy",
            quantity=Decimal(rng.randint(1, 20)),
            price=Decimal(rng.randint(10000, 10100)) / 100,
            executed_at=START + timedelta(milliseconds=i),
        )
        for i in range(n)
    ]
    total = sum(f.quantity for f in fills)
    targets = {f"ACC-{k:02d}": total // 50 + 1 for k in range(50)}
    wall, cpu = time.perf_counter(), time.process_time()
    allocate_block(fills, targets, price_method="fifo")
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    print("reconcile_trades (store vs broker, a third of the fills under a second id)")
    print(
        f"{'fills':>8} {'wall s':>8} {'cpu s':>8} {'us/fill':>8} {'breaks':>7} {'compared':>9} {'x prev':>7}"
    )
    prev = None
    walls: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            wall, cpu, breaks, compared = asyncio.run(_reconcile(n, Path(tmp)))
            growth = f"{wall / prev:.1f}" if prev else "-"
            print(
                f"{n:>8} {wall:>8.2f} {cpu:>8.2f} {wall / n * 1e6:>8.0f} {breaks:>7} {compared:>9} {growth:>7}"
            )
            prev = walls[n] = wall
    print("\nallocate_block fifo (N fills to 50 accounts)")
    print(f"{'fills':>8} {'wall s':>8} {'cpu s':>8} {'us/fill':>8} {'x prev':>7}")
    prev = None
    cpus: dict[int, float] = {}
    for n in SIZES:
        wall, cpu = _allocate(n)
        growth = f"{wall / prev:.1f}" if prev else "-"
        print(f"{n:>8} {wall:>8.3f} {cpu:>8.3f} {wall / n * 1e6:>8.1f} {growth:>7}")
        prev, cpus[n] = wall, cpu
    print(
        "\ntarget: linear-ish (x prev near 10 per 10x fills); 100k fills faster than 10k took before (14 s)"
    )
    big = walls[SIZES[-1]]
    print(
        f"TARGET reconcile trades: {SIZES[-1]:,} fills in less than the 14 s 10,000 took before: {big:.1f} s ({big / walls[SIZES[-2]]:.1f}x per 10x) {'met' if big < 14 else 'missed'}"
    )
    # CPU, not wall: the growth of a sub-second figure on a shared machine is mostly its neighbours
    growth = cpus[SIZES[-1]] / max(cpus[SIZES[-2]], 1e-9)
    print(
        f"TARGET reconcile allocation fifo: linear-ish (at most 20x per 10x fills): {growth:.1f}x CPU from {SIZES[-2]:,} to {SIZES[-1]:,} {'met' if growth <= 20 else 'missed'}"
    )


if __name__ == "__main__":
    main()
