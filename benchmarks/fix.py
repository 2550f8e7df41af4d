"""FIX 4.4: portico's FixConnector vs a bare QuickFIX initiator sending the same orders to the same mock.

Run: ``.venv/bin/python -m benchmarks.fix`` (about a minute, loopback only; needs ``portico[fix]``).

The FIX mock (a QuickFIX acceptor over the simulated venue, behind its relay) runs in its own process.
Both clients send the same NewOrderSingles (limit buys that rest, so each order is answered by one
ExecutionReport) and wait for that report:

- the bare initiator: QuickFIX's ``ThreadedSocketInitiator`` with a memory store and an ``Application``
  that wakes the sender on the report (no persistence, no mapping);
- portico: ``FixConnector.place_order`` (the order's key written to the store before it is sent, both
  sequence numbers written per message, the report mapped to an ``Order``), on a SQLite store.

Each runs one order at a time (ack latency: median and p99) and 8 in flight (orders/s); CPU is this
process's (QuickFIX's threads included) per order; each client runs in its own process, one after
the other, against the same mock in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["main"]

TARGET_RATIO = 0.5
"""portico's orders/s at least half the bare initiator's (it persists what a restart needs)."""


def _serve(ready: Any, stop: Any, dictionary: str) -> None:
    from portico.mocks.fix import FixMockServer

    async def run() -> None:
        server = await FixMockServer(seed=1, data_dictionary=dictionary).start()
        server.venue.account().cash = Decimal(10**12)
        ready.put(server.url)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await server.stop()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


def _dictionary() -> str:
    from portico.connectors.fix.dictionary import data_dictionary, fetch_data_dictionary
    from portico.errors import ConfigurationError

    try:
        return data_dictionary()
    except ConfigurationError:
        return str(fetch_data_dictionary())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class BareInitiator:
    """QuickFIX on its own: one initiator session, an Application that wakes the waiting sender."""

    def __init__(self, url: str, dictionary: str) -> None:
        import quickfix as fix

        self.fix = fix
        host, port = url.removeprefix("tcp://").rsplit(":", 1)
        self.logged_on = threading.Event()
        self.acks: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        owner = self

        class App(fix.Application):  # type: ignore[misc]
            def onCreate(self, sid: Any) -> None: ...
            def onLogon(self, sid: Any) -> None:
                owner.logged_on.set()

            def onLogout(self, sid: Any) -> None:
                owner.logged_on.clear()

            def toAdmin(self, message: Any, sid: Any) -> None: ...
            def fromAdmin(self, message: Any, sid: Any) -> None: ...
            def toApp(self, message: Any, sid: Any) -> None: ...
            def fromApp(self, message: Any, sid: Any) -> None:
                cl_ord_id = message.getField(11)
                with owner.lock:
                    event = owner.acks.get(cl_ord_id)
                if event is not None:
                    event.set()

        self.app = App()
        settings_text = "\n".join(
            [
                "[DEFAULT]",
                "ConnectionType=initiator",
                "ReconnectInterval=1",
                "HeartBtInt=30",
                "StartTime=00:00:00",
                "EndTime=00:00:00",
                "UseDataDictionary=Y",
                f"DataDictionary={dictionary}",
                "SocketNodelay=Y",
                "[SESSION]",
                "BeginString=FIX.4.4",
                "SenderCompID=BENCH",
                "TargetCompID=VENUE",
                f"SocketConnectHost={host}",
                f"SocketConnectPort={port}",
                "",
            ]
        )
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as fh:
            fh.write(settings_text)
        settings = fix.SessionSettings(fh.name)
        Path(fh.name).unlink()
        self.sid = fix.SessionID("FIX.4.4", "BENCH", "VENUE")
        self.initiator = fix.ThreadedSocketInitiator(self.app, fix.MemoryStoreFactory(), settings)
        self.initiator.start()
        if not self.logged_on.wait(10):
            raise RuntimeError("the bare initiator did not log on")
        self.n = 0

    def order(self) -> float:
        """Send one resting limit buy, wait for its report; returns the latency in seconds."""
        fix = self.fix
        self.n += 1
        cl_ord_id = f"bare-{self.n}"
        event = threading.Event()
        with self.lock:
            self.acks[cl_ord_id] = event
        message = fix.Message()
        message.getHeader().setField(fix.MsgType("D"))
        for tag, value in (
            (11, cl_ord_id),
            (55, "MSFT"),
            (54, "1"),
            (60, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())),
            (38, "1"),
            (40, "2"),
            (44, "1"),
            (59, "0"),
        ):
            message.setField(tag, value)
        started = time.perf_counter()
        fix.Session.sendToTarget(message, self.sid)
        if not event.wait(10):
            raise RuntimeError(f"no report for {cl_ord_id}")
        return time.perf_counter() - started

    def stop(self) -> None:
        self.initiator.stop()


def _bare(client: BareInitiator, count: int, concurrency: int) -> tuple[float, float, list[float]]:
    latencies: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    if concurrency == 1:
        latencies = [client.order() for _ in range(count)]
    else:
        per = count // concurrency

        def worker() -> None:
            for _ in range(per):
                latencies.append(client.order())

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return time.perf_counter() - wall, time.process_time() - cpu, latencies


async def _portico(
    connector: Any, count: int, concurrency: int, prefix: str
) -> tuple[float, float, list[float]]:
    from portico.models import OrderRequest

    latencies: list[float] = []
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            request = OrderRequest(
                symbol="MSFT",
                side="buy",
                quantity=Decimal(1),
                order_type="limit",
                limit_price=Decimal(1),
                client_order_id=f"{prefix}-{i}",
            )
            started = time.perf_counter()
            await connector.place_order(request)
            latencies.append(time.perf_counter() - started)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu, latencies


async def _portico_runs(
    url: str, dictionary: str, count: int, folder: str
) -> list[tuple[float, float, list[float]]]:
    from portico.connectors.fix import FixConnector
    from portico.sdk import ConnectorContext
    from portico.store import Database

    db = Database(f"sqlite:///{folder}/bench.db")
    context = ConnectorContext.for_testing(
        FixConnector,
        urls={"fix": url},
        store=db,
        connection={"data_dictionary": dictionary, "ack_timeout": 10},
    )
    connector = FixConnector(context)
    await connector.open()
    try:
        await _portico(connector, 20, 1, "warm")
        return [await _portico(connector, count, 1, "seq"), await _portico(connector, count, 8, "par")]
    finally:
        await connector.close()
        db.dispose()


def _client(kind: str, url: str, dictionary: str, count: int, out: Any) -> None:
    """One client in its own process (QuickFIX's threads of one never share a process with the other)."""
    if kind == "bare":
        bare = BareInitiator(url, dictionary)
        try:
            for _ in range(20):
                bare.order()
            out.put([_bare(bare, count, 1), _bare(bare, count, 8)])
        finally:
            bare.stop()
    else:
        with tempfile.TemporaryDirectory() as folder:
            out.put(asyncio.run(_portico_runs(url, dictionary, count, folder)))


def _run_client(
    ctx: Any, kind: str, url: str, dictionary: str, count: int
) -> list[tuple[float, float, list[float]]]:
    out = ctx.Queue()
    process = ctx.Process(target=_client, args=(kind, url, dictionary, count, out))
    process.start()
    try:
        result: list[tuple[float, float, list[float]]] = out.get(timeout=600)
    finally:
        process.join(timeout=30)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.fix")
    parser.add_argument("--orders", type=int, default=800)
    args = parser.parse_args(argv)
    dictionary = _dictionary()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ready, stop, dictionary), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=60)
        n = args.orders
        bare_runs = _run_client(ctx, "bare", url, dictionary, n)
        portico_runs = _run_client(ctx, "portico", url, dictionary, n)
        print(
            f"{n} NewOrderSingles per client and mode, each answered by one ExecutionReport; one run, same mock"
        )
        print(f"{'':<34}{'orders/s':>9}{'ack p50 ms':>12}{'ack p99 ms':>12}{'cpu ms/order':>14}")
        rows = [
            ("bare QuickFIX, one at a time", bare_runs[0]),
            ("portico, one at a time", portico_runs[0]),
            ("bare QuickFIX, 8 in flight", bare_runs[1]),
            ("portico, 8 in flight", portico_runs[1]),
        ]
        for name, (wall, cpu, lat) in rows:
            done = len(lat)
            print(
                f"{name:<34}{done / wall:>9.0f}{statistics.median(lat) * 1000:>12.2f}"
                f"{_percentile(lat, 0.99) * 1000:>12.2f}{cpu / done * 1000:>14.2f}"
            )
        for mode, b, p in (
            ("one at a time", bare_runs[0], portico_runs[0]),
            ("8 in flight", bare_runs[1], portico_runs[1]),
        ):
            ratio = (len(p[2]) / p[0]) / (len(b[2]) / b[0])
            latency = statistics.median(p[2]) / statistics.median(b[2])
            verdict = "met" if ratio >= TARGET_RATIO else "missed"
            print(
                f"{mode}: portico/bare orders/s {ratio:.2f}x, ack p50 {latency:.2f}x the bare initiator's; "
                f"target >= {TARGET_RATIO}x: {verdict}"
            )
    finally:
        stop.set()
        server.join(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
