"""Installing a plugin package for a test without touching the project's environment.

``pip install --target`` puts the package in a folder of its own; that folder goes on ``sys.path``
(entry points are found there like anywhere else) and on ``PYTHONPATH`` for subprocesses, and both
come off again at the end, so ``portico plugins`` and the docs' capability matrix never list a test
package afterwards, even when a test run was killed half-way.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["overlay_install"]


@contextmanager
def overlay_install(project: Path, target: Path) -> Iterator[Path]:
    """Install ``project`` (no dependencies) into ``target`` and make it importable while inside."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(project)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(target), before) if p)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
        importlib.invalidate_caches()
