"""lseg-data, unchanged, against the Refinitiv mock: the cases of ``lseg_cases.py``, run in a child pytest
whose path holds lseg-data and the httpx 0.27 it needs (see ``lseg_library.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.connectors.refinitiv.lseg_library import lseg_path

CASES = Path(__file__).with_name("lseg_cases.py")
ROOT = Path(__file__).resolve().parents[3]


def test_lseg_data_works_unchanged_against_the_mock(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lseg_path()), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(CASES), "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         "-o", "addopts=", "-o", "asyncio_mode=auto", "--basetemp", str(tmp_path / "t")],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT,
    )  # fmt: skip
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    # every case of the library ran and passed: none skipped, none deselected
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, summary
    assert int(summary.split(" passed")[0].split()[-1]) >= 10, summary
