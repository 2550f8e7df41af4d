"""The connector author's guide cannot drift from the code: it builds with zero warnings and every
Python example in it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "sdk-docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)
BLOCK = re.compile(r"(?P<skip><!-- skip-test -->\s*\n)?```python\n(?P<code>.*?)\n```", re.S)


def python_blocks(page: Path) -> list[str]:
    return [m.group("code") for m in BLOCK.finditer(page.read_text(encoding="utf-8")) if not m.group("skip")]


def test_docs_build_with_zero_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    matrix = (tmp_path / "site" / "reference" / "capability-matrix" / "index.html").read_text()
    assert "alpaca" in matrix and "get_bars" in matrix, "the capability matrix is generated from installed manifests"
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "portico config validate" in cli
    config = (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    assert "model_config" not in config, "pydantic's model_config is no setting of ours"
    formats = (tmp_path / "site" / "reference" / "formats" / "index.html").read_text()
    for generated in ("<code>positions</code>", "<code>retry_after</code>", "<code>webhook_url</code>",
                      "<code>starting_cash</code>", "<code>translate</code>", "<code>book_positions</code>"):
        assert generated in formats, f"{generated} missing from the generated formats reference"


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(DOCS)))
def test_every_example_runs(page: Path, tmp_path: Path) -> None:
    # one page's blocks run in order in one interpreter, as a reader pasting them would
    script = tmp_path / "example.py"
    script.write_text("\n\n".join(python_blocks(page)), encoding="utf-8")
    env = {**os.environ, "PORTICO_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, f"{page.name}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert str(page.relative_to(DOCS)) in nav, f"{page} is not in mkdocs.yml's nav"
