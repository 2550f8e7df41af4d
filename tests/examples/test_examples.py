"""Every script in examples/embedding runs against the mocks, with no account, and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "embedding").glob("*.py"))


def test_there_are_sync_and_async_examples() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"read_positions", "read_positions_async", "place_and_track_order", "place_and_track_order_async",
            "subscribe_quotes", "scheduled_import", "reconcile"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PORTICO_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert result.returncode == 0, f"{script.name}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert result.stdout.strip(), "an example shows its results"
    assert "Traceback" not in result.stderr
