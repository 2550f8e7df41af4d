"""The order reliability soak, full size: 1,000 orders to two mock brokers with faults, the driving
process SIGKILLed and restarted twice; prints the invariant check and the operation counts.

Run: ``.venv/bin/python -m benchmarks.order_soak [--orders 1000] [--seed 1] [--workdir DIR]``.
Exit status 1 when an invariant is violated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from tests.soak.harness import run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--database-url", default=None, help="default: SQLite in the work directory")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="portico-soak-"))
    result = asyncio.run(
        run_soak(workdir, count=args.orders, seed=args.seed, database_url=args.database_url, timeout=900)
    )
    summary = result.summary()
    summary["orders_per_second"] = round(result.orders / result.seconds, 1) if result.seconds else None
    print(json.dumps(summary, indent=2, default=str))
    if result.violations:
        print(f"{len(result.violations)} invariant violations", file=sys.stderr)
        return 1
    print(f"ok: {result.orders} orders, {result.kills} kills, 0 violations; history in {result.history}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
