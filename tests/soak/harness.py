"""The order reliability soak: orders through the trading service to two mock brokers at once, with
faults, while the process driving the service is SIGKILLed and restarted on the same store.

Parent side (:func:`run_soak`): starts the mock brokers (Alpaca, IB's TWS, a FIX 4.4 acceptor) in this process (they are the venues and
must outlive the driver), writes the plan, runs the driver as a subprocess, kills it with SIGKILL
twice at seeded moments, lets the third run finish, then checks the invariants from the history file,
the venues' books and the store.

Driver side (``python -m tests.soak.harness DRIVER_CONFIG``): builds the connectors, a
:class:`~portico.trading.TradingService` on the shared store, starts it (recovery first), places every
planned order with its idempotency key (from the start each run: keys make repeats harmless), waits
until every intent is resolved and every open order is refreshed, and records every operation as one
JSON line in the history file (flushed and fsynced, so a kill loses at most the line being written).

Invariants (checked by :func:`check_invariants`, from the history and the venues):

1. Every planned key exists exactly once at its broker, and the broker holds no order outside the plan.
2. Every history answer for a key names the same intent (exactly once per key across restarts).
3. Every intent in the store has a final state (never ``pending_submit``/``unknown``) matching the
   broker's: same filled quantity, and the same status once terminal (open at both otherwise).
4. No operation reported an order rejected unless the venue rejected it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["SoakResult", "check_invariants", "make_plan", "run_soak"]

TERMINAL = {"filled", "canceled", "rejected", "expired", "replaced"}


# -- the plan -----------------------------------------------------------------------------------------


def make_plan(
    count: int, systems: list[str], seed: int, *, reject_on: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """``count`` orders spread over ``systems``: market buys that fill, limit buys far from the market
    that rest open (so open orders are reconciled too) and, for systems in ``reject_on``, a few orders
    for an instrument the venue does not know (so rejections are exercised, with the venue's answer)."""
    rng = random.Random(seed)
    plan = []
    for i in range(count):
        system = systems[i % len(systems)]
        roll = rng.random()
        quantity = str(rng.randint(1, 5))
        if system in reject_on and roll < 0.03:
            order = {"symbol": "NOSUCHASSET", "side": "buy", "quantity": quantity}
        elif roll < 0.7:
            order = {"symbol": rng.choice(["AAPL", "MSFT"]), "side": "buy", "quantity": quantity}
        else:
            order = {
                "symbol": "MSFT",
                "side": "buy",
                "quantity": quantity,
                "order_type": "limit",
                "limit_price": "1.00",
            }
        plan.append({"key": f"soak-{seed}-{i:05d}", "system": system, "order": order})
    return plan


# -- brokers (parent side) ------------------------------------------------------------------------------


@dataclass
class Broker:
    """A running mock broker and how the driver reaches it."""

    system: str
    kind: str
    seed: int
    setup: dict[str, Any]
    server: Any = None

    def venue_orders(self) -> list[dict[str, Any]]:
        """Every order at the venue: client order id, kit status, filled quantity."""
        if self.kind == "ib":
            return [
                {"client_order_id": o.order_ref, "status": o.state.status, "filled": str(o.state.filled_qty)}
                for o in list(self.server.venue.orders.values())
            ]
        if self.kind == "fix":
            return [
                {"client_order_id": o.client_order_id, "status": o.status, "filled": str(o.filled_qty)}
                for o in list(self.server.venue.orders.values())
            ]
        if self.kind == "alpaca":
            return [
                {
                    "client_order_id": o.client_order_id,
                    "status": str(getattr(o.status, "value", o.status)),
                    "filled": str(o.filled_qty),
                }
                for o in list(self.server.app.venue.orders.values())
            ]
        raise ValueError(self.kind)

    def rejected_ids(self) -> set[str]:
        """Client order ids the venue refused: rejected orders in its book, and (Alpaca) placements it
        answered with a 4xx in its request journal."""
        out = {o["client_order_id"] for o in self.venue_orders() if o["status"] == "rejected"}
        if self.kind == "fix":
            # business rejects (ExecutionReport OrdStatus=8) of orders the venue never booked
            out |= set(self.server.rejected)
        if self.kind == "alpaca":
            for entry in self.server.app.journal.entries("POST", "/v2/orders"):
                if entry.status is not None and 400 <= entry.status < 500:
                    try:
                        out.add(json.loads(entry.body).get("client_order_id"))
                    except (ValueError, AttributeError):
                        continue
        return out

    def fault_hits(self) -> dict[str, int]:
        """How many requests each fault kind hit (Alpaca; IB counts dropped acknowledgements)."""
        if self.kind == "alpaca":
            hits: Counter[str] = Counter()
            for entry in self.server.app.journal.entries():
                hits.update(entry.faults)
            return dict(hits)
        return dict(getattr(self.server, "fault_hits", {}))

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


async def start_broker(kind: str, system: str, seed: int, *, client_id: int = 7) -> Broker:
    """Start one mock broker with the soak's faults for its kind."""
    if kind == "ib":
        from portico.mocks.interactive_brokers.tws import TwsMockServer

        class CountingTwsMock(TwsMockServer):
            """The TWS mock, counting the faults it injects."""

            fault_hits: Counter[str] = Counter()

            def _roll(self, fault: str) -> bool:
                hit = super()._roll(fault)
                if hit:
                    self.fault_hits[fault] += 1
                return hit

        # 20% of order acknowledgements are lost after the venue committed the order
        server = await CountingTwsMock(seed=seed, faults={"drop_order_ack": 0.2}, tick_interval=0).start()
        server.fault_hits = Counter()
        setup = {
            "urls": {"tws": server.url},
            "connection": {
                "transport": "tws",
                "client_id": client_id,
                "ack_timeout": 0.2,
                "connect_timeout": 5,
            },
            "auth_scheme": "tws",
            "credentials": {},
        }
        return Broker(system=system, kind=kind, seed=seed, setup=setup, server=server)
    if kind == "alpaca":
        from portico.mocks import start_mock
        from portico.mocks.alpaca import create_app

        running = await asyncio.to_thread(
            start_mock,
            create_app(seed=seed, faults=ALPACA_FAULTS, rate_limit=None, starting_cash=Decimal(100_000_000)),
        )
        setup = {
            "urls": running.urls,
            "credentials": {"api_key_id": "PKSOAK", "api_secret_key": "soak-secret"},
        }
        return Broker(system=system, kind=kind, seed=seed, setup=setup, server=running)
    if kind == "fix":
        from portico.connectors.fix.dictionary import data_dictionary, fetch_data_dictionary
        from portico.errors import ConfigurationError
        from portico.mocks.fix import FixMockServer

        try:
            dictionary = data_dictionary()
        except ConfigurationError:
            dictionary = str(fetch_data_dictionary())
        fix_server = await FixMockServer(
            seed=seed,
            faults=FIX_FAULTS,
            data_dictionary=dictionary,
            credentials={"PORTICO": ("soak", "soak-secret")},
        ).start()
        setup = {
            "urls": {"fix": fix_server.url},
            "connection": {
                "ack_timeout": 1.0,
                "heartbeat_interval": 5,
                "reconnect_interval": 1,
                "logon_timeout": 5,
                "data_dictionary": dictionary,
            },
            "auth_scheme": "fix_logon",
            "credentials": {"username": "soak", "password": "soak-secret"},
        }
        return Broker(system=system, kind=kind, seed=seed, setup=setup, server=fix_server)
    raise ValueError(f"unknown broker kind {kind!r}")


FIX_FAULTS = {
    # 10% of orders are committed, then the connection drops before their reports go out (they come
    # back as PossDupFlag resends after the next logon)
    "drop_after_order": 0.1,
    # 5% of reports are lost on the way (a gap, a resend request), 10% arrive twice
    "skip_seq": 0.05,
    "duplicate": 0.1,
    # 5% of orders are acknowledged after the connector stopped waiting (resolved by status request)
    "delay_ack": 0.05,
    "ack_delay": 0.8,
}


ALPACA_FAULTS = [
    # 5% of connections are dropped before the request is handled (nothing happens at the venue)
    {"route": "*", "kind": "drop_before", "probability": 0.05},
    # 20% of placements are committed, then the answer is lost
    {"route": "/v2/orders", "method": "POST", "kind": "drop_after", "probability": 0.2},
    # the trade-updates stream is cut at random moments (the connector reconnects and back-fills)
    {"route": "/stream*", "kind": "ws_disconnect", "probability": 0.6, "after_messages": 5},
]


# -- the driver (subprocess side) --------------------------------------------------------------------------


class History:
    """Append-only JSON lines, fsynced per line."""

    def __init__(self, path: Path, run: int) -> None:
        self.fh = path.open("a", encoding="utf-8")
        self.run = run

    def write(self, op: str, **data: Any) -> None:
        line = json.dumps(
            {"op": op, "run": self.run, "pid": os.getpid(), "t": time.time(), **data}, default=str
        )
        self.fh.write(line + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())


def _connector(
    kind: str, system: str, setup: dict[str, Any], db: Any = None, history: History | None = None
) -> Any:
    from portico.sdk import ConnectorContext

    cls: Any
    if kind == "ib":
        from portico.connectors.interactive_brokers import InteractiveBrokersConnector as cls
    elif kind == "alpaca":
        from portico.connectors.alpaca import AlpacaConnector as cls
    elif kind == "fix":
        from portico.connectors.fix import FixConnector as cls
    else:
        raise ValueError(kind)
    context = ConnectorContext.for_testing(
        cls,
        urls=setup["urls"],
        system_id=system,
        connection=setup.get("connection", {}),
        auth_scheme=setup.get("auth_scheme"),
        credentials=setup.get("credentials", {}),
        # the FIX session's sequence numbers live in the trading service's store
        store=db if kind == "fix" else None,
        # session events (logons, logouts, rejects, ack timeouts) go to the history, to read after a run
        emit=(lambda event, **data: history.write("event", event=event, system=system, **data))
        if history is not None and kind == "fix"
        else (lambda event, **data: None),
    )
    return cls(context)


async def _open(connector: Any, attempts: int = 40) -> None:
    from portico.errors import PorticoError

    for attempt in range(attempts):
        try:
            await connector.open()
            return
        except PorticoError:
            # after a SIGKILL the venue may not have noticed the old session is gone yet
            if attempt + 1 == attempts:
                raise
            await asyncio.sleep(0.25)


async def drive(config: dict[str, Any]) -> None:
    """The driver process: place the plan through the trading service, resolve, record."""
    from portico.errors import PorticoError
    from portico.store import Database
    from portico.trading import OrderRejected, TradingService

    history = History(Path(config["history"]), config["run"])
    plan = json.loads(Path(config["plan"]).read_text())
    db = Database(config["database_url"])
    connectors = {
        b["system"]: _connector(b["kind"], b["system"], b["setup"], db, history) for b in config["brokers"]
    }
    for connector in connectors.values():
        await _open(connector)
    service = TradingService(
        db=db,
        connectors=connectors,
        config={
            "validate_account": False,
            "lookup_backoff": 0.05,
            "resolve_interval": 0.5,
            "poll_interval": 1.0,
        },
    )
    history.write("start")
    # recover every system first (what start() does), recording what the previous run left behind
    resolved: dict[str, list[str]] = {}
    for system in connectors:
        for _ in range(50):
            try:
                report = await service.recover(system)
            except PorticoError as exc:
                history.write("recover_failed", system=system, error=str(exc))
                await asyncio.sleep(0.2)
                continue
            resolved[system] = report.resolved
            if report.complete:
                break
    await service.start(recover=False)
    history.write("recovered", resolved=resolved)
    gates = {system: asyncio.Semaphore(config.get("concurrency", 4)) for system in connectors}

    async def place(item: dict[str, Any]) -> None:
        async with gates[item["system"]]:
            while True:
                history.write("invoke", key=item["key"], system=item["system"])
                try:
                    record = await service.place_order(
                        item["system"], item["order"], idempotency_key=item["key"]
                    )
                except OrderRejected as exc:
                    history.write(
                        "rejected",
                        key=item["key"],
                        system=item["system"],
                        id=exc.record.id,
                        client_order_id=exc.record.client_order_id,
                        reason=exc.message,
                    )
                    return
                except PorticoError as exc:
                    # nothing decided (recovery pending, a lookup failed...): the key makes a retry safe
                    history.write(
                        "retry", key=item["key"], system=item["system"], error=f"{type(exc).__name__}: {exc}"
                    )
                    await asyncio.sleep(0.1)
                    continue
                history.write(
                    "ok",
                    key=item["key"],
                    system=item["system"],
                    id=record.id,
                    client_order_id=record.client_order_id,
                    status=record.status.value,
                    filled=str(record.filled_quantity),
                )
                return

    await asyncio.gather(*(place(item) for item in plan))
    history.write("placed")
    # resolve every unknown outcome and refresh every open order before declaring the end state
    deadline = time.monotonic() + config.get("settle_timeout", 60)
    while time.monotonic() < deadline:
        for system in connectors:
            await service.resolve_pending(system)
        unresolved = [r for r in service.list_orders() if r.is_unresolved]
        if not unresolved:
            break
        await asyncio.sleep(0.2)
    for system in connectors:
        # one listing per broker refreshes every open order (missed stream events included)
        try:
            await service.poll(system)
        except PorticoError as exc:
            history.write("refresh_failed", system=system, error=str(exc))
    for record in service.list_orders():
        history.write(
            "final",
            key=record.idempotency_key,
            system=record.system,
            id=record.id,
            client_order_id=record.client_order_id,
            status=record.status.value,
            filled=str(record.filled_quantity),
        )
    history.write("done")
    await service.stop()
    for connector in connectors.values():
        await connector.close()
    db.dispose()


# -- the parent ------------------------------------------------------------------------------------------


@dataclass
class SoakResult:
    """What a soak run did and found."""

    orders: int
    runs: int
    kills: int
    history: Path
    operations: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unknown_seen: int = 0
    fault_hits: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k not in {"history", "operations"}},
            "history": str(self.history),
            "operations": dict(self.operations),
        }


async def run_soak(
    workdir: Path,
    *,
    count: int,
    seed: int = 1,
    kinds: tuple[str, ...] = ("alpaca", "ib"),
    kills: int = 2,
    database_url: str | None = None,
    timeout: float = 300.0,
    concurrency: int = 4,
) -> SoakResult:
    """Run the whole soak and check its invariants; see the module docstring."""
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    systems = [f"{kind}_{chr(ord('a') + i)}" for i, kind in enumerate(kinds)]
    brokers = [
        await start_broker(kind, system, seed * 10 + i)
        for i, (kind, system) in enumerate(zip(kinds, systems, strict=True))
    ]
    plan_path = workdir / "plan.json"
    plan = make_plan(
        count,
        systems,
        seed,
        reject_on=tuple(s for s, k in zip(systems, kinds, strict=True) if k in ("alpaca", "fix")),
    )
    plan_path.write_text(json.dumps(plan))
    history_path = workdir / "history.jsonl"
    history_path.unlink(missing_ok=True)
    database_url = database_url or f"sqlite:///{workdir / 'soak.db'}"
    started = time.monotonic()
    result = SoakResult(orders=count, runs=0, kills=0, history=history_path)
    try:
        for run in range(kills + 1):
            config = {
                "run": run,
                "plan": str(plan_path),
                "history": str(history_path),
                "database_url": database_url,
                "concurrency": concurrency,
                "brokers": [{"system": b.system, "kind": b.kind, "setup": b.setup} for b in brokers],
            }
            config_path = workdir / f"driver-{run}.json"
            config_path.write_text(json.dumps(config))
            kill_after = None if run == kills else rng.randint(max(1, count // 8), max(2, count // 3))
            killed = await _run_driver(config_path, history_path, run, kill_after, started + timeout)
            result.runs += 1
            result.kills += killed
            if killed:
                with history_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"op": "killed", "run": run, "after_answers": kill_after}) + "\n")
        result.seconds = time.monotonic() - started
        result.fault_hits = {b.system: b.fault_hits() for b in brokers}
        check_invariants(result, plan, brokers, database_url)
    finally:
        for broker in brokers:
            await broker.stop()
    return result


async def _run_driver(
    config_path: Path, history_path: Path, run: int, kill_after: int | None, deadline: float
) -> bool:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.soak.harness",
        str(config_path),
        cwd=str(root),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    stderr_task = asyncio.create_task(proc.stderr.read()) if proc.stderr else None
    answered = _AnsweredKeys(history_path)
    # kill once this run has answered ``kill_after`` keys not answered before (replays do not count),
    # so every kill lands while new orders are in flight
    kill_at = None if kill_after is None else answered.count() + kill_after
    try:
        while True:
            try:
                await asyncio.wait_for(proc.wait(), 0.05)
                break
            except TimeoutError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                await proc.wait()
                raise TimeoutError(f"soak driver run {run} did not finish in time")
            if kill_at is not None and answered.count() >= kill_at:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                return True
        if proc.returncode != 0:
            err = (await stderr_task).decode(errors="replace") if stderr_task else ""
            raise RuntimeError(f"soak driver run {run} exited {proc.returncode}:\n{err[-4000:]}")
        return False
    finally:
        if stderr_task is not None and not stderr_task.done():
            stderr_task.cancel()


class _AnsweredKeys:
    """The distinct keys answered so far (any run), read incrementally from the history file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: set[str] = set()
        self._offset = 0

    def count(self) -> int:
        if self.path.exists():
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
            # only whole lines: a line being written is read next time
            end = chunk.rfind(b"\n") + 1
            self._offset += end
            for line in chunk[:end].decode("utf-8").splitlines():
                if '"op": "ok"' in line or '"op": "rejected"' in line:
                    self.keys.add(json.loads(line)["key"])
        return len(self.keys)


def read_history(path: Path) -> list[dict[str, Any]]:
    """Every complete line of the history (a line cut by a kill is skipped)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def check_invariants(
    result: SoakResult, plan: list[dict[str, Any]], brokers: list[Broker], database_url: str
) -> None:
    """Check the module's invariants; every violation is appended to ``result.violations``."""
    from portico.store import Database
    from portico.trading._repository import OrderRepository

    v = result.violations
    history = read_history(result.history)
    result.operations = Counter(h["op"] for h in history)
    planned = {p["key"]: p for p in plan}
    by_system = {b.system: b for b in brokers}

    # 2. exactly one intent per key across every run's answers
    answered: dict[str, set[str]] = defaultdict(set)
    for h in history:
        if h["op"] in {"ok", "rejected", "final"}:
            answered[h["key"]].add(h["id"])
    for key, ids in answered.items():
        if len(ids) != 1:
            v.append(f"key {key} answered with {len(ids)} different intents: {sorted(ids)}")
    operations = [h for h in history if h["op"] != "event"]  # session events may follow "done"
    if operations and operations[-1]["op"] != "done":
        v.append("the last run did not finish (no 'done' line)")

    # the store: one intent per key, every one resolved
    db = Database(database_url)
    try:
        records = OrderRepository(db).query()
    finally:
        db.dispose()
    result.unknown_seen = sum(
        1 for h in history if h["op"] == "ok" and h["status"] in {"unknown", "pending_submit"}
    )
    result.rejected = sum(1 for r in records if r.status.value == "rejected")
    keys = Counter(r.idempotency_key for r in records)
    if set(keys) != set(planned):
        v.append(
            f"store keys differ from the plan: missing {sorted(set(planned) - set(keys))[:5]}, "
            f"extra {sorted(set(keys) - set(planned))[:5]}"
        )
    record_by_cid = {(r.system, r.client_order_id): r for r in records}

    # 1. exactly once at the broker, nothing outside the plan
    for broker in brokers:
        venue = broker.venue_orders()
        counts = Counter(o["client_order_id"] for o in venue)
        expected = {r.client_order_id for r in records if r.system == broker.system}
        for cid, n in counts.items():
            if n != 1:
                v.append(f"{broker.system}: client order id {cid} exists {n} times")
            if cid not in expected:
                v.append(f"{broker.system}: order {cid} at the venue matches no intent")
        for cid in expected - set(counts):
            record = record_by_cid[(broker.system, cid)]
            if record.status.value != "rejected":
                v.append(f"{broker.system}: intent {record.id} ({record.status.value}) is not at the venue")

        # 3. final states match
        by_cid = {o["client_order_id"]: o for o in venue}
        for cid in expected:
            record = record_by_cid[(broker.system, cid)]
            if record.is_unresolved:
                v.append(f"intent {record.id} ended {record.status.value}")
                continue
            theirs = by_cid.get(cid)
            if theirs is None:
                continue
            if Decimal(theirs["filled"]) != record.filled_quantity:
                v.append(f"intent {record.id}: filled {record.filled_quantity} vs venue {theirs['filled']}")
            mine_terminal = record.status.value in TERMINAL
            theirs_terminal = theirs["status"] in TERMINAL
            if mine_terminal != theirs_terminal or (
                mine_terminal and record.status.value != theirs["status"]
            ):
                v.append(f"intent {record.id}: status {record.status.value} vs venue {theirs['status']}")

    # 4. rejected only with the venue's answer
    for h in history:
        if h["op"] in {"rejected"} or (h["op"] in {"ok", "final"} and h.get("status") == "rejected"):
            broker = by_system[h["system"]]
            if h["client_order_id"] not in broker.rejected_ids():
                v.append(f"key {h['key']} reported rejected without the venue rejecting it")


def main(argv: list[str]) -> None:
    config = json.loads(Path(argv[0]).read_text())
    asyncio.run(drive(config))


if __name__ == "__main__":
    main(sys.argv[1:])
