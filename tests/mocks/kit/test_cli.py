"""``portico mock NAME`` serves a plugin's mock over TCP and prints its URLs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from portico.cli import cli


def test_serves_alpaca_until_interrupted(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("faults:\n  - {route: /v2/clock, kind: error, status: 503}\n")
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "portico.cli", "mock", "alpaca", "--seed", "4", "--faults", str(faults)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any("serving" in line for line in lines):
            assert time.monotonic() < deadline, lines
            line = proc.stdout.readline()
            assert line, f"exited early: {lines}"
            lines.append(line)
        text = "".join(lines)
        trading = re.search(r"trading\s+(http://127\.0\.0\.1:\d+)", text)
        assert trading, text
        assert re.search(r"data_stream\s+ws://127\.0\.0\.1:\d+/v2", text)
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        base = trading.group(1)
        assert httpx.get(f"{base}/v2/account", headers=headers).json()["status"] == "ACTIVE"
        assert httpx.get(f"{base}/v2/clock", headers=headers).status_code == 503
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    assert proc.returncode in (0, 130)


def test_lists_mocks_and_reports_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["mock"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "alpaca" in listed.output
    unknown = runner.invoke(cli, ["mock", "nope"])
    assert unknown.exit_code != 0 and "no mock named 'nope'" in unknown.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {route: /x, kind: teleport}\n")
    refused = runner.invoke(cli, ["mock", "alpaca", "--faults", str(bad)])
    assert refused.exit_code != 0 and "bad.yaml" in refused.output and "faults[0].kind" in refused.output
