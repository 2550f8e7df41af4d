"""``portico demo``, the README's first command: it runs end to end on the mocks, and refuses anything else."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _portico(*args: str, home: Path, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORTICO_HOME": str(home), "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=240
    )


def test_the_demo_runs_end_to_end_on_the_example_config(tmp_path: Path) -> None:
    # run from elsewhere: the demo finds the example config of the checkout it belongs to
    result = _portico("demo", home=tmp_path / "home", cwd=tmp_path, columns=80)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    out = result.stdout
    # it reads at 80 columns: no line longer, and each system and order id on one line, whole
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80, out
    assert all(re.search(rf"^{name} +connected +ok \d+ ms", out, re.M) for name in ("interactive_brokers", "alpha_vantage")), out
    for heading in ("interactive_brokers: paper trading on its mock", "alpaca: paper trading on its mock",
                    "alpha_vantage: market data", "yahoo_finance: market data", "factset: market data",
                    "polygon: market data", "etrade: paper trading on its mock",
                    "bloomberg: market data", "refinitiv: market data", "schwab: paper trading on its mock"):
        assert heading in out, out
    # three orders on each broker (IB, Alpaca, Schwab, E*TRADE), every one filled
    assert out.count("filled") >= 12, out
    assert "failure" not in out and "Traceback" not in result.stderr
    assert "demo finished in" in out
    # the JSON logs went to the file, not to the terminal
    assert (tmp_path / "home" / "logs" / "demo.log").stat().st_size > 0
    assert '"event"' not in out and '"event"' not in result.stderr


def test_the_demo_refuses_a_system_that_is_not_a_mock_before_connecting_anything(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as venue:
        venue.bind(("127.0.0.1", 0))
        venue.listen()
        venue.setblocking(False)
        port = venue.getsockname()[1]
        config = tmp_path / "live.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "external_integration_config": {
                        "systems": {
                            "alpaca_live": {
                                "type": "brokerage",
                                "connector": "alpaca",
                                "environment": "live",
                                "allow_live_trading": True,
                                "allow_insecure": True,
                                "connection": {"base_url": f"http://127.0.0.1:{port}"},
                                "authentication": {
                                    "type": "api_key_pair",
                                    "credentials": {"api_key_id": "k", "api_secret_key": "s"},
                                },
                            },
                            "alpha_vantage": {
                                "type": "market_data",
                                "mock": True,
                                "authentication": {"type": "api_key", "credentials": {"api_key": "demo"}},
                            },
                        }
                    }
                }
            )
        )
        result = _portico("demo", "--config", str(config), home=tmp_path / "home", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            "error: portico demo runs on mock servers only; system 'alpaca_live' is not a mock "
            "(set mock: true on it, or use portico run for real systems)"
        ]
        assert "paper trading" not in result.stdout
        try:
            venue.accept()[0].close()
            connected = True
        except BlockingIOError:
            connected = False
        assert not connected, "the demo connected to a real system"
