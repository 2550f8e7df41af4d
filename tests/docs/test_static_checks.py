"""CI's static checks (the layer contract, then mypy) run before the tests, the ``test`` extra installs
their tools, and the README and the architecture page give the same commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
COMMAND = ".venv/bin/lint-imports && .ci/mypy"
STEPS = [".venv/bin/lint-imports", ".ci/mypy", ".venv/bin/pytest"]


def steps(script: str) -> list[str]:
    """The commands of ``script`` among :data:`STEPS`, in the order it runs them (comments left out)."""
    lines = [line.strip() for line in script.splitlines()]
    return [line for line in lines if line in STEPS]


def test_ci_runs_the_layer_contract_then_mypy_then_the_tests() -> None:
    assert steps(CI_RUN) == STEPS


def test_the_order_check_notices_a_missing_or_late_step() -> None:
    assert steps(".venv/bin/lint-imports\n.venv/bin/pytest\n") != STEPS
    assert steps(".venv/bin/lint-imports\n.venv/bin/pytest\n.ci/mypy\n") != STEPS
    assert steps("# .ci/mypy\n.venv/bin/lint-imports\n.ci/mypy\n.venv/bin/pytest\n") == STEPS


def test_the_test_extra_installs_the_checkers() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower() for r in extras["test"]}
    assert {"mypy", "import-linter"} <= names


def test_mypy_checks_the_package_by_default() -> None:
    script = (ROOT / ".ci" / "mypy").read_text(encoding="utf-8")
    assert "set -- -p portico" in script


def test_the_docs_give_the_ci_commands() -> None:
    for page in ("README.md", "sdk-docs/concepts/architecture.md"):
        assert COMMAND in (ROOT / page).read_text(encoding="utf-8"), page
