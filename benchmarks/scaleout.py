"""Scale-out benchmark: one large position file imported by 1, 2 and 3 worker processes on PostgreSQL.

Run: ``.venv/bin/python -m benchmarks.scaleout [--rows 200000] [--chunk-rows 20000] [--postgres URL]``
(default URL: ``PORTICO_TEST_POSTGRES_URL``, else ``postgresql://postgres@127.0.0.1:5432/test``).

For each worker count the file is planned into chunks (:class:`~portico.jobs._distributed.DistributedImport`)
in a fresh database, the workers are started as separate processes; once every one is ready (its
interpreter started and portico imported, as a running ``portico run`` worker is) they are let go
together and the clock runs until the one committed load is in the ledger (the last worker to stage a
chunk merges). Reported: wall seconds, rows/s, the ratio to one worker, CPU seconds per row summed over
the workers (so the parallel work is not hidden by the wall clock), the merge, and the workers' start
(not in the wall: on a loaded machine three interpreters starting at once took longer than the import).

The expected limit on this machine: 2 cores are shared by the workers and PostgreSQL itself (which does
the staging and merge writes), and the merge is one transaction in one process, so 2 workers can at
best approach 2x on the parallel part (about 1.3-1.6x overall), and a third worker adds contention, not
throughput. On separate machines the chunk work scales with the workers until PostgreSQL is the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["main"]


def _worker(url: str, import_id: str) -> None:
    from portico.clock import system_clock
    from portico.jobs import DataImporter
    from portico.jobs._distributed import DistributedImport
    from portico.jobs._registry import collect
    from portico.store import Database

    formats, sinks, _ = collect(None)
    importer = DataImporter(db=Database(url), clock=system_clock, formats=formats, sinks=sinks)
    worker = DistributedImport(importer)
    # a running worker (as `portico run` is): the interpreter's start and imports are not the import's
    # time, so the parent starts the clock once every worker is ready, and then lets them go together
    print("ready", flush=True)
    sys.stdin.readline()
    c0 = time.process_time()
    done = worker.work(import_id)
    print(json.dumps({"chunks": done, "cpu": time.process_time() - c0, "merge": worker.merge_seconds}))


def _database(base: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    scheme = base.split("://", 1)[0]
    url = make_url(base if "+" in scheme else base.replace(f"{scheme}://", "postgresql+psycopg://", 1))
    name = f"bench_scaleout_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), admin


def _drop(url: str, admin: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _run(path: Path, rows: int, chunk_rows: int, workers: int, base: str) -> dict[str, float]:
    import sqlalchemy as sa

    from portico.clock import system_clock
    from portico.jobs import DataImporter
    from portico.jobs._distributed import DistributedImport
    from portico.jobs._registry import collect
    from portico.store import Database

    url, admin = _database(base)
    try:
        formats, sinks, _ = collect(None)
        db = Database(url)
        planner = DistributedImport(DataImporter(db=db, clock=system_clock, formats=formats, sinks=sinks))
        import_id = planner.plan(path, "positions", chunk_rows=chunk_rows)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        s0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.scaleout", "--worker", url, import_id],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(workers)
        ]
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise SystemExit(f"{workers} worker(s): a worker did not start")
        t0 = time.perf_counter()
        startup = t0 - s0
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [json.loads(p.communicate(timeout=1800)[0].strip().splitlines()[-1]) for p in procs]
        wall = time.perf_counter() - t0
        result = planner.result(import_id)
        if result is None or result.loaded != rows:
            raise SystemExit(f"{workers} worker(s): the import did not commit {rows} rows: {result}")
        with db.begin() as conn:
            committed = conn.execute(
                sa.text("SELECT count(*) FROM portico_import_loads WHERE status = 'committed'")
            ).scalar_one()
        if committed != 1:
            raise SystemExit(f"{workers} worker(s): {committed} committed loads, expected 1")
        db.dispose()
        return {
            "wall": wall,
            "rows_per_s": rows / wall,
            "cpu_per_row_us": sum(o["cpu"] for o in outs) / rows * 1e6,
            # the cores the workers actually got (their CPU over the wall): on a shared machine, less than
            # the workers asked for
            "cores": sum(o["cpu"] for o in outs) / wall,
            "chunks": [o["chunks"] for o in outs],
            "merge": max(o["merge"] for o in outs),
            "startup": startup,
        }
    finally:
        _drop(url, admin)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        _worker(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PORTICO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args(argv)
    from benchmarks.import_positions import generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "positions_20260105.psv"
        generate(path, args.rows)
        load = os.getloadavg()[0]
        print(
            f"{args.rows:,} rows in chunks of {args.chunk_rows:,}, PostgreSQL, {os.cpu_count()} cores, "
            f"load average {load:.1f} at the start"
        )
        print(
            f"{'workers':>7}  {'wall s':>8}  {'rows/s':>9}  {'x one':>6}  {'CPU us/row':>10}  {'cores':>5}  "
            f"{'merge s':>7}  {'start s':>7}  chunks"
        )
        base: float | None = None
        figures = {}
        for workers in (1, 2, 3):
            fig = _run(path, args.rows, args.chunk_rows, workers, args.postgres)
            base = base or fig["rows_per_s"]
            figures[workers] = fig
            print(
                f"{workers:>7}  {fig['wall']:>8.2f}  {fig['rows_per_s']:>9,.0f}  {fig['rows_per_s'] / base:>5.2f}x  "
                f"{fig['cpu_per_row_us']:>10.1f}  {fig['cores']:>5.2f}  {fig['merge']:>7.2f}  {fig['startup']:>7.2f}  {fig['chunks']}"
            )
    # the expected limit, from this run's own figures: the merge is serial (one transaction in one
    # process); of the rest, only the workers' own CPU goes parallel with more workers (on at most as many
    # cores as the machine has); the remainder is PostgreSQL's work (the COPY, its index, the commits) and
    # waiting for a core, which more workers on the same cores and the same PostgreSQL do not shorten
    one = figures[1]
    serial = min(one["merge"], one["wall"])
    cores = os.cpu_count() or 1
    own = min(one["cores"] * one["wall"], one["wall"] - serial)
    rest = one["wall"] - serial - own
    ceiling = {n: one["wall"] / (serial + rest + own / min(n, cores)) for n in (2, 3)}
    print(
        f"expected limit: with one worker, of {one['wall']:.1f} s the merge is {serial:.1f} (serial), the "
        f"worker's own CPU {own:.1f} (parallel on at most {cores} cores) and PostgreSQL and waiting for a core "
        f"{rest:.1f} (not shortened by more workers on one machine and one PostgreSQL), so the ceiling is "
        f"{ceiling[2]:.2f}x with 2 workers and {ceiling[3]:.2f}x with 3; on an idle machine the waiting goes and "
        "the ratio approaches 2x for the chunk work; on separate machines it scales until PostgreSQL is the limit"
    )
    flat = figures[3]["cpu_per_row_us"] <= 1.2 * one["cpu_per_row_us"]
    print(
        f"cores: the CPU the workers got over the wall ({one['cores']:.2f} with one worker; load average "
        f"{os.getloadavg()[0]:.1f} on {cores} cores now); CPU per row "
        + (
            "stays within 20% from 1 to 3 workers: where the wall grows, the workers waited for a core"
            if flat
            else f"grows {figures[3]['cpu_per_row_us'] / one['cpu_per_row_us']:.2f}x from 1 to 3 workers: "
            "they contend (locks, retries), not only for cores"
        )
    )
    two = figures[2]["rows_per_s"] / figures[1]["rows_per_s"]
    # the target this machine allows (see the module docstring): 2 workers beat 1, 3 do not fall behind 1
    met = two >= 1.2 and figures[3]["rows_per_s"] >= figures[1]["rows_per_s"]
    three = figures[3]["rows_per_s"] / figures[1]["rows_per_s"]
    print(
        f"TARGET scaleout workers: on 2 cores, 2 workers >= 1.2x one and 3 not below one: "
        f"{two:.2f}x with 2, {three:.2f}x with 3 ({figures[1]['rows_per_s']:,.0f} rows/s with one) "
        f"{'met' if met else 'missed'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
