"""Import benchmark: delimited files imported end to end, beside a raw polars read and a plain polars -> SQLite pipeline.

Run: ``.venv/bin/python -m benchmarks.import_positions [--rows 1000000] [--ordinary-rows 500000] [--rss-rows 5000000]``

Reports, wall and CPU, rows/second of the full pipeline (scan + checksum, parse, validate, map, load
into the embedded SQLite store, control totals read back):

- a clean pipe-delimited positions file (target: at least 300,000 rows/s), beside a raw
  ``polars.read_csv`` of it and a plain polars -> SQLite pipeline doing the same checks (decimal,
  ISIN check digit, currency, date, control characters, duplicate keys; valid rows inserted in one
  transaction, the rest counted as rejects): portico must beat it, in the same run;
- ordinary files (target: at least 200,000 rows/s each, every record accounted for): every text field
  quoted, a blank line every thousand lines and at the end, the clean file gzipped, and the
  ``transactions`` and ``prices`` record types (model rules: settle date, high/low);
- the peak RSS of an import of a bigger file, measured in a fresh subprocess (target: under 400 MB).

Every run must load every row (the files are valid): a run that does not is an error, not a figure.
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
    frame = frame.with_columns(
        pl.when(pl.col("price").str.ends_with(".0"))
        .then(pl.col("price").str.strip_suffix(".0"))
        .otherwise(pl.col("price"))
        .alias("price")
    )
    frame.write_csv(path, separator="|")


def generate_transactions(path: Path, rows: int, *, seed: int = 11) -> None:
    """Write ``rows`` transactions (unique ids, settle two days after trade), pipe-delimited."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    n_instr = 5000
    isins = [_isin(f"US{i:09d}") for i in range(n_instr)]
    idx = np.arange(rows)
    instr = idx % n_instr
    quantity = rng.integers(1, 5_000, rows)
    price = rng.integers(1, 100_000, rows)
    frame = pl.DataFrame(
        {
            "transaction_id": pl.Series([f"T{i:010d}" for i in idx]),
            "account": pl.Series([f"ACC{a:05d}" for a in idx % 20_000]),
            "trade_date": pl.Series(["2026-01-05"] * rows),
            "settle_date": pl.Series(["2026-01-07"] * rows),
            "type": pl.Series(["buy", "sell"]).gather(idx % 2),
            "symbol": pl.Series([f"SYM{i}" for i in range(n_instr)]).gather(instr),
            "isin": pl.Series(isins).gather(instr),
            "quantity": pl.Series(quantity).cast(pl.String),
            "price": pl.Series(price).cast(pl.String),
            "amount": pl.Series(quantity * price).cast(pl.String),
            "currency": pl.Series(["USD", "EUR", "GBP"]).gather(instr % 3),
        }
    )
    frame.write_csv(path, separator="|")


def generate_prices(path: Path, rows: int, *, seed: int = 13) -> None:
    """Write ``rows`` daily prices (unique symbol per date; high >= low), comma-separated."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    idx = np.arange(rows)
    low = rng.integers(100, 10_000, rows)
    frame = pl.DataFrame(
        {
            "symbol": pl.Series([f"S{i:07d}" for i in idx // 20]),
            "date": pl.Series([f"2026-01-{d:02d}" for d in range(1, 21)]).gather(idx % 20),
            "close": pl.Series(low + 5).cast(pl.String),
            "currency": pl.Series(["USD"] * rows),
            "open": pl.Series(low + 2).cast(pl.String),
            "high": pl.Series(low + 10).cast(pl.String),
            "low": pl.Series(low).cast(pl.String),
            "volume": pl.Series(rng.integers(0, 1_000_000, rows)).cast(pl.String),
        }
    )
    frame.write_csv(path)


def _ordinary_files(root: Path, rows: int) -> list[tuple[str, Path, str, int]]:
    """(label, file, data type, records) of the ordinary cases, each of ``rows`` records."""
    import gzip

    import polars as pl

    clean = root / "ordinary_clean.psv"
    generate(clean, rows)
    quoted = root / "ordinary_quoted_20260105.psv"
    pl.read_csv(clean, separator="|", infer_schema=False).write_csv(
        quoted, separator="|", quote_style="always"
    )
    blank = root / "ordinary_blank_20260105.psv"
    lines = clean.read_bytes().split(b"\n")
    with blank.open("wb") as out:
        for start in range(0, len(lines), 1000):
            out.write(b"\n".join(lines[start : start + 1000]) + b"\n\n")
    gz = root / "ordinary_gzip_20260105.psv.gz"
    gz.write_bytes(gzip.compress(clean.read_bytes(), compresslevel=1, mtime=0))
    tx = root / "ordinary_transactions_20260105.psv"
    generate_transactions(tx, rows)
    px = root / "ordinary_prices_20260105.csv"
    generate_prices(px, rows)
    clean.unlink()
    return [
        ("every text field quoted", quoted, "positions", rows),
        ("blank lines (1 in 1,000, trailing)", blank, "positions", rows),
        ("gzip", gz, "positions", rows),
        ("transactions", tx, "transactions", rows),
        ("prices", px, "prices", rows),
    ]


def plain_polars_sqlite(path: Path, db_path: Path) -> tuple[int, int]:
    """The reference: polars reads, the same checks as expressions, valid rows into SQLite, rejects counted.

    What a careful engineer writes without portico: one read, vectorised checks (canonical decimal, ISIN
    format and check digit, ISO currency, real date, no control character in a text value, duplicate
    keys), one executemany in one transaction. Returns (loaded, rejected).
    """
    import sqlite3

    import polars as pl

    from portico.jobs._records import isin_is_valid
    from portico.models._iso import CURRENCY_CODES

    df = pl.read_csv(path, separator="|", infer_schema=False)
    isins = df["isin"].unique().to_list()
    good_isins = [v for v in isins if v is not None and isin_is_valid(v)]
    decimal = r"^-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,12})?$"
    checked = df.with_columns(pl.int_range(2, df.height + 2).alias("line")).with_columns(
        (
            pl.col("account").str.len_chars().is_between(1, 256)
            & pl.col("symbol").str.len_chars().is_between(1, 256)
            & pl.col("isin").is_in(good_isins)
            & pl.col("quantity").str.contains(decimal)
            & pl.col("price").str.contains(decimal)
            & ~pl.col("price").str.starts_with("-")
            & pl.col("currency").is_in(sorted(CURRENCY_CODES))
            & pl.col("date").str.to_date("%Y-%m-%d", strict=False).is_not_null()
            # portico rejects a value holding a control character (C0, DEL, C1): so does the reference
            & ~pl.any_horizontal([pl.col(c).str.contains(r"[\x00-\x1F\x7F-\x{9F}]") for c in df.columns])
            & ~pl.struct("account", "isin", "date").is_duplicated()
        )
        .fill_null(False)
        .alias("ok")
    )
    good = checked.filter("ok").select(
        "line", "account", "isin", "symbol", "quantity", "price", "currency", "date"
    )
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(
            "CREATE TABLE IF NOT EXISTS positions (line INTEGER, account TEXT, isin TEXT, symbol TEXT, quantity TEXT, price TEXT, currency TEXT, date TEXT)"
        )
        con.execute("BEGIN")
        con.executemany("INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", good.rows())
        con.execute("COMMIT")
    finally:
        con.close()
    return good.height, df.height - good.height


def _import(path: Path, home: Path, data_type: str = "positions") -> dict[str, object]:
    from portico.clock import system_clock
    from portico.jobs import DataImporter
    from portico.jobs._registry import collect
    from portico.store import Database

    formats, sinks, _ = collect(None)
    db = Database(f"sqlite:///{home / 'bench.db'}")
    importer = DataImporter(db=db, clock=system_clock, formats=formats, sinks=sinks, home=home)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = importer.import_file(path, data_type)
    elapsed = time.perf_counter() - t0
    db.dispose()
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
    parser.add_argument("--ordinary-rows", type=int, default=500_000)
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

    targets: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["PORTICO_HOME"] = str(home)
        path = home / "positions_20260105.psv"
        t0 = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s"
        )

        t0 = time.perf_counter()
        c0 = time.process_time()
        raw = pl.read_csv(path, separator="|", infer_schema=False)
        raw_s = time.perf_counter() - t0
        raw_cpu = time.process_time() - c0
        assert raw.height == args.rows
        del raw

        # warm both pipelines on a small file first (module imports, first-use setup): the figures
        # below are throughput, which a process importing files daily pays no import time in
        warm = home / "warm_20260104.psv"
        generate(warm, 1000)
        plain_polars_sqlite(warm, home / "warm.db")
        _import(warm, home)

        t0 = time.perf_counter()
        c0 = time.process_time()
        ref_loaded, ref_rejected = plain_polars_sqlite(path, home / "reference.db")
        ref_s = time.perf_counter() - t0
        ref_cpu = time.process_time() - c0
        if ref_loaded != args.rows:
            raise SystemExit(
                f"the reference pipeline loaded {ref_loaded} of {args.rows} rows ({ref_rejected} rejected)"
            )

        figures = _import(path, home)
        if figures["status"] != "loaded" or figures["loaded"] != args.rows:
            raise SystemExit(f"import did not load every row: {figures}")
        imp_s = float(figures["seconds"])  # type: ignore[arg-type]
        imp_cpu = float(figures["cpu_seconds"])  # type: ignore[arg-type]
        load = os.getloadavg()[0]
        print(
            f"machine             {os.cpu_count()} CPUs, load average {load:.1f} (figures are wall clock; CPU seconds beside)"
        )
        print(
            f"raw polars read     {args.rows / raw_s:>12,.0f} rows/s  ({raw_s:.2f}s wall, {raw_cpu:.2f}s CPU)"
        )
        print(
            f"polars -> SQLite    {args.rows / ref_s:>12,.0f} rows/s  ({ref_s:.2f}s wall, {ref_cpu:.2f}s CPU; same checks, one executemany)"
        )
        print(
            f"portico import      {args.rows / imp_s:>12,.0f} rows/s  ({imp_s:.2f}s wall, {imp_cpu:.2f}s CPU, columnar={figures['fast_path']})"
        )
        print(
            f"  per CPU second    {args.rows / imp_cpu:>12,.0f} rows/s  (what an otherwise idle core sustains)"
        )
        print(f"ratio import/raw    {raw_s / imp_s:>12.3f}  (raw read is {imp_s / raw_s:.1f}x faster)")
        print(
            f"ratio import/ref    {ref_s / imp_s:>12.3f}  wall, {ref_cpu / imp_cpu:.3f} CPU  (above 1: portico is faster)"
        )
        print(f"stages (s)          {figures['stages']}")
        rate = args.rows / imp_s
        targets.append(
            f"TARGET import_positions clean: >= 300,000 rows/s for {args.rows:,} clean rows: {rate:,.0f} rows/s ({args.rows / imp_cpu:,.0f} per CPU s) {'met' if rate >= 300_000 else 'missed'}"
        )
        ratio = ref_s / imp_s
        targets.append(
            f"TARGET import_positions vs polars->SQLite: portico faster in the same run: {ratio:.2f}x wall ({ref_cpu / imp_cpu:.2f}x CPU) {'met' if ratio > 1 else 'missed'}"
        )
        path.unlink()

        if args.ordinary_rows:
            print(f"\nordinary files, {args.ordinary_rows:,} records each")
            for label, file, data_type, records in _ordinary_files(home, args.ordinary_rows):
                got = _import(file, home, data_type)
                if got["status"] != "loaded" or got["loaded"] != records:
                    raise SystemExit(f"{label}: import did not load every row: {got}")
                seconds, cpu = float(got["seconds"]), float(got["cpu_seconds"])  # type: ignore[arg-type]
                rate = records / seconds
                print(
                    f"  {label:<36} {rate:>10,.0f} rows/s  ({seconds:.2f}s wall, {cpu:.2f}s CPU, {records / cpu:,.0f} per CPU s, columnar={got['fast_path']})"
                )
                targets.append(
                    f"TARGET import_positions {label}: >= 200,000 rows/s: {rate:,.0f} rows/s ({records / cpu:,.0f} per CPU s) {'met' if rate >= 200_000 else 'missed'}"
                )
                file.unlink()

    if args.rss_rows:
        targets.append(_rss_target(args.rss_rows))
    print()
    for line in targets:
        print(line)


def _rss_target(rows: int) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.import_positions", "--generate-rss", str(rows)],
        capture_output=True,
        text=True,
        check=False,
    )
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()
    try:
        child = json.loads(line)
    except ValueError:
        print(f"RSS run failed: {line[-2000:]}")
        return f"TARGET import_positions peak RSS: < 400 MB for {rows:,} rows: the run failed, missed"
    rate = child["records"] / child["seconds"]
    print(
        f"{rows:,}-row import: peak RSS {child['peak_rss_mb']:.0f} MB, {rate:,.0f} rows/s wall ({child['records'] / child['cpu_seconds']:,.0f} per CPU second), status {child['status']}"
    )
    rss = child["peak_rss_mb"]
    met = rss < 400 and child["status"] == "loaded"
    return f"TARGET import_positions peak RSS: < 400 MB for {rows:,} rows: {rss:.0f} MB {'met' if met else 'missed'}"


if __name__ == "__main__":
    main()
