"""Run every benchmark (or the ones named), one after another: ``python -m benchmarks [name ...]``.

Each prints its own table of side-by-side figures and ratios measured in the same run; nothing here
asserts a time. Names: http_client, alpaca, market_data, monitoring_overhead, import_positions,
order_soak, reconcile, morningstar, factset, polygon, yahoo_finance, etrade, schwab, fx_feed, polygon_stream.
"""

from __future__ import annotations

import subprocess
import sys
import time

ALL = ("http_client", "alpaca", "market_data", "monitoring_overhead", "import_positions", "order_soak", "reconcile", "morningstar", "factset", "polygon", "yahoo_finance", "etrade", "schwab", "fx_feed", "polygon_stream")


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n===== {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(f"----- {name}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
