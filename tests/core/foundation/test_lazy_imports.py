"""Every function-level import of another portico package in core/ says why it is late.

The layer contract (``lint-imports``, [tool.importlinter] in pyproject.toml) counts function-level imports
too, so a late import can no longer hide an upward one; what remains late is downward and kept for cold
start (``benchmarks/cold_start.py``). Each such import carries ``# lazy: <reason>`` on its line, so a
reader (and ``grep``) tells a deliberate late import from one dodging a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "core"
MARKER = "# lazy: "


def _package(path: Path) -> str:
    """The portico package a core/ file belongs to (``portico.jobs`` for core/jobs/_service.py)."""
    parts = path.relative_to(CORE).with_suffix("").parts
    return "portico." + parts[0]


def _top(module: str) -> str:
    return ".".join(module.split(".")[:2])


def function_level_imports(source: str, package: str) -> list[tuple[int, str, bool]]:
    """(line, imported module, marked) for each import of another portico package inside a function."""
    lines = source.splitlines()
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.ImportFrom):
                    modules = [child.module or ""] if not child.level else []
                else:
                    modules = [alias.name for alias in child.names]
                for module in modules:
                    if (module == "portico" or module.startswith("portico.")) and _top(module) != package:
                        text = lines[child.lineno - 1 : child.end_lineno]
                        marked = any(MARKER in line and line.split(MARKER, 1)[1].strip() for line in text)
                        found.append((child.lineno, module, marked))
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def test_the_check_finds_an_unmarked_late_import_and_accepts_a_marked_one() -> None:
    source = (
        "from portico.errors import PorticoError\n"
        "def f():\n"
        "    from portico.jobs import JobService\n"
        "    from portico.store import Database  # lazy: cold start (SQLAlchemy)\n"
        "    from portico.trading import X  # lazy:\n"
        "    from portico.monitor._x import y\n"
        "    return JobService\n"
    )
    assert function_level_imports(source, "portico.monitor") == [
        (3, "portico.jobs", False),
        (4, "portico.store", True),
        (5, "portico.trading", False),  # a marker without a reason is no reason
    ]  # the monitor's own portico.monitor._x is its package's business


def test_every_late_import_of_another_portico_package_says_why() -> None:
    unmarked = [
        f"core/{path.relative_to(CORE)}:{line}: {module}"
        for path in sorted(CORE.rglob("*.py"))
        for line, module, marked in function_level_imports(path.read_text(), _package(path))
        if not marked
    ]
    assert unmarked == [], (
        "function-level portico imports without a '# lazy: <reason>' comment (move them to the top of the "
        "module, or say why they load late; an upward one must go: see STYLE.md rule 14):\n"
        + "\n".join(unmarked)
    )
