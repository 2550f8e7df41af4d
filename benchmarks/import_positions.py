"""Import benchmark: a pipe-delimited position file imported end to end, beside a raw polars read.

Run: ``.venv/bin/python -m benchmarks.import_positions [--rows 1000000] [--rss-rows 5000000]``

Reports rows/second of the full pipeline (scan + checksum, parse, validate, map, load into the
embedded SQLite store, control totals read back), the same for a raw ``polars.read_csv`` of the file,
their ratio, and the peak RSS of an import of a bigger file measured in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["generate", "main"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _isin(body: str) -> str:
    digits = "".join(str(_ALPHABET.index(c)) for c in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return body + str((10 - total % 10) % 10)


def generate(path: Path, rows: int, *, seed: int = 7) -> None:
    """Write ``rows`` positions (account, ISIN, symbol, quantity, price, currency, date), unique per key."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    n_instr = 5000
    isins = [_isin(f"US{i:09d}") for i in range(n_instr)]
    symbols = [f"SYM{i}" for i in range(n_instr)]
    currencies = ["USD", "EUR", "GBP", "JPY", "CHF"]
    idx = np.arange(rows)
    instr = idx % n_instr
    account = idx // n_instr  # (account, isin) unique for every row
    frame = pl.DataFrame(
        {
            "account": pl.Series([f"ACC{a:07d}" for a in account]),
            "isin": pl.Series(isins).gather(instr),
            "symbol": pl.Series(symbols).gather(instr),
            "quantity": pl.Series(rng.integers(-50_000, 50_000, rows)).cast(pl.String),
            "price": pl.Series((rng.integers(1, 10_000_00, rows) / 100).round(2)).cast(pl.String),
            "currency": pl.Series(currencies).gather(instr % len(currencies)),
            "date": pl.Series(["2026-01-05"] * rows),
        }
    )
    frame = frame.with_columns(pl.when(pl.col("price").str.ends_with(".0")).then(pl.col("price").str.strip_suffix(".0")).otherwise(pl.col("price")).alias("price"))
    frame.write_csv(path, separator="|")


def _import(path: Path, home: Path) -> dict[str, object]:
    from portico.clock import system_clock
    from portico.jobs import DataImporter
    from portico.jobs._registry import collect
    from portico.store import Database

    formats, sinks, _ = collect(None)
    db = Database(f"sqlite:///{home / 'bench.db'}")
    importer = DataImporter(db=db, clock=system_clock, formats=formats, sinks=sinks, home=home)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = importer.import_file(path, "positions")
    elapsed = time.perf_counter() - t0
    return {
        "cpu_seconds": time.process_time() - c0,
        "status": result.status,
        "records": result.records,
        "loaded": result.loaded,
        "seconds": elapsed,
        "fast_path": result.fast_path,
        "stages": {s.name: round(s.seconds, 3) for s in result.stages},
        "error": result.error,
    }


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM).

    Not ``getrusage``: Linux carries ``ru_maxrss`` across ``execve``, so a child would report the peak
    of the (large) process that generated the file and spawned it.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_child(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        path = home / "positions_rss.psv"
        generate(path, rows)
        # generation happened in a separate child: measure only the import here
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.import_positions", "--import-only", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PORTICO_HOME": str(home)},
        )
        print(out.stdout.strip() or out.stderr.strip())


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table of figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rss-rows", type=int, default=5_000_000)
    parser.add_argument("--import-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--generate-rss", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.import_only:
        home = Path(os.environ["PORTICO_HOME"])
        figures = _import(Path(args.import_only), home)
        figures["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(figures))
        return
    if args.generate_rss:
        _rss_child(args.generate_rss)
        return

    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["PORTICO_HOME"] = str(home)
        path = home / "positions_20260105.psv"
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s")

        t0 = time.perf_counter()
        c0 = time.process_time()
        raw = pl.read_csv(path, separator="|", infer_schema=False)
        raw_s = time.perf_counter() - t0
        raw_cpu = time.process_time() - c0
        assert raw.height == args.rows

        figures = _import(path, home)
        if figures["status"] != "loaded" or figures["loaded"] != args.rows:
            raise SystemExit(f"import did not load every row: {figures}")
        imp_s = float(figures["seconds"])  # type: ignore[arg-type]
        imp_cpu = float(figures["cpu_seconds"])  # type: ignore[arg-type]
        load = os.getloadavg()[0]
        print(f"machine             {os.cpu_count()} CPUs, load average {load:.1f} (figures are wall clock; CPU seconds beside)")
        print(f"raw polars read     {args.rows / raw_s:>12,.0f} rows/s  ({raw_s:.2f}s wall, {raw_cpu:.2f}s CPU)")
        print(f"portico import      {args.rows / imp_s:>12,.0f} rows/s  ({imp_s:.2f}s wall, {imp_cpu:.2f}s CPU, columnar={figures['fast_path']})")
        print(f"  per CPU second    {args.rows / imp_cpu:>12,.0f} rows/s  (what an otherwise idle core sustains)")
        print(f"ratio import/raw    {raw_s / imp_s:>12.3f}  (raw read is {imp_s / raw_s:.1f}x faster)")
        print(f"stages (s)          {figures['stages']}")

    if args.rss_rows:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.import_positions", "--generate-rss", str(args.rss_rows)],
            capture_output=True,
            text=True,
            check=False,
        )
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()
        try:
            child = json.loads(line)
        except ValueError:
            print(f"RSS run failed: {line[-2000:]}")
            return
        rate = child["records"] / child["seconds"]
        print(f"{args.rss_rows:,}-row import: peak RSS {child['peak_rss_mb']:.0f} MB, {rate:,.0f} rows/s wall ({child['records'] / child['cpu_seconds']:,.0f} per CPU second), status {child['status']}")


if __name__ == "__main__":
    main()
