"""lseg-data and the httpx it runs on, in a folder of their own, for the vendor-client test.

lseg-data 2.1.1 pins ``httpx<0.28`` and really needs it (it hands httpx 0.28 a ``proxy`` dict, which that
version refuses), while portico needs httpx 0.28's request semantics. So the package cannot sit in the
test extra, where the resolver would downgrade httpx for everyone. Its other dependencies are in the
test extra; lseg-data and httpx 0.27 are installed without dependencies into a cache folder once, and
the library's cases (``lseg_cases.py``) run in a child pytest with that folder first on its path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGES = ("lseg-data==2.1.1", "httpx==0.27.2", "sniffio==1.3.1")  # sniffio: httpx 0.27 needs it, 0.28 not


def lseg_path() -> Path:
    """The folder holding lseg-data and httpx 0.27, installed on first use."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "portico-tests"
    target = root / "-".join(p.replace("==", "-") for p in PACKAGES)
    if not (target / "lseg" / "data").is_dir() or not (target / "httpx").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), *PACKAGES],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, f"installing {PACKAGES} failed: {result.stderr[-2000:]}"
    return target
