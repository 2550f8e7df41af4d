"""Every script in examples/embedding runs against the mocks, with no account, and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "embedding").glob("*.py"))
CONFIG = Path(__file__).resolve().parents[2] / "examples" / "config" / "portico.yaml"


def test_there_are_sync_and_async_examples() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"read_positions", "read_positions_async", "place_and_track_order", "place_and_track_order_async",
            "subscribe_quotes", "scheduled_import", "reconcile"} <= names


def _run(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORTICO_HOME": str(home)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=240, env=env, cwd=cwd)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_twice_in_one_home_next_to_another_config(script: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # another configuration's jobs are stored in the same home first, as `portico run` would leave them
    other = _run(["-m", "portico.cli", "jobs", "list", "--config", str(CONFIG)], home, tmp_path)
    assert other.returncode == 0, other.stderr[-2000:]
    for attempt in ("first", "second"):
        result = _run([str(script)], home, tmp_path)
        assert result.returncode == 0, f"{script.name} ({attempt} run)\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        assert result.stdout.strip(), "an example shows its results"
        assert "Traceback" not in result.stderr
