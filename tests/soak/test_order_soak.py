"""The full reliability soak: 1,000 orders across Alpaca, IB and FIX (run on demand: ``PORTICO_SOAK=1 pytest tests/soak``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("ib_async")
pytest.importorskip("quickfix")

from tests.soak.harness import run_soak

pytestmark = pytest.mark.skipif(
    os.environ.get("PORTICO_SOAK") != "1", reason="the 1,000-order soak runs on demand: set PORTICO_SOAK=1"
)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_thousand_orders_survive_faults_and_two_kills(tmp_path: Path) -> None:
    count = int(os.environ.get("PORTICO_SOAK_ORDERS", "1000"))
    result = await run_soak(
        tmp_path / "soak",
        count=count,
        seed=int(os.environ.get("PORTICO_SOAK_SEED", "1")),
        kinds=("alpaca", "ib", "fix"),
        timeout=800,
    )
    assert result.violations == [], "\n".join(result.violations[:50])
    assert result.kills == 2 and result.operations["final"] == count
