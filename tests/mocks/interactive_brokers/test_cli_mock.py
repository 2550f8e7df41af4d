"""``portico mock interactive_brokers --protocol tws --port N`` serves the TWS socket API on port N."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from portico.testing import wait_for_async

ib_async = pytest.importorskip("ib_async")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cli_serves_tws_on_the_given_port(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "mock.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portico.cli",
                "mock",
                "interactive_brokers",
                "--protocol",
                "tws",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while f"tcp://127.0.0.1:{port}" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert loop.time() < deadline, "the mock did not start"
            await asyncio.sleep(0.05)
        ib = ib_async.IB()
        await ib.connectAsync("127.0.0.1", port, clientId=7, timeout=10)
        try:
            assert ib.managedAccounts() == ["DU1234567"]
            (contract,) = await ib.qualifyContractsAsync(ib_async.Stock("SPY", "SMART", "USD"))
            trade = ib.placeOrder(contract, ib_async.MarketOrder("BUY", 2))
            await wait_for_async(trade.isDone, timeout=15, message="the order never finished")
            assert trade.orderStatus.status == "Filled"
        finally:
            ib.disconnect()
    finally:
        process.terminate()
        process.wait(10)
