"""The README's docs and benchmark commands work after the README's own install commands."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def extras_with(requirement: str) -> set[str]:
    """The extras that install ``requirement``, directly or through another extra (``portico[docs]``)."""
    found = {name for name, reqs in EXTRAS.items() if any(r.startswith(requirement) for r in reqs)}
    grew = True
    while grew:
        more = {
            name
            for name, reqs in EXTRAS.items()
            for r in reqs
            if (m := re.match(r"portico\[(.+)\]", r)) and found & set(m.group(1).split(","))
        }
        grew = not more <= found
        found |= more
    return found


def test_the_docs_build_command_installs_what_it_runs() -> None:
    command = re.search(
        r"`(\.venv/bin/pip install -e '\.\[(\w+)\]' && \.venv/bin/python -m mkdocs build --strict)`", README
    )
    assert command, "the README gives the docs build with its install"
    assert command.group(2) in extras_with("mkdocs>") and command.group(2) in extras_with("mkdocstrings")
    assert "test" in extras_with("mkdocs>"), (
        "the test-suite install builds the docs too (tests/docs builds them)"
    )


def test_the_benchmark_commands_follow_the_test_install() -> None:
    assert ".venv/bin/pip install -e '.[test]' && .venv/bin/pytest" in README
    assert "after the test-suite install above, `.venv/bin/python -m benchmarks`" in README
    for peer in ("alpaca-py", "yfinance", "schwab-py", "pyetrade"):  # what the benchmarks compare with
        assert "test" in extras_with(peer), peer
    listed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0 and "http_client" in listed.stdout and "polygon_stream" in listed.stdout
