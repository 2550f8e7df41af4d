"""A short, bounded run of the reliability soak in the normal suite: orders across Alpaca, IB and FIX,
answers dropped after commit, connections cut, the driving process killed twice."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ib_async")
pytest.importorskip("quickfix")

from tests.soak.harness import run_soak


@pytest.mark.timeout(300)
async def test_short_soak_across_alpaca_ib_and_fix(tmp_path: Path) -> None:
    count = 36
    result = await run_soak(
        tmp_path / "soak", count=count, seed=3, kinds=("alpaca", "ib", "fix"), timeout=240
    )
    assert result.violations == [], "\n".join(result.violations[:50])
    assert result.kills == 2
    assert result.operations["final"] == count
    fix_orders = [
        o for o in result.history.read_text().splitlines() if '"op": "final"' in o and '"fix_c"' in o
    ]
    assert len(fix_orders) == count // 3
