"""The loading and control-totals stages: one store transaction per load, deduplicated, written in bulk, totals proven."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.jobs._formats import FileRejected, RawChunk
from portico.jobs._import_accounting import _Accounting, _KeyIndex
from portico.jobs._import_result import (
    ControlTotalsMismatch,
    ImportResult,
    Stage,
    _LostRace,
    _plain_decimal,
    _reset_counts,
)
from portico.jobs._import_state import _ImporterState
from portico.jobs._mapping import CompiledMapping
from portico.jobs._readguard import ReadGuard
from portico.jobs._records import RecordType
from portico.jobs._reference_pull import loaded_rows
from portico.jobs._sinks import LoadContext, SinkSession, exact_sum, loaded_sums
from portico.jobs._tables import job_tables
from portico.models import Bar

if TYPE_CHECKING:
    import polars as pl


class _LoadingStages(_ImporterState):
    """Stages of :class:`~portico.jobs._importer.DataImporter` (a mixin: its methods run on the importer)."""

    def _load(
        self,
        result: ImportResult,
        rt: RecordType,
        cm: CompiledMapping,
        chunks: Iterator[RawChunk] | None,
        fast: Any,
        dry_run: bool,
        progress: Callable[[int, int | None], None] | None,
        expected: int | None,
        checksum: str,
        *,
        guard: ReadGuard | None = None,
        fmt: Any = None,
        opts: Mapping[str, Any] | None = None,
    ) -> None:
        import sqlalchemy as sa

        tables = job_tables()
        loads = tables["loads"]
        load_id = uuid.uuid4().hex
        previous: str | None = None
        try:
            with self.db.begin() as conn:
                if not dry_run:
                    # lock the delivery's ledger rows first: a concurrent import of the same delivery waits here
                    prev = conn.execute(
                        sa.select(loads.c.load_id, loads.c.checksum)
                        .where(
                            loads.c.data_type == rt.name,
                            loads.c.source_key == result.source_key,
                            loads.c.destination == result.destination,
                            loads.c.status == "committed",
                        )
                        .with_for_update()
                    ).first()
                    if prev is not None and prev.checksum == checksum:
                        # another process loaded these very bytes while we parsed: nothing to do
                        self._already_loaded(result, checksum)
                        return
                    previous = prev.load_id if prev is not None else None
                acct = _Accounting(self, None if dry_run else conn, result, {"load_id": load_id})
                acct.sums = {f: Decimal(0) for f in rt.sums}
                session: SinkSession | None = None
                if not dry_run:
                    sink = self.sinks.for_destination(result.destination)
                    session = sink.open(
                        LoadContext(
                            load_id=load_id,
                            rt=rt,
                            destination=result.destination,
                            source_key=result.source_key,
                            conn=conn,
                            db=self.db,
                            options=dict(opts or {}),
                            formats=self.formats,
                            market_data=self.market_data,
                            http_transport=self.http_transport,
                        )
                    )
                try:
                    if previous is not None and session is not None:
                        session.back_out(previous)
                        conn.execute(
                            sa.update(loads)
                            .where(loads.c.load_id == previous)
                            .values(status="superseded", superseded_by=load_id)
                        )
                        conn.execute(
                            sa.update(tables["dlq"])
                            .where(tables["dlq"].c.load_id == previous, tables["dlq"].c.status == "open")
                            .values(status="superseded", updated_at=self.clock.now())
                        )
                        result.supersedes = previous
                    # a bulk load allocates millions of short-lived tuples and no cycles: the cyclic GC's
                    # repeated full scans would cost more than the load itself
                    gc_enabled = gc.isenabled()
                    gc.disable()
                    try:
                        trailer = self._process(
                            result, rt, cm, chunks, fast, acct, session, progress, expected, guard, opts
                        )
                    finally:
                        if gc_enabled:
                            gc.enable()
                    if guard is not None:
                        # the rows are written but not committed: loading bytes other than the ones the
                        # checksum (and so the delivery's idempotency) was computed from must load nothing
                        try:
                            guard.verify()
                        except FileRejected:
                            result.stage("parsing").status = "failed"
                            raise
                    acct.flush()
                    self._control_totals(result, rt, acct, session, trailer, fmt)
                    if session is not None:
                        t0 = time.perf_counter()
                        session.commit()
                        result.stage("loading").seconds += time.perf_counter() - t0
                        conn.execute(
                            loads.insert().values(
                                load_id=load_id,
                                data_type=rt.name,
                                source_key=result.source_key,
                                destination=result.destination,
                                checksum=checksum,
                                status="committed",
                                file=result.source,
                                mapping=result.mapping,
                                mapping_version=result.mapping_version,
                                rows_source=result.records,
                                rows_loaded=result.loaded,
                                rows_rejected=result.rejected,
                                rows_quarantined=result.quarantined,
                                run_id=result.run_id,
                                load_no=getattr(session, "load_no", None),
                                feed=result.feed,
                                created_at=self.clock.now(),
                            )
                        )
                        result.load_id = load_id
                        result.status = "loaded" if not (result.rejected or result.quarantined) else "partial"
                        # a sink session may write no run of its own (a distributed import's chunk)
                        if self.record_run is not None and getattr(session, "records_run", True):
                            result.finished_at = self.clock.now().isoformat()
                            result.manifest_path = str(self._manifest_path(result.run_id))
                            self.record_run(conn, result)
                except BaseException:
                    if session is not None:
                        session.abort()
                    raise
        except sa.exc.IntegrityError:
            # the ledger admits one committed load per delivery: a concurrent import committed it first
            if self._lost_race(result, load_id, checksum, previous):
                return
            raise
        result.status = (
            "dry_run" if dry_run else ("loaded" if not (result.rejected or result.quarantined) else "partial")
        )
        if not dry_run:
            self._emit(
                "jobs.load_committed",
                run_id=result.run_id,
                load_id=load_id,
                file=result.source,
                data_type=result.data_type,
            )
        if not dry_run and result.destination == "market_data_service":
            self._hand_to_market_data(rt, load_id)
        if not dry_run:
            for listener in self.committed_listeners:
                listener(result, rt, lambda: loaded_rows(self.db, rt, load_id))

    def _lost_race(self, result: ImportResult, load_id: str, checksum: str, previous: str | None) -> bool:
        """After the ledger refused this load: whether a concurrent import committed the delivery first.

        The same bytes make this run a duplicate, as a sequential re-run would be (returns True);
        different bytes raise :class:`_LostRace` so the caller loads them again as a corrected
        redelivery of the winner's load. Anything else was another integrity error (returns False):
        no committed load, or only the one this load found (``previous``) and was replacing.
        """
        import sqlalchemy as sa

        loads = job_tables()["loads"]
        with self.db.begin() as conn:
            winner = conn.execute(
                sa.select(loads.c.load_id, loads.c.checksum).where(
                    loads.c.data_type == result.data_type,
                    loads.c.source_key == result.source_key,
                    loads.c.destination == result.destination,
                    loads.c.status == "committed",
                )
            ).first()
        if winner is None or winner.load_id in (load_id, previous):
            return False
        _reset_counts(result)
        self._emit(
            "jobs.import_raced",
            severity="info",
            run_id=result.run_id,
            file=result.source,
            winner=winner.load_id,
        )
        if winner.checksum == checksum:
            self._already_loaded(result, checksum)
            return True
        raise _LostRace(winner.load_id)

    @staticmethod
    def _confirmer(
        session: SinkSession | None, rt: RecordType, key_frame: pl.DataFrame
    ) -> Callable[[int, int], bool] | None:
        reader = getattr(session, "key_at", None)
        if reader is None:
            return None

        def confirm(pos: int, earlier_line: int) -> bool:
            earlier = reader(earlier_line, rt.key)
            return earlier is None or tuple(earlier) == key_frame.row(pos)

        return confirm

    def _write_columnar(
        self,
        rt: RecordType,
        good: pl.DataFrame,
        rows: list[tuple[Any, ...]],
        lines: list[int],
        acct: _Accounting,
        session: SinkSession | None,
        keys: _KeyIndex,
        loading: Stage,
    ) -> None:
        """Dedupe, sum and write a chunk whose accepted rows are mostly a polars frame (plus a few row-path rows)."""
        import polars as pl

        fields = list(rt.fields)
        if rows:
            extra = pl.DataFrame(
                [list(lines), *[[r[i] for r in rows] for i in range(len(fields))]],
                schema={"__line": pl.Int64, **{f: good.schema[f] for f in fields}},
                orient="col",
            )
            good = pl.concat([good.select("__line", *fields), extra]).sort("__line")
        else:
            good = good.select("__line", *fields)
        key_frame = good.select([pl.col(k).cast(pl.String) for k in rt.key])
        # the lines as an array: no Python int per row (the index keeps them as int32)
        dups = keys.check(key_frame, good["__line"].to_numpy(), self._confirmer(session, rt, key_frame))
        if dups:
            positions = sorted(dups)
            for pos in positions:
                row = good.row(pos, named=True)
                key = ", ".join(f"{k}={row[k]}" for k in rt.key)
                acct.reject(
                    row["__line"],
                    None,
                    f"duplicate record ({key}) of line {dups[pos]}",
                    {f: row[f] for f in fields},
                )
            good = good.with_row_index("__pos").filter(pl.col("__pos").is_in(positions).not_()).drop("__pos")
        if rt.sums:
            sums = good.select([pl.col(f).cast(_dec(), strict=False).sum() for f in rt.sums]).row(0)
            acct.add_sums(
                {f: (v if v is not None else Decimal(0)) for f, v in zip(rt.sums, sums, strict=True)}
            )
        t0 = time.perf_counter()
        if session is not None:
            writer = getattr(session, "write_frame", None)
            if writer is not None:
                writer(good)
            else:
                session.write(good.select(fields).rows(), good["__line"].to_list())
        loading.seconds += time.perf_counter() - t0
        acct.result.loaded += good.height
        self._emit(
            "jobs.chunk_loaded", severity="debug", run_id=acct.result.run_id, loaded=acct.result.loaded
        )

    def _dedupe_and_write(
        self,
        rt: RecordType,
        rows: list[tuple[Any, ...]],
        lines: list[int],
        acct: _Accounting,
        session: SinkSession | None,
        keys: _KeyIndex,
        loading: Stage,
        sums_for: list[tuple[Any, ...]],
    ) -> None:
        import polars as pl

        fields = rt.fields
        sum_idx = [fields.index(f) for f in rt.sums]
        if rows:
            key_idx = [fields.index(k) for k in rt.key]
            key_frame = pl.DataFrame(
                [[None if r[i] is None else str(r[i]) for r in rows] for i in key_idx],
                schema=[(k, pl.String) for k in rt.key],
                orient="col",
            )
            dups = keys.check(key_frame, lines, self._confirmer(session, rt, key_frame))
            if dups:
                kept_rows, kept_lines = [], []
                sums_ids = {id(r) for r in sums_for}
                for pos, (row, line) in enumerate(zip(rows, lines, strict=True)):
                    if pos in dups:
                        key = ", ".join(f"{k}={row[fields.index(k)]}" for k in rt.key)
                        acct.reject(
                            line,
                            None,
                            f"duplicate record ({key}) of line {dups[pos]}",
                            dict(zip(fields, row, strict=True)),
                        )
                        if id(row) not in sums_ids:
                            # the columnar path already counted this row's sums: take them back out
                            acct.add_sums(
                                {
                                    f: Decimal(row[i]).copy_negate()
                                    for f, i in zip(rt.sums, sum_idx, strict=True)
                                    if row[i] is not None
                                }
                            )
                    else:
                        kept_rows.append(row)
                        kept_lines.append(line)
                kept_ids = {id(k) for k in kept_rows}
                sums_for = [r for r in sums_for if id(r) in kept_ids]
                rows, lines = kept_rows, kept_lines
        if sums_for and sum_idx:
            acct.add_sums(
                {
                    f: exact_sum(r[i] for r in sums_for if r[i] is not None)
                    for f, i in zip(rt.sums, sum_idx, strict=True)
                }
            )
        t0 = time.perf_counter()
        if session is not None:
            session.write(rows, lines)
        loading.seconds += time.perf_counter() - t0
        acct.result.loaded += len(rows)
        self._emit(
            "jobs.chunk_loaded", severity="debug", run_id=acct.result.run_id, loaded=acct.result.loaded
        )

    def _control_totals(
        self,
        result: ImportResult,
        rt: RecordType,
        acct: _Accounting,
        session: SinkSession | None,
        trailer: int | None,
        fmt: Any,
    ) -> None:
        stage = result.stage("control_totals")
        t0 = time.perf_counter()
        stage.status = "failed"
        accounted = result.loaded + result.rejected + result.quarantined
        if result.records == 0:
            self._emit("jobs.file_empty", severity="error", file=result.source, data_type=result.data_type)
            raise FileRejected("no records in the delivery", file=result.source_key)
        if trailer is not None:
            result.stage("file_validation").detail["trailer_count"] = trailer
            if trailer != result.records:
                result.stage("file_validation").status = "failed"
                raise ControlTotalsMismatch(
                    f"trailer says {trailer} records, the file has {result.records}",
                    file=Path(result.source).name,
                )
        if accounted != result.records:
            raise ControlTotalsMismatch(
                f"{result.records} records read but {accounted} accounted for", file=result.source_key
            )
        source_sums = {k: _plain_decimal(v) for k, v in acct.sums.items()}
        totals: dict[str, Any] = {
            "source": {"records": result.records, "accepted": result.loaded, "sums": source_sums},
            "trailer": trailer,
        }
        if session is not None:
            count = session.loaded_count()
            sums = loaded_sums(session, rt.sums)
            totals["loaded"] = {
                "records": count,
                "sums": {k: _plain_decimal(v) for k, v in sums.items()} if sums is not None else None,
            }
            if count != result.loaded:
                raise ControlTotalsMismatch(
                    f"{result.loaded} records accepted but the destination holds {count}",
                    file=result.source_key,
                )
            if sums is not None:
                for k, v in sums.items():
                    # exact on every engine (the sinks sum decimals exactly): any difference is a lost or altered row
                    if v != acct.sums.get(k, Decimal(0)):
                        raise ControlTotalsMismatch(
                            f"sum of {k}: source {acct.sums.get(k)} != loaded {v}", file=result.source_key
                        )
        result.control_totals = totals
        stage.status = "ok"
        stage.seconds = time.perf_counter() - t0

    def _hand_to_market_data(self, rt: RecordType, load_id: str) -> None:
        service = self.market_data
        ingest = getattr(service, "ingest_bars", None)
        if ingest is None or rt.name != "prices":
            return
        import sqlalchemy as sa

        from portico.jobs._tables import data_table

        table = data_table(rt)
        numbers = job_tables()["load_numbers"]
        with self.db.begin() as conn:
            load_no = conn.execute(sa.select(numbers.c.load_no).where(numbers.c.load_id == load_id)).scalar()
            rows = conn.execute(sa.select(table).where(table.c.load_no == load_no)).mappings().all()
        bars = []
        for r in rows:
            close = Decimal(r["close"])
            bars.append(
                Bar(
                    symbol=r["symbol"],
                    timestamp=datetime.fromisoformat(r["date"] + "T00:00:00+00:00"),
                    open=Decimal(r["open"]) if r["open"] else close,
                    high=Decimal(r["high"]) if r["high"] else close,
                    low=Decimal(r["low"]) if r["low"] else close,
                    close=close,
                    volume=Decimal(r["volume"]) if r["volume"] else Decimal(0),
                    currency=r["currency"],
                    source=r["source"],
                )
            )
        try:
            outcome = ingest(bars)
            if hasattr(outcome, "__await__") and self.run_coroutine is not None:
                self.run_coroutine(outcome)
            elif hasattr(outcome, "__await__"):
                import asyncio

                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    asyncio.run(outcome)  # type: ignore[arg-type]
                else:
                    # called from a worker thread of a running loop: hand it to a fresh loop here
                    import threading

                    errors: list[BaseException] = []

                    def runner() -> None:
                        try:
                            asyncio.run(outcome)  # type: ignore[arg-type]
                        except BaseException as exc:
                            errors.append(exc)

                    th = threading.Thread(target=runner)
                    th.start()
                    th.join()
        except Exception as exc:
            # the store holds the load; the service's cache refresh failing must not undo it
            self._emit("jobs.market_data_ingest_failed", severity="warning", error=str(exc), load_id=load_id)


def _dec() -> Any:
    import polars as pl

    return pl.Decimal(38, 12)
