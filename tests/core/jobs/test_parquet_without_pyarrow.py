"""Parquet is advertised by the main install: reading and writing it need no pyarrow (issue 13 item 15).

Each case runs in a child interpreter where ``import pyarrow`` fails, as on an install without the
``parquet`` extra (the test environment itself has pyarrow).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

_WITHOUT_PYARROW = r"""
import json, sys
sys.modules["pyarrow"] = None  # the interpreter now fails "import pyarrow", as when it is not installed
sys.modules["pyarrow.parquet"] = None
from portico.clock import FakeClock
from portico.jobs import JobService
from portico.store import Database

service = JobService(db=Database(), clock=FakeClock(), config={})
if sys.argv[1] == "import":
    result = service.importer.import_file(sys.argv[2], "prices")
    print(json.dumps({"status": result.status, "error": result.error, "loaded": result.loaded}))
else:
    import io
    import polars as pl
    buffer = io.BytesIO()
    written = service.formats.get("parquet").write([{"a": 1}, {"a": 2}], ["a"], buffer, {})
    buffer.seek(0)
    print(json.dumps({"written": written, "rows": pl.read_parquet(buffer).to_dicts()}))
service.shutdown()
"""


def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_PYARROW, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-1500:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_parquet_import_works_without_pyarrow(tmp_path: Path) -> None:
    path = tmp_path / "prices.parquet"
    pl.DataFrame({"symbol": ["AAPL", "MSFT"], "date": ["2026-01-05", "2026-01-05"], "close": ["190.5", "400"], "currency": ["USD", "USD"]}).write_parquet(path)
    assert _child("import", str(path)) == {"status": "loaded", "error": None, "loaded": 2}


def test_corrupt_parquet_without_pyarrow_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "prices.parquet"
    path.write_bytes(b"PAR1 not really parquet PAR1")
    result = _child("import", str(path))
    assert result["status"] == "failed" and result["error"].startswith("prices.parquet: not a readable Parquet file: ")
    assert "\n" not in result["error"] and "ModuleNotFoundError" not in result["error"]


def test_parquet_is_written_by_polars_without_pyarrow() -> None:
    assert _child("write") == {"written": 2, "rows": [{"a": 1}, {"a": 2}]}
