"""Trading sits below the runtime, the jobs service and the monitor: importing it loads none of them,
and no trading module imports a portico module inside a function (the late import that hides a cycle).
An import-linter contract checks the whole layering; this keeps the trading part of it local."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import portico.trading

TRADING = Path(portico.trading.__file__).parent
ABOVE = ("portico.runtime", "portico.jobs", "portico.monitor", "portico.cli", "portico.gateway")


def test_importing_trading_loads_nothing_above_it() -> None:
    code = f"import sys, portico.trading\nprint(sorted(m for m in sys.modules if m.startswith({ABOVE!r})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _late_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every ``portico`` import inside a function (TYPE_CHECKING blocks are module level)."""
    found: list[tuple[int, str]] = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portico"):
                found.append((node.lineno, str(node.module)))
            elif isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names if a.name.startswith("portico"))
    return found


def test_no_trading_module_imports_portico_inside_a_function() -> None:
    late = {
        path.name: hits
        for path in sorted(TRADING.glob("*.py"))
        if (hits := _late_imports(path.read_text(encoding="utf-8")))
    }
    assert late == {}


def test_the_late_import_check_finds_one() -> None:
    source = "def f():\n    from portico.jobs import JobService\n    import portico.runtime\n"
    assert _late_imports(source) == [(2, "portico.jobs"), (3, "portico.runtime")]
