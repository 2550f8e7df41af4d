"""Cold start: what users import, in fresh interpreters, against ``python -c "import httpx"``.

Run: ``.venv/bin/python -m benchmarks.cold_start`` (about a minute; ``--rounds``).

Each command runs in a new process (``-X frozen_modules=on``, no bytecode writing, the caches already
warm from a first unmeasured run), in interleaved rounds so load from other processes lands on every
command alike; the figure is the median over rounds of wall time and of the child's CPU time (user +
system), and each ratio is to the same round's ``import httpx``. The ``portico plugins`` run also
reports whether it loaded any mock server module (it must not). Target (issue 28): ``portico plugins``
and ``from portico import Integration`` each at most 2x ``import httpx``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

__all__ = ["main"]

_PLUGINS = (
    "import sys\n"
    "from portico.cli import main\n"
    "try:\n"
    "    main(['plugins'])\n"
    "finally:\n"
    "    light = {'portico.mocks', 'portico.mocks.oauth', 'portico.mocks.oauth.plugin', 'portico.mocks._descriptor'}\n"
    "    mocks = sorted(m for m in sys.modules if m.startswith('portico.mocks') and m not in light)\n"
    "    print('MOCKS:' + ','.join(mocks), file=sys.stderr)\n"
)

COMMANDS: list[tuple[str, list[str]]] = [
    ('python -c "import httpx"', ["-c", "import httpx"]),
    ("from portico import Integration", ["-c", "from portico import Integration"]),
    ("import portico.connectors.alpaca", ["-c", "import portico.connectors.alpaca.connector"]),
    ("portico plugins", ["-c", _PLUGINS]),
]


def _run(args: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-B", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, timeout=120)  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        raise SystemExit(f"{args} failed: {done.stderr[-2000:]}")
    return wall, cpu, done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.cold_start")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    for _, command in COMMANDS:  # warm the file system cache and the bytecode already on disk
        _run(command)
    walls: dict[str, list[float]] = {name: [] for name, _ in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name, _ in COMMANDS}
    ratios: dict[str, list[float]] = {name: [] for name, _ in COMMANDS}
    mocks = ""
    for _ in range(args.rounds):
        base = 0.0
        for name, command in COMMANDS:
            wall, cpu, err = _run(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
            base = base or wall
            ratios[name].append(wall / base)
            if "MOCKS:" in err:
                mocks = err.split("MOCKS:", 1)[1].strip()
    print(f"cold start, fresh interpreters, median of {args.rounds} interleaved rounds")
    print(f"{'':<36}{'wall ms':>9}{'CPU ms':>9}{'vs httpx':>10}")
    for name, _ in COMMANDS:
        print(f"{name:<36}{statistics.median(walls[name]) * 1e3:>9.0f}{statistics.median(cpus[name]) * 1e3:>9.0f}"
              f"{statistics.median(ratios[name]):>9.2f}x")  # fmt: skip
    for name in ("from portico import Integration", "portico plugins"):
        ratio = statistics.median(ratios[name])
        cpu_ratio = statistics.median(cpus[name]) / statistics.median(cpus['python -c "import httpx"'])
        print(f"TARGET cold_start {name}: at most 2x import httpx: {ratio:.2f}x wall ({cpu_ratio:.2f}x CPU) "
              f"{'met' if ratio <= 2 else 'missed'}")  # fmt: skip
    verdict = "met" if not mocks else "missed"
    print(f"TARGET cold_start portico plugins: imports no mock server: {mocks or 'none imported'} {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
