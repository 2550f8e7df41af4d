"""Run every benchmark (or the ones named), one after another: ``python -m benchmarks [name ...]``.

Each prints its own table of side-by-side figures and ratios measured in the same run; nothing here
asserts a time. A benchmark states each of its targets on a line of its own::

    TARGET <benchmark> <what>: <the target>: <measured figure, ratio> met|missed

and this runner, after the last benchmark, prints every target line again in one summary (with the
wall and CPU seconds of each benchmark), and names the benchmarks that stated no target line.
Names: see ``ALL``.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

ALL = (
    "http_client",
    "alpaca",
    "market_data",
    "market_data_cache",
    "monitoring_overhead",
    "import_positions",
    "order_soak",
    "reconcile",
    "morningstar",
    "factset",
    "polygon",
    "yahoo_finance",
    "etrade",
    "schwab",
    "fx_feed",
    "polygon_stream",
    "gateway",
    "replace",
    "fix",
    "cold_start",
    "mock_throughput",
    "scaleout",
)

PREFIX = "TARGET "


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(name: str) -> tuple[int, list[str], float, float]:
    """Run one benchmark in its own process, echoing its output: (exit code, target lines, wall s, CPU s)."""
    started, cpu = time.perf_counter(), _children_cpu()
    targets: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.{name}"], stdout=subprocess.PIPE, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith(PREFIX):
                targets.append(line[len(PREFIX) :].strip())
        code = proc.wait()
    return code, targets, time.perf_counter() - started, _children_cpu() - cpu


def summary(results: dict[str, tuple[int, list[str], float, float]]) -> list[str]:
    """The summary lines: every target with its outcome, then what stated none or failed."""
    lines: list[str] = []
    rows = [(name, t) for name, (_, targets, _, _) in results.items() for t in targets]
    met = sum(1 for _, t in rows if t.endswith(" met"))
    missed = sum(1 for _, t in rows if t.endswith(" missed"))
    lines.append(f"===== summary: {len(rows)} targets, {met} met, {missed} missed")
    for _name, target in rows:
        outcome = "met" if target.endswith(" met") else "missed" if target.endswith(" missed") else "?"
        lines.append(f"{outcome:<7} {target}")
    silent = [name for name, (code, targets, _, _) in results.items() if not targets and code == 0]
    if silent:
        lines.append(f"no TARGET line (figures above only): {', '.join(silent)}")
    for name, (code, _, wall, cpu) in results.items():
        state = "ok" if code == 0 else f"exit {code}"
        lines.append(f"  {name:<22} {state:<8} {wall:7.0f} s wall {cpu:7.0f} s CPU")
    return lines


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print("usage: python -m benchmarks [NAME ...]  (all of them without a NAME; see benchmarks/README.md)")
        print(f"benchmarks: {', '.join(ALL)}")
        return 0
    names = argv or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    results: dict[str, tuple[int, list[str], float, float]] = {}
    for name in names:
        print(f"\n===== {name}", flush=True)
        results[name] = run(name)
        code, _, wall, cpu = results[name]
        print(f"----- {name}: exit {code} in {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    print()
    for line in summary(results):
        print(line)
    return 1 if any(code for code, _, _, _ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
