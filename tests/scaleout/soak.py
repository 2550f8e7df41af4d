"""The scale-out soak: three runtime processes on PostgreSQL, Redis and RabbitMQ sharing one workload.

Parent (:func:`run_soak`): a fresh PostgreSQL database, a private ``redis-server`` (stopped for a while),
the shared RabbitMQ (``stop_app``/``start_app`` once, always restored), one Alpaca mock venue with its
per-key limit of 200 requests a minute, and an idempotent consumer (:func:`portico.events.consume`,
transactional) of every event. It starts three worker processes, SIGKILLs two of them at seeded
moments and restarts them, then stops all three with SIGTERM and checks the invariants.

Worker (``python -m tests.scaleout.soak CONFIG SLOT``): the runtime of ``portico run`` (``serve`` without
HTTP: its scheduler with the fire-time claims, the event outbox, the Redis rate-limit budgets with
``scale_out.workers: 3``), plus slot ``SLOT``'s orders: system ``alpaca_<slot>`` (one venue, one API key:
the three slots share one rate-limit budget) through a :class:`~portico.trading.TradingService` on the
shared store, each order with its idempotency key; a restarted worker recovers its slot first. All
three also call the venue's account endpoint without pause with a second API key, whose budget (shared
through Redis) must be used to the full and never beyond; that caller waits at most 1 s for budget and
asks again every 0.5 s, so the budget (and Redis) is asked through the Redis outage. At SIGTERM each
worker writes its hammer's counts and its outbox's dropped events to ``workers.log``, and its waiting
tasks when orders are unplaced or the hammer went silent.

Invariants (:func:`check`):

1. Every fire time of the scheduled job ran exactly once: one claim per fire time, on the 2 s grid with
   none missing, each ``done`` (or ``skipped``/``missed`` as the job's policy says), none left running;
   the job's import committed once.
2. Every planned order is at the venue exactly once, and every intent in the store is resolved.
3. Every event in the outbox was sent, and consumed exactly once (the consumer's table does not make
   event ids unique: a second handling would show), nothing else consumed, nothing dead-lettered.
4. The venue's journal: no 429, at most 200 requests of either key in any 60 s, and at least 90% of
   that in the busiest minute of the key all three workers call without pause; Redis going away and
   coming back was reported (``ratelimit.shared_unavailable`` and ``ratelimit.shared_restored``), and
   no budget turned local before Redis was stopped (one worker's failed call is no Redis outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["SoakResult", "run_soak"]

CREDENTIALS = {"api_key_id": "PKSCALE", "api_secret_key": "scale-out-secret"}
# a second key, called without pause by all three workers from the start: its budget (shared through
# Redis) is used to the full, while the orders' key keeps the room they need
HAMMER = {"api_key_id": "PKHAMMER", "api_secret_key": "scale-out-hammer"}
VENUE_LIMIT = 200  # requests a minute per key at the mock (Alpaca's documented limit)
PORTICO_LIMIT = 190  # what portico is told: a margin for requests admitted at a window's edge
JOB_ID = "soak-tick"
ROOT = Path(__file__).resolve().parents[2]


# -- the worker (subprocess side) -------------------------------------------------------------------


async def worker(config: dict[str, Any], slot: int) -> None:
    from portico.cli._run import serve
    from portico.config._models import ThrottlingConfig
    from portico.connectors.alpaca import AlpacaConnector
    from portico.errors import PorticoError, RateLimited
    from portico.runtime import AsyncIntegration
    from portico.runtime._composition import PublishingMonitor
    from portico.sdk import ConnectorContext
    from portico.trading import OrderRejected, TradingService

    integration = AsyncIntegration(config["runtime"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = asyncio.create_task(serve(integration, stop=stop, http=False, echo=lambda line: None))
    while not integration._started and not server.done():
        await asyncio.sleep(0.05)
    if server.done():
        server.result()  # the runtime did not start: the worker fails with its error
    system = f"alpaca_{slot}"
    policy = ThrottlingConfig(max_requests_per_minute=PORTICO_LIMIT, max_wait=600).apply(
        AlpacaConnector.spec.throttling
    )

    # the hammer waits at most 1 s for budget and asks again every 0.5 s: the shared budget is asked
    # (and Redis with it) the whole soak, also while it is spent, so the Redis outage is always met
    # (a caller sleeping out a 60 s wait calls nothing, and a soak once saw no fallback at all)
    hammer_policy = ThrottlingConfig(max_requests_per_minute=PORTICO_LIMIT, max_wait=1).apply(
        AlpacaConnector.spec.throttling
    )

    def build(credentials: dict[str, str], system_id: str, policy: Any = policy) -> Any:
        shared = integration.limiters.get("alpaca", policy, credentials=credentials)

        def client_factory(base_url: str, **overrides: Any) -> Any:
            from portico.http import ApiClient

            # as the runtime builds its clients: every call through the shared (Redis) budget
            options = {"system": system_id, "retry": policy.retry, "rate_limiter": shared, **overrides}
            return ApiClient(base_url, **options)

        context = ConnectorContext.for_testing(
            AlpacaConnector,
            urls=config["urls"],
            system_id=system_id,
            credentials=credentials,
            rate_limiter=shared,
            client_factory=client_factory,
        )
        return AlpacaConnector(context)

    connector = build(CREDENTIALS, system)
    hammer = build(HAMMER, f"hammer_{slot}", hammer_policy)

    hammered: Counter[str] = Counter()
    admitted: Counter[int] = Counter()  # the hammer's answered calls per 5 s of wall time

    async def hammering() -> None:
        with contextlib.suppress(PorticoError):
            await hammer.open()
        while not stop.is_set():
            hammered["last_call"] = int(time.time())
            try:
                await asyncio.wait_for(hammer.get_account(), 30)
                hammered["ok"] += 1
                admitted[int(time.time()) // 5 * 5] += 1
            except RateLimited:
                hammered["throttled"] += 1
                await asyncio.sleep(0.5)
            except (PorticoError, TimeoutError) as exc:
                hammered[type(exc).__name__] += 1
                await asyncio.sleep(0.05)

    hammer_task = asyncio.create_task(hammering())
    # for the report: how late the loop ran its callbacks, and when the hammer's budget changed mode
    watch: dict[str, Any] = {"max_lag": 0.0, "lags": [], "modes": []}
    shared_hammer = integration.limiters.get("alpaca", hammer_policy, credentials=HAMMER)

    async def watching() -> None:
        mode = None
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            lag = time.monotonic() - before - 0.1
            watch["max_lag"] = max(watch["max_lag"], round(lag, 2))
            if lag > 1.0:
                watch["lags"].append((int(time.time()), round(lag, 1)))
            now_mode = getattr(shared_hammer.backend, "mode", None)
            if now_mode != mode:
                mode = now_mode
                watch["modes"].append((round(time.time(), 1), mode))

    watcher = asyncio.create_task(watching())
    for _attempt in range(100):
        try:
            await connector.open()
            break
        except PorticoError:
            await asyncio.sleep(0.2)
    service = TradingService(
        db=integration.db,
        connectors={system: connector},
        monitor=PublishingMonitor(integration),
        config={
            "validate_account": False,
            "lookup_backoff": 0.05,
            "resolve_interval": 0.5,
            "poll_interval": 1.0,
        },
        instance=integration.instance,
    )
    for _ in range(100):
        try:
            report = await service.recover(system)
        except PorticoError:
            await asyncio.sleep(0.2)
            continue
        if report.complete:
            break
    await service.start(recover=False)
    # up and working: the parent's schedule of kills and outages runs from when all three first are
    Path(config["plan"]).with_name(f"ready.{slot}").touch()
    everything = json.loads(Path(config["plan"]).read_text())
    total = len(everything)
    plan = [item for item in everything if item["system"] == system]

    async def place(item: dict[str, Any]) -> None:
        while not stop.is_set():
            try:
                await service.place_order(system, item["order"], idempotency_key=item["key"])
                progress["placed"] += 1
                progress["at"] = time.monotonic()
                return
            except OrderRejected:
                return
            except PorticoError:
                await asyncio.sleep(0.1)

    gate = asyncio.Semaphore(4)
    progress: dict[str, Any] = {"placed": 0, "at": time.monotonic(), "dumped": False}

    async def gated(item: dict[str, Any]) -> None:
        async with gate:
            await place(item)

    orders = asyncio.gather(*(gated(item) for item in plan))
    # orders first, across the fleet: the account calls below would otherwise take the budget they need
    while not stop.is_set() and not (orders.done() and _fleet_settled(integration.db, total)):
        if orders.done():
            with contextlib.suppress(PorticoError):
                await service.resolve_pending(system)
        elif not progress["dumped"] and time.monotonic() - progress["at"] > 20:
            # no order of this slot placed for 20 s: where they wait, while they wait
            progress["dumped"] = True
            print(
                f"--- slot {slot} at {int(time.time())}: {progress['placed']}/{len(plan)} placed, stalled",
                file=sys.stderr,
            )
            _dump_stuck(slot, integration, connector)
        await asyncio.sleep(0.2)
    await stop.wait()
    print(
        f"--- slot {slot} at SIGTERM: hammer {dict(hammered)} (now {int(time.time())}), "
        f"hammer task {'done: ' + repr(hammer_task.exception()) if hammer_task.done() else 'running'}, "
        f"events dropped {getattr(integration.events, 'dropped', None)} "
        f"({getattr(integration.events, 'last_error', None)})",
        file=sys.stderr,
        flush=True,
    )
    print(
        f"--- slot {slot}: loop lag max {watch['max_lag']}s, over 1 s {watch['lags'][:20]}, "
        f"hammer budget modes {watch['modes']}, hammer answered per 5 s {sorted(admitted.items())}",
        file=sys.stderr,
        flush=True,
    )
    watcher.cancel()
    if not orders.done() or time.time() - hammered["last_call"] > 10:
        # orders still unplaced when the soak ends: where each one waits, for the parent's report
        _dump_stuck(slot, integration, connector)
    hammer_task.cancel()
    with contextlib.suppress(BaseException):
        await hammer_task
    with contextlib.suppress(Exception):
        await hammer.close()
    orders.cancel()
    with contextlib.suppress(BaseException):
        await orders
    await service.stop()
    await connector.close()
    await server


def _dump_stuck(slot: int, integration: Any, connector: Any) -> None:
    out = sys.stderr
    print(
        f"--- slot {slot}: orders unplaced or the hammer silent at SIGTERM; the tasks still waiting:",
        file=out,
    )
    for limiter in integration.limiters._limiters.values():
        backend = limiter.backend
        print(
            f"limiter {limiter!r} remaining={limiter.remaining()} mode={getattr(backend, 'mode', None)} "
            f"error={getattr(backend, 'last_error', None)}",
            file=out,
        )
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            # the whole chain of awaits (a task's stack shows only its outermost coroutine)
            chain, coro = [], task.get_coro()
            while coro is not None and len(chain) < 30:
                frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
                if frame is not None:
                    chain.append(
                        f"{frame.f_code.co_filename.split('/')[-1]}:{frame.f_lineno} {frame.f_code.co_name}"
                    )
                coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
            print(f"task {task.get_name()}: " + " > ".join(chain) + f" > {coro!r}"[:200], file=out)
    out.flush()


def _fleet_settled(db: Any, total: int) -> bool:
    """Whether every slot's orders are placed and resolved."""
    import sqlalchemy as sa

    with db.begin() as conn:
        settled = conn.execute(
            sa.text("SELECT count(*) FROM trading_orders WHERE status NOT IN ('pending_submit', 'unknown')")
        ).scalar_one()
    return int(settled) >= total


def main(argv: list[str]) -> None:
    config = json.loads(Path(argv[1]).read_text())
    asyncio.run(worker(config, int(argv[2])))


# -- the parent --------------------------------------------------------------------------------------


@dataclass
class SoakResult:
    """What the soak saw."""

    violations: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def make_plan(per_slot: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    plan = []
    for slot in range(3):
        for i in range(per_slot):
            order = {
                "symbol": rng.choice(["AAPL", "MSFT", "SPY"]),
                "side": "buy",
                "quantity": str(rng.randint(1, 5)),
                "order_type": "market",
            }
            plan.append({"system": f"alpaca_{slot}", "key": f"soak-{slot}-{i:04d}", "order": order})
    return plan


def _spawn(config_path: Path, slot: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scaleout.soak", str(config_path), str(slot)],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=handle,
    )


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


async def run_soak(
    workdir: Path,
    *,
    postgres_url: str,
    amqp_url: str,
    redis: Any,
    prefix: str,
    seed: int = 1,
    per_slot: int = 20,
    duration: float = 75.0,
    restart_rabbitmq: bool = True,
    settle_timeout: float = 60.0,
    ready_timeout: float = 90.0,
) -> SoakResult:
    """Run the soak for ``duration`` seconds of workload; see the module docstring."""
    import sqlalchemy as sa

    from portico.events import consume
    from portico.mocks import start_mock
    from portico.mocks.alpaca import create_app
    from portico.store import Database, metadata

    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    venue = await asyncio.to_thread(
        start_mock,
        create_app(
            seed=seed,
            rate_limit=VENUE_LIMIT,
            starting_cash=Decimal(100_000_000),
            keys={c["api_key_id"]: c["api_secret_key"] for c in (CREDENTIALS, HAMMER)},
        ),
    )
    plan = make_plan(per_slot, seed)
    (workdir / "plan.json").write_text(json.dumps(plan))
    prices = workdir / "prices_20260105.csv"
    prices.write_text(
        "symbol,date,close,currency\n"
        + "".join(f"S{i:04d},2026-01-05,{100 + i}.25,USD\n" for i in range(200))
    )
    exchange = f"{prefix}.events"
    runtime = {
        "instance": "soak",
        "database_url": postgres_url,
        "scale_out": {
            "redis_url": redis.url,
            "events_url": amqp_url,
            "events_exchange": exchange,
            "workers": 3,
        },
        "data_import": {
            "scheduled_imports": [
                {
                    "id": JOB_ID,
                    "source": str(prices),
                    "data_type": "prices",
                    "interval_seconds": 2,
                    "misfire_grace_time": 30,
                    # every fire time runs, however late the schedulers wake (a loaded machine): gap-free
                    "coalesce": False,
                }
            ]
        },
        "monitoring": {"http": {"enabled": False}},
    }
    config_path = workdir / "worker.json"
    config_path.write_text(
        json.dumps({"runtime": runtime, "urls": venue.urls, "plan": str(workdir / "plan.json")})
    )

    db = Database(postgres_url)
    consumed = sa.Table(
        "soak_consumed_events",
        metadata(),
        # not unique: an event handled twice would show as two rows (consume's idempotency is checked)
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("system", sa.String(64)),
    )
    db.ensure_tables(consumed)

    def record(event: Any, conn: Any) -> None:
        conn.execute(consumed.insert().values(event_id=event.event_id, name=event.name, system=event.system))

    stop_consumer = asyncio.Event()
    consumer = asyncio.create_task(
        consume(
            amqp_url,
            f"{prefix}.audit",
            record,
            db=db,
            stop=stop_consumer,
            exchange=exchange,
            transactional=True,
        )
    )
    logs = workdir / "workers.log"
    procs = {slot: _spawn(config_path, slot, logs) for slot in range(3)}
    result = SoakResult()
    timeline: dict[str, Any] = {"kills": [], "rabbitmq": [], "redis": []}
    # the workload's clock starts once the three workers are up (on a loaded machine a worker's start took
    # 30 s of a 55 s soak, leaving the hammers no minute to use the budget in); bounded by ready_timeout
    spawned = time.monotonic()
    while time.monotonic() - spawned < ready_timeout and not all(
        (workdir / f"ready.{slot}").exists() for slot in range(3)
    ):
        await asyncio.sleep(0.2)
    timeline["ready_after"] = round(time.monotonic() - spawned, 1)
    started = time.monotonic()
    victims = [1, 2]
    kill_at = sorted(rng.uniform(0.1, 0.3) * duration + i * 0.3 * duration for i in range(2))
    rabbit_at = 0.45 * duration
    redis_at = 0.6 * duration
    rabbit_stopped = False
    redis_stopped_at: datetime | None = None
    try:
        for victim, at in zip(victims, kill_at, strict=True):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait(timeout=30)
            timeline["kills"].append(round(time.monotonic() - started, 1))
            await asyncio.sleep(1.0)
            procs[victim] = _spawn(config_path, victim, logs)
        if restart_rabbitmq:
            await asyncio.sleep(max(0.0, started + rabbit_at - time.monotonic()))
            await asyncio.to_thread(_rabbitmqctl, "stop_app")
            rabbit_stopped = True
            timeline["rabbitmq"].append(round(time.monotonic() - started, 1))
            await asyncio.sleep(4.0)
            await asyncio.to_thread(_rabbitmqctl, "start_app")
            rabbit_stopped = False
            timeline["rabbitmq"].append(round(time.monotonic() - started, 1))
        await asyncio.sleep(max(0.0, started + redis_at - time.monotonic()))
        redis.stop()
        redis_stopped_at = datetime.now(UTC)
        timeline["redis"].append(round(time.monotonic() - started, 1))
        await asyncio.sleep(8.0)
        redis.start()
        timeline["redis"].append(round(time.monotonic() - started, 1))
        await asyncio.sleep(max(0.0, started + duration - time.monotonic()))
        # on a loaded machine the orders may still be settling: give them a bounded while more
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline and not _fleet_settled(db, len(plan)):
            await asyncio.sleep(0.5)
        result.stats["settled_after"] = round(time.monotonic() - started, 1)
    finally:
        if rabbit_stopped:
            await asyncio.to_thread(_rabbitmqctl, "start_app")
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                await asyncio.to_thread(proc.wait, 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                result.violations.append(f"worker {proc.pid} did not stop within 60 s of SIGTERM")
    result.stats["timeline"] = timeline
    # the outbox of the stopped workers may hold what their last seconds published: relay it
    from portico.events import AmqpEventSink, OutboxPublisher

    relay = OutboxPublisher(AmqpEventSink(amqp_url, exchange), db)
    await relay.flush(timeout=30)
    await relay.aclose()
    try:
        await _wait_consumed(db, consumed, timeout=30)
    finally:
        stop_consumer.set()
        stats = await asyncio.wait_for(consumer, 30)
    result.stats["consumer"] = stats.__dict__
    if stats.dead_lettered:
        result.violations.append(f"{stats.dead_lettered} events dead-lettered by the consumer")
    check(result, db, consumed, venue, plan, redis_stopped_at=redis_stopped_at)
    if result.violations:
        result.stats["workers_log"] = str(logs)
    await venue.stop()
    db.dispose()
    return result


async def _wait_consumed(db: Any, consumed: Any, timeout: float) -> None:
    import sqlalchemy as sa

    from portico.events._outbox import outbox_table

    outbox = outbox_table()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.begin() as conn:
            sent = set(conn.execute(sa.select(outbox.c.event_id)).scalars())
            got = set(conn.execute(sa.select(consumed.c.event_id)).scalars())
        if sent <= got:
            return
        await asyncio.sleep(0.2)


def check(
    result: SoakResult,
    db: Any,
    consumed: Any,
    venue: Any,
    plan: list[dict[str, Any]],
    *,
    redis_stopped_at: datetime | None = None,
) -> None:
    import sqlalchemy as sa

    from portico.events._outbox import outbox_table
    from portico.jobs._fires import fires_table
    from portico.jobs._tables import job_tables

    v = result.violations
    fires, outbox, loads = fires_table(), outbox_table(), job_tables()["loads"]
    with db.begin() as conn:
        fire_rows = conn.execute(
            sa.select(fires.c.fire_time, fires.c.status, fires.c.attempts, fires.c.owner)
            .where(fires.c.job_id == JOB_ID)
            .order_by(fires.c.fire_time)
        ).all()
        committed = conn.execute(
            sa.select(sa.func.count())
            .select_from(loads)
            .where(loads.c.status == "committed", loads.c.data_type == "prices")
        ).scalar_one()
        events = conn.execute(
            sa.select(outbox.c.event_id, outbox.c.name, outbox.c.sent_at, outbox.c.created_at, outbox.c.body)
        ).all()
        got = conn.execute(sa.select(consumed.c.event_id)).scalars().all()
        intents = (
            conn.execute(sa.text("SELECT idempotency_key, status, client_order_id FROM trading_orders")).all()
            if _has(conn, "trading_orders")
            else []
        )
    timing = (
        conn_rows(db, "SELECT system, created_at, sent_at, resolved_at FROM trading_orders")
        if intents
        else []
    )
    if timing:
        # when each slot's orders were made, sent and resolved (s after the first): where a slow settle waited
        base = min(_aware(r.created_at) for r in timing)

        def last(rows: list[Any], column: str) -> float | None:
            stamps = [_aware(getattr(r, column)) for r in rows if getattr(r, column) is not None]
            return round((max(stamps) - base).total_seconds(), 1) if stamps else None

        result.stats["order_times"] = {
            system: {
                c: last([r for r in timing if r.system == system], c)
                for c in ("created_at", "sent_at", "resolved_at")
            }
            for system in sorted({r.system for r in timing})
        }
    # 1. schedules
    times = [r.fire_time for r in fire_rows]
    statuses = Counter(r.status for r in fire_rows)
    result.stats["fires"] = {
        "count": len(fire_rows),
        "statuses": dict(statuses),
        "retried": sum(1 for r in fire_rows if r.attempts > 1),
        "owners": len({r.owner for r in fire_rows}),
    }
    if len(times) < 10:
        v.append(f"only {len(times)} fire times of {JOB_ID} ran")
    for a, b in itertools.pairwise(times):
        gap = (b - a).total_seconds()
        if gap != 2.0:
            v.append(
                f"fire times {a.isoformat()} -> {b.isoformat()}: {gap:g}s apart, expected every 2 s with none missing"
            )
    # skipped: the job was still running in that process (max_instances=1); missed: past its grace time
    if set(statuses) - {"done", "skipped", "missed"} or not statuses["done"]:
        v.append(f"fires not run to an end: {dict(statuses)}")
    if committed != 1:
        v.append(f"the scheduled import committed {committed} loads, expected 1")
    # 2. orders
    venue_orders = Counter(o.client_order_id for o in list(venue.app.venue.orders.values()))
    result.stats["orders"] = {
        "planned": len(plan),
        "at_venue": sum(venue_orders.values()),
        "intents": len(intents),
    }
    doubled = [k for k, n in venue_orders.items() if n > 1]
    if doubled:
        v.append(f"orders at the venue more than once: {doubled[:10]}")
    by_key = {r.idempotency_key: r for r in intents}
    for item in plan:
        intent = by_key.get(item["key"])
        if intent is None:
            v.append(f"order {item['key']}: no intent in the store")
            continue
        if intent.client_order_id not in venue_orders:
            v.append(f"order {item['key']}: not at the venue (intent {intent.status})")
        if intent.status in ("pending_submit", "unknown"):
            v.append(f"order {item['key']}: unresolved ({intent.status})")
    if sum(venue_orders.values()) != len(plan):
        v.append(f"{sum(venue_orders.values())} orders at the venue, {len(plan)} planned")
    # 3. events
    unsent = [e.event_id for e in events if e.sent_at is None]
    if unsent:
        v.append(f"{len(unsent)} events never sent")
    sent, seen = {e.event_id for e in events}, Counter(got)
    result.stats["events"] = {
        "outbox": len(events),
        "consumed": len(got),
        "by_name": dict(Counter(e.name.split(".")[0] for e in events)),
    }
    if set(seen) != sent:
        v.append(f"consumed {len(set(seen) - sent)} events not in the outbox, missed {len(sent - set(seen))}")
    if any(n > 1 for n in seen.values()):
        v.append("an event was consumed twice")
    names = Counter(e.name for e in events)
    for name in ("ratelimit.shared_unavailable", "ratelimit.shared_restored", "jobs.run_completed"):
        if not names[name]:
            v.append(f"no {name} event")
    # a worker that took its local share while Redis was up spent it on top of the fleet's whole budget
    early = [
        e.created_at
        for e in events
        if e.name == "ratelimit.shared_unavailable"
        and (redis_stopped_at is None or _aware(e.created_at) < redis_stopped_at)
    ]
    if early:
        v.append(f"{len(early)} budgets turned local while Redis was up (first at {min(early).isoformat()})")
    # 4. the shared rate limit, from the venue's journal
    entries = [e for e in venue.app.journal.entries() if e.path.startswith("/v2/")]
    too_many = [e for e in entries if e.status == 429]
    if too_many:
        v.append(f"{len(too_many)} requests answered 429")
    busiest: dict[str, int] = {}
    for credentials in (CREDENTIALS, HAMMER):
        key = credentials["api_key_id"]
        own = sorted(e.time.timestamp() for e in entries if _key_of(e) == key)
        top, j = 0, 0
        for i, t in enumerate(own):
            while own[j] <= t - 60:
                j += 1
            top = max(top, i - j + 1)
        busiest[key] = top
        if top > VENUE_LIMIT:
            v.append(f"{top} requests of key {key} in one minute at the venue, its limit is {VENUE_LIMIT}")
    hammered = busiest[HAMMER["api_key_id"]]
    stamps = sorted(e.time.timestamp() for e in entries)
    result.stats["rate"] = {
        "requests": len(stamps),
        "busiest_minute": busiest,
        "utilisation": round(hammered / VENUE_LIMIT, 3),
    }
    if stamps:
        # requests (and 429s) per 5 s from the first request: where a violation happened
        first = stamps[0]
        buckets: Counter[int] = Counter(int((t - first) // 5) * 5 for t in stamps)
        refused: Counter[int] = Counter(int((e.time.timestamp() - first) // 5) * 5 for e in too_many)
        result.stats["rate"]["per_5s"] = {k: (buckets[k], refused[k]) for k in sorted(buckets)}
    if hammered < 0.9 * VENUE_LIMIT:
        v.append(f"the hammered key's busiest minute used {hammered}/{VENUE_LIMIT}: below 90% of the limit")


def conn_rows(db: Any, sql: str) -> list[Any]:
    import sqlalchemy as sa

    with db.begin() as conn:
        return list(conn.execute(sa.text(sql)).all())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _key_of(entry: Any) -> str | None:
    return next((v for k, v in entry.headers.items() if k.lower() == "apca-api-key-id"), None)


def _has(conn: Any, table: str) -> bool:
    import sqlalchemy as sa

    return sa.inspect(conn).has_table(table)


if __name__ == "__main__":
    main(sys.argv)
