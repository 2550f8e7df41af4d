"""The tutorial works when followed in order, in a fresh virtual environment.

The environment is new (``python -m venv``); portico is installed into it from this checkout the way
the README says (``pip install -e .``), with its dependencies read from the project's environment
(a ``.pth`` adding that site directory) so the test needs no network. Then the page's shell
commands run one by one, as typed, and its Python blocks run in order in one interpreter, as a
reader pasting them into a file would. Every step has a deadline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "sdk-docs" / "tutorial.md"

pytestmark = pytest.mark.slow


def blocks(language: str) -> list[str]:
    text = TUTORIAL.read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(rf"```{language}\n(.*?)\n```", text, re.S)]


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("tutorial")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    )
    # dependencies from the project's environment, after the venv's own packages (no network needed)
    project_site = sysconfig.get_paths()["purelib"]
    (site / "portico-test-deps.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PORTICO_HOME": str(base / "home"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "COLUMNS": "80",
    }
    pip = [str(python), "-m", "pip", "install", "-q"]
    # the build backend and the test runner of a connector package, in the venv itself
    run([*pip, "setuptools>=68", "wheel"], base, env)
    run([*pip, "--ignore-installed", "pytest", "pytest-asyncio"], base, env)
    env["PIP_NO_BUILD_ISOLATION"] = "0"  # build with the venv's setuptools (pip reads "0" as: no isolation)
    run([*pip, "--no-deps", "-e", str(ROOT)], base, env)
    return base, env


def test_the_tutorial_followed_in_order(fresh_venv: tuple[Path, dict[str, str]]) -> None:
    work, env = fresh_venv
    # step 0: the shell commands, one by one, as the page writes them
    outputs = []
    for block in blocks("bash"):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                outputs.append(run(["bash", "-c", line], work, env, timeout=240))
    listed = json.loads(outputs[-1])
    assert "quick_quotes" in [c["name"] for c in listed["connectors"]], listed["connectors"]
    assert listed["failures"] == {}
    assert re.search(r"\b\d+ passed\b", outputs[2]), outputs[2]  # the scaffold's own tests ran and passed

    # steps 1 to 5: every Python block, in order, in one interpreter of the fresh venv
    script = work / "tutorial.py"
    script.write_text("\n\n".join(blocks("python")), encoding="utf-8")
    out = run([str(Path(env["VIRTUAL_ENV"]) / "bin" / "python"), str(script)], work, env, timeout=240)
    assert "connected" in out.splitlines()[-1], out  # step 5: the hand-built connector in the runtime
    assert "get_positions" in out  # step 4: NotSupported names the capability

    # step 6: the names the page packages under are the ones the scaffold of step 0 uses
    scaffold = tomllib.loads((work / "portico-quick-quotes" / "pyproject.toml").read_text())
    [page] = [tomllib.loads(b) for b in blocks("toml")]
    ours = page["project"]["entry-points"]["portico.plugins"]
    theirs = scaffold["project"]["entry-points"]["portico.plugins"]
    assert ours == {k.replace("quick", "tiny"): v.replace("quick", "tiny") for k, v in theirs.items()}
    assert (
        page["tool"]["setuptools"]["packages"]["find"] == scaffold["tool"]["setuptools"]["packages"]["find"]
    )
    spec = (work / "portico-quick-quotes" / "src" / "portico_quick_quotes" / "spec.py").read_text()
    assert 'app="portico_quick_quotes.mock:create_app"' in spec
    assert 'app="portico_tiny_quotes.mock:create_app"' in TUTORIAL.read_text()
