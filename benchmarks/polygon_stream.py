"""Polygon (Massive) stream throughput: quotes per second through portico, massive's WebSocketClient and a
raw websockets loop, from one replay server, in one run.

Run: ``.venv/bin/python -m benchmarks.polygon_stream`` (under a minute, loopback only; ``--rounds``).

The replay server (its own process) speaks the stocks stream's protocol (connected, auth_success,
subscribed) and then sends batches of 100 ``Q`` events, in the mock's shape, as fast as the socket takes
them, so what is measured is the client. portico's path is ``subscribe_market_data`` on the market data
service (canonical ``Quote`` models, the subscription queue, a callback); massive's is its
``WebSocketClient`` handler (its ``EquityQuote`` models); the raw loop only decodes JSON.

Each client runs in this process (the server in its own), so the process CPU time over the measured
span is the client's: it is printed per quote next to the rate. The three clients are measured in
alternating rounds and each figure is the median over rounds. Targets: portico within 2x of the raw
loop and at least 150,000 quotes/s (issue 28), and at least 1.5x massive (issue 17).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

__all__ = ["main"]

SYMBOLS = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA"]

_SERVER = r"""
import asyncio, json, socket, sys
import websockets

frames = json.load(open(sys.argv[1]))

async def handler(ws):
    await ws.send(json.dumps([{"ev": "status", "status": "connected", "message": "Connected Successfully"}]))
    async for text in ws:
        message = json.loads(text)
        if message.get("action") == "auth":
            await ws.send(json.dumps([{"ev": "status", "status": "auth_success", "message": "authenticated"}]))
        elif message.get("action") == "subscribe":
            await ws.send(json.dumps([{"ev": "status", "status": "success", "message": "subscribed to: " + p}
                                      for p in message["params"].split(",")]))
            try:
                while True:
                    for frame in frames:
                        await ws.send(frame)
            except websockets.ConnectionClosed:
                return

async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    async with websockets.serve(handler, sock=sock, max_size=None, ping_interval=None, compression=None):
        print(sock.getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


def _frames(count: int = 50, per_frame: int = 100) -> list[str]:
    out = []
    t = 1_767_625_200_000  # 2026-01-05 15:00 UTC in ms
    for f in range(count):
        batch = []
        for i in range(per_frame):
            n = f * per_frame + i
            sym = SYMBOLS[n % len(SYMBOLS)]
            batch.append({"ev": "Q", "sym": sym, "bx": 4, "bp": 190.01 + (n % 7) / 100, "bs": 2, "ax": 7,
                          "ap": 190.05 + (n % 5) / 100, "as": 3, "c": 1, "i": [], "t": t + n, "q": n, "z": 3})  # fmt: skip
        out.append(json.dumps(batch))
    return out


Result = tuple[float, float]  # quotes per second, CPU seconds per quote


async def _raw(port: int, messages: int) -> Result:
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{port}/stocks", max_size=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "auth", "params": "k"}))
        await ws.recv()
        await ws.send(json.dumps({"action": "subscribe", "params": ",".join(f"Q.{s}" for s in SYMBOLS)}))
        await ws.recv()
        count, start, cpu = 0, 0.0, 0.0
        while count < messages:
            batch = json.loads(await ws.recv())
            if not start:
                start, cpu = time.perf_counter(), time.process_time()
                continue
            count += sum(1 for m in batch if m.get("ev") == "Q")
        return count / (time.perf_counter() - start), (time.process_time() - cpu) / count


async def _massive(port: int, messages: int) -> Result:
    from massive import WebSocketClient

    client = WebSocketClient(
        api_key="k",
        feed=f"127.0.0.1:{port}",
        secure=False,
        subscriptions=[f"Q.{s}" for s in SYMBOLS],
        max_reconnects=0,
    )
    state = {"count": 0, "start": 0.0, "end": 0.0, "cpu": 0.0}
    done = asyncio.Event()

    async def handle(batch: list[Any]) -> None:
        if not state["start"]:
            state["start"], state["cpu"] = time.perf_counter(), time.process_time()
            return
        state["count"] += len(batch)
        if state["count"] >= messages and not done.is_set():
            state["end"], state["cpu"] = time.perf_counter(), time.process_time() - state["cpu"]
            done.set()

    task = asyncio.create_task(client.connect(handle))
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return state["count"] / (state["end"] - state["start"]), state["cpu"] / state["count"]


async def _portico(port: int, messages: int) -> Result:
    from portico.connectors.polygon.connector import PolygonConnector
    from portico.marketdata import MarketDataService
    from portico.sdk import ConnectorContext

    urls = {"base": f"http://127.0.0.1:{port}", "stream": f"ws://127.0.0.1:{port}/stocks",
            "delayed_stream": f"ws://127.0.0.1:{port}/stocks"}  # fmt: skip
    context = ConnectorContext.for_testing(
        PolygonConnector, urls=urls, credentials={"api_key": "k"}, connection={"plan": "advanced"}
    )
    connector = PolygonConnector(context)
    await connector.open()
    service = MarketDataService({"polygon": connector}, config={"cache": {"enabled": False}})
    state = {"count": 0, "start": 0.0, "end": 0.0, "cpu": 0.0}
    done = asyncio.Event()

    def on_quote(_quote: Any) -> None:
        if not state["start"]:
            state["start"], state["cpu"] = time.perf_counter(), time.process_time()
            return
        state["count"] += 1
        if state["count"] >= messages and not done.is_set():
            state["end"], state["cpu"] = time.perf_counter(), time.process_time() - state["cpu"]
            done.set()

    sid = await service.subscribe_market_data("polygon", SYMBOLS, "quotes", on_quote)
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        summary = await service.unsubscribe_market_data(sid)
        await connector.close()
    if summary.get("dropped"):
        print(f"    (portico dropped {summary['dropped']} quotes under back-pressure, "
              f"{summary.get('stream_dropped', 0)} of them in the stream's queue)")  # fmt: skip
    return state["count"] / (state["end"] - state["start"]), state["cpu"] / state["count"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.polygon_stream")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(_frames(), handle)
    server = subprocess.Popen([sys.executable, "-c", _SERVER, handle.name], stdout=subprocess.PIPE, text=True)
    clients = [("raw websockets loop", _raw), ("massive WebSocketClient", _massive),
               ("portico subscribe_market_data", _portico)]  # fmt: skip
    results: dict[str, list[Result]] = {name: [] for name, _ in clients}
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().strip())
        for _ in range(args.rounds):
            for name, run in clients:
                results[name].append(asyncio.run(run(port, args.messages)))
    finally:
        server.terminate()
        server.wait(timeout=10)
    rate = {name: statistics.median(r for r, _ in rows) for name, rows in results.items()}
    cpu = {name: statistics.median(c for _, c in rows) for name, rows in results.items()}
    raw, massive, portico = (rate[name] for name, _ in clients)
    print(
        f"quotes per second from one replay server, {args.messages:,} quotes each, median of {args.rounds} rounds"
    )
    print(f"{'':<32}{'msg/s':>10}{'wall us/msg':>13}{'CPU us/msg':>12}{'vs massive':>12}{'vs raw':>9}")
    for name, _ in clients:
        print(f"{name:<32}{rate[name]:>10,.0f}{1e6 / rate[name]:>13.2f}{cpu[name] * 1e6:>12.2f}"
              f"{rate[name] / massive:>11.2f}x{rate[name] / raw:>8.2f}x")  # fmt: skip

    def verdict(ok: bool) -> str:
        return "met" if ok else "missed"

    print(f"TARGET polygon_stream quotes: portico within 2x of the raw loop: raw/portico {raw / portico:.2f}x "
          f"(CPU per quote {cpu['portico subscribe_market_data'] / cpu['raw websockets loop']:.2f}x) "
          f"{verdict(raw / portico <= 2)}")  # fmt: skip
    print(
        f"TARGET polygon_stream quotes: portico >= 150,000 quotes/s: {portico:,.0f} {verdict(portico >= 150_000)}"
    )
    print(f"TARGET polygon_stream quotes: portico >= 1.5x massive (issue 17): {portico / massive:.2f}x "
          f"{verdict(portico / massive >= 1.5)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
