"""A system configured as td_ameritrade is refused with the retirement message and the way to schwab."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_td_ameritrade_fails_validation_with_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "tda.yaml"
    path.write_text("systems:\n  td_ameritrade:\n    type: brokerage\n")
    result = subprocess.run(
        [sys.executable, "-m", "portico.cli", "config", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "systems.td_ameritrade: TD Ameritrade's API was retired in May 2024" in result.stderr
    assert "configure connector 'schwab' instead" in result.stderr
    assert "Traceback" not in result.stderr
