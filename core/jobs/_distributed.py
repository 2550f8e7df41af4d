"""A large delimited import split into chunks that several workers process, committed as one load.

:meth:`DistributedImport.plan` cuts the file (CSV/PSV with a header line) into byte ranges of about
``chunk_rows`` lines each, recorded in ``portico_import_chunks``. Any number of processes then call
:meth:`DistributedImport.work`: each claims a pending chunk with ``FOR UPDATE SKIP LOCKED`` (a lease, so
a chunk of a killed worker is taken over when its owner is gone or its lease ran out), copies the range
with the header into a private temporary file and runs it through the ordinary
:class:`~portico.jobs.DataImporter` (parsing, validation, mapping, rejects, quarantine, control totals)
into a *staging* destination: the accepted rows go to ``portico_import_staged``, the rejected and
quarantined ones to the usual tables with their line numbers in the original file, and the chunk is
marked staged, all in the importer's one transaction. Nothing is visible yet.

When every chunk is staged, one process merges (:meth:`DistributedImport.merge`), in one transaction:
duplicate keys across chunks rejected as the importer rejects them within a file, the staged rows
written to the store under one new load, the chunks' rejects and quarantined records moved onto it, one
committed row in the load ledger for the delivery (replacing an earlier committed load of it, as a
corrected redelivery does), the staging rows deleted. So the per-record accounting holds (every source
record loaded, rejected with its line and reason, or quarantined) and readers see the whole load at once
or not at all; a crash anywhere before that commit leaves no load, and the merge is simply done again.

This module is the coordinator (plan, work, merge, status); the staging tables and sink are in
:mod:`._distributed_staging`, the row merge itself in :mod:`._distributed_merge`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.errors import ConfigurationError
from portico.jobs._distributed_merge import merge_rows_python, merge_rows_sql
from portico.jobs._distributed_staging import _STAGING, StagingSink, distributed_tables
from portico.jobs._records import record_type
from portico.jobs._scheduler import _owner_alive, owner_id
from portico.jobs._sinks import LoadContext, StoreSink
from portico.jobs._tables import data_table, job_tables

if TYPE_CHECKING:
    from portico.jobs._import_result import ImportResult
    from portico.jobs._importer import DataImporter

__all__ = ["DistributedImport", "DistributedResult", "StagingSink", "distributed_tables"]

_FAILED = object()  # a claim that failed an import (its chunk out of attempts) instead of claiming


@dataclass
class DistributedResult:
    """The outcome of a merged distributed import."""

    import_id: str
    status: str
    load_id: str | None = None
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    quarantined: int = 0
    chunks: int = 0
    errors: list[str] = field(default_factory=list)


class DistributedImport:
    """Plans, works on and merges chunked imports in the shared store.

    Args:
        importer: this process's importer (its store is the shared one).
        lease: how long a claimed chunk stays claimed without the owner finishing it.
        max_attempts: a chunk that failed (or killed its worker) this often fails the import.
    """

    def __init__(
        self, importer: DataImporter, *, lease: timedelta = timedelta(minutes=5), max_attempts: int = 3
    ) -> None:
        self.importer = importer
        self.db = importer.db
        self.clock = importer.clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.owner = owner_id()
        self.merge_seconds = 0.0
        self.db.ensure_tables(*distributed_tables().values())
        if not any(isinstance(s, StagingSink) for s in getattr(importer.sinks, "_sinks", [])):
            importer.sinks.add(StagingSink())

    # -- planning ----------------------------------------------------------------------------------

    def plan(
        self,
        path: str | Path,
        data_type: str,
        *,
        chunk_rows: int = 50_000,
        source_key: str | None = None,
        format: str | None = None,
    ) -> str:
        """Register ``path`` as an import of ``chunk_rows``-line chunks; returns its import id.

        Raises:
            ConfigurationError: not a CSV/PSV file, no header line, or a quote character in the file (a
                quoted field may span lines, so line boundaries are not record boundaries).
        """
        path = Path(path)
        rt = record_type(data_type, self.importer.record_types)
        fmt = self.importer.formats.for_path(path, format)
        if fmt.name not in ("csv", "psv"):
            raise ConfigurationError(
                f"{path.name}: a distributed import reads CSV or PSV files, not {fmt.name}", path="format"
            )
        if chunk_rows < 1:
            raise ConfigurationError(f"chunk_rows must be at least 1, got {chunk_rows}", path="chunk_rows")
        digest = hashlib.sha256()
        bounds: list[tuple[int, int, int]] = []
        with path.open("rb") as handle:
            header = handle.readline()
            if not header.strip():
                raise ConfigurationError(f"{path.name}: line 1: expected a header line", path="file")
            digest.update(header)
            position = len(header)
            start, start_line, line, rows = position, 2, 2, 0
            for raw in handle:
                digest.update(raw)
                if b'"' in raw:
                    raise ConfigurationError(
                        f"{path.name}: line {line}: a quote character; a distributed import needs one record per line "
                        "(import the file in one process instead)",
                        path="file",
                    )
                position += len(raw)
                line += 1
                rows += 1
                if rows == chunk_rows:
                    bounds.append((start, position, start_line))
                    start, start_line, rows = position, line, 0
            if rows:
                bounds.append((start, position, start_line))
        tables = distributed_tables()
        import_id = uuid.uuid4().hex
        with self.db.begin() as conn:
            conn.execute(
                tables["imports"]
                .insert()
                .values(
                    import_id=import_id,
                    path=str(path.resolve()),
                    data_type=rt.name,
                    format=fmt.name,
                    source_key=source_key or path.name,
                    destination="store",
                    checksum=digest.hexdigest(),
                    chunks=len(bounds),
                    status="planned",
                    created_at=self.clock.now(),
                )
            )
            if bounds:
                conn.execute(
                    tables["chunks"].insert(),
                    [
                        {
                            "import_id": import_id,
                            "chunk_no": n,
                            "byte_start": s,
                            "byte_end": e,
                            "first_line": first,
                            "status": "pending",
                            "attempts": 0,
                        }
                        for n, (s, e, first) in enumerate(bounds)
                    ],
                )
        return import_id

    # -- working -----------------------------------------------------------------------------------

    def _claim(self, import_id: str | None) -> Any:
        """One chunk claimed for this process (pending, or abandoned by a dead or expired owner), or None."""
        now = self.clock.now()
        # a pending chunk first, one row locked: a claim that locked every candidate made the workers
        # claiming meanwhile skip them all, find nothing, and stop (2 and 3 workers slower than one);
        # then the running chunks, of which those of dead or expired owners are taken over
        for wanted, limit in (("pending", 1), ("running", None)):
            claimed = _FAILED
            while claimed is _FAILED:  # a chunk out of attempts failed its import: look again
                claimed = self._claim_one(import_id, wanted, limit, now)
            if claimed is not None:
                return claimed
        return None

    def _claim_one(self, import_id: str | None, status: str, limit: int | None, now: Any) -> Any:
        import sqlalchemy as sa

        chunks, imports = distributed_tables()["chunks"], distributed_tables()["imports"]
        with self.db.begin() as conn:
            _write_lock(self.db, conn)
            query = (
                sa.select(chunks)
                .join(imports, imports.c.import_id == chunks.c.import_id)
                .where(imports.c.status == "planned", chunks.c.status == status)
                .order_by(chunks.c.import_id, chunks.c.chunk_no)
                .limit(limit)
            )
            if import_id is not None:
                query = query.where(chunks.c.import_id == import_id)
            if not self.db.is_sqlite:
                query = query.with_for_update(of=chunks, skip_locked=True)
            failed = False
            for row in conn.execute(query).mappings():
                if row["status"] == "running":
                    lease_until = row["lease_until"]
                    if lease_until is not None and lease_until.tzinfo is None:
                        lease_until = lease_until.replace(tzinfo=now.tzinfo)
                    if lease_until is not None and lease_until > now and _owner_alive(row["owner"] or ""):
                        continue
                if row["attempts"] >= self.max_attempts:
                    conn.execute(
                        chunks.update()
                        .where(chunks.c.import_id == row["import_id"], chunks.c.chunk_no == row["chunk_no"])
                        .values(status="failed", error=row["error"] or "its worker died on every attempt")
                    )
                    conn.execute(
                        imports.update()
                        .where(imports.c.import_id == row["import_id"])
                        .values(status="failed")
                    )
                    failed = True
                    continue
                won = conn.execute(
                    chunks.update()
                    .where(
                        chunks.c.import_id == row["import_id"],
                        chunks.c.chunk_no == row["chunk_no"],
                        chunks.c.status == row["status"],
                        chunks.c.attempts == row["attempts"],
                    )
                    .values(
                        status="running",
                        owner=self.owner,
                        lease_until=now + self.lease,
                        attempts=row["attempts"] + 1,
                    )
                ).rowcount
                if won:
                    spec = (
                        conn.execute(sa.select(imports).where(imports.c.import_id == row["import_id"]))
                        .mappings()
                        .one()
                    )
                    return {**dict(row), "spec": dict(spec)}
        return _FAILED if failed else None

    def work(self, import_id: str | None = None, *, max_chunks: int | None = None) -> int:
        """Process chunks until none is left to claim (or ``max_chunks`` were done); merges an import
        whose last chunk this process staged. Returns the chunks processed."""
        done = 0
        while max_chunks is None or done < max_chunks:
            claimed = self._claim(import_id)
            if claimed is None:
                break
            self._process(claimed)
            done += 1
            self.merge_if_ready(claimed["import_id"])
        return done

    def _process(self, chunk: dict[str, Any]) -> None:
        spec = chunk["spec"]
        path = Path(spec["path"])
        suffix = path.suffix or f".{spec['format']}"
        fd, name = tempfile.mkstemp(prefix="portico-chunk-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                out.write(src.readline())
                src.seek(chunk["byte_start"])
                out.write(src.read(chunk["byte_end"] - chunk["byte_start"]))
            result = self.importer.import_file(
                name,
                spec["data_type"],
                format=spec["format"],
                destination=f"{_STAGING}{chunk['import_id']}:{chunk['chunk_no']}:{chunk['first_line'] - 2}",
                source_key=f"{spec['source_key']}#{chunk['import_id']}:{chunk['chunk_no']:06d}",
                # a feed of its own: chunk sizes differ, which is no row-count change of the delivery
                feed=f"{_STAGING}{chunk['import_id']}:{chunk['chunk_no']}",
            )
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)
        if result.status == "failed":
            chunks = distributed_tables()["chunks"]
            with self.db.begin() as conn:
                conn.execute(
                    chunks.update()
                    .where(chunks.c.import_id == chunk["import_id"], chunks.c.chunk_no == chunk["chunk_no"])
                    .values(status="pending", owner=None, error=(result.error or "failed")[:2000])
                )

    # -- merging -----------------------------------------------------------------------------------

    def merge_if_ready(self, import_id: str) -> DistributedResult | None:
        """Merge when every chunk is staged; None while chunks are outstanding (or another process merges)."""
        import sqlalchemy as sa

        chunks = distributed_tables()["chunks"]
        with self.db.begin() as conn:
            outstanding = conn.execute(
                sa.select(sa.func.count())
                .select_from(chunks)
                .where(chunks.c.import_id == import_id, chunks.c.status != "staged")
            ).scalar_one()
        if outstanding:
            return None
        return self.merge(import_id)

    def merge(self, import_id: str) -> DistributedResult | None:
        """Commit the staged chunks of ``import_id`` as one load (see the module docstring).

        Returns None when another process holds the merge (it commits it) or a chunk is not staged.
        """
        t0 = time.perf_counter()
        try:
            return self._merge(import_id)
        finally:
            self.merge_seconds += time.perf_counter() - t0

    def _merge(self, import_id: str) -> DistributedResult | None:
        import sqlalchemy as sa

        tables = distributed_tables()
        imports, chunks, staged = tables["imports"], tables["chunks"], tables["staged"]
        jt = job_tables()
        loads, rejects, dlq = jt["loads"], jt["rejects"], jt["dlq"]
        with self.db.begin() as conn:
            data_type = conn.execute(
                sa.select(imports.c.data_type).where(imports.c.import_id == import_id)
            ).scalar_one_or_none()
        if data_type is None:
            return None
        # created outside the merge's transaction (DDL on SQLite would wait for that very transaction)
        self.db.ensure_tables(data_table(record_type(data_type, self.importer.record_types)))
        with self.db.begin() as conn:
            _write_lock(self.db, conn)
            lock = sa.select(imports).where(imports.c.import_id == import_id)
            if not self.db.is_sqlite:
                lock = lock.with_for_update(nowait=False, skip_locked=True)
            spec = conn.execute(lock).mappings().first()
            if spec is None:
                return None
            if spec["status"] != "planned":
                return self.result(import_id)
            chunk_rows = (
                conn.execute(
                    sa.select(chunks).where(chunks.c.import_id == import_id).order_by(chunks.c.chunk_no)
                )
                .mappings()
                .all()
            )
            if any(c["status"] != "staged" for c in chunk_rows):
                return None
            rt = record_type(spec["data_type"], self.importer.record_types)
            chunk_loads = [c["load_id"] for c in chunk_rows]
            prev = conn.execute(
                sa.select(loads.c.load_id, loads.c.checksum)
                .where(
                    loads.c.data_type == rt.name,
                    loads.c.source_key == spec["source_key"],
                    loads.c.destination == "store",
                    loads.c.status == "committed",
                )
                .with_for_update()
            ).first()
            load_id = uuid.uuid4().hex
            now = self.clock.now()
            counts = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(loads.c.rows_source), 0),
                    sa.func.coalesce(sa.func.sum(loads.c.rows_rejected), 0),
                    sa.func.coalesce(sa.func.sum(loads.c.rows_quarantined), 0),
                ).where(loads.c.load_id.in_(chunk_loads))
            ).one()
            records, rejected, quarantined = int(counts[0]), int(counts[1]), int(counts[2])
            if prev is not None and prev.checksum == spec["checksum"]:
                # these very bytes are loaded already (a sequential re-import would be a duplicate)
                conn.execute(staged.delete().where(staged.c.import_id == import_id))
                conn.execute(
                    imports.update()
                    .where(imports.c.import_id == import_id)
                    .values(status="duplicate", load_id=prev.load_id)
                )
                return DistributedResult(import_id, "duplicate", prev.load_id, chunks=len(chunk_rows))
            session = StoreSink().open(
                LoadContext(
                    load_id=load_id,
                    rt=rt,
                    destination="store",
                    source_key=spec["source_key"],
                    conn=conn,
                    db=self.db,
                )
            )
            if prev is not None:
                session.back_out(prev.load_id)
                conn.execute(
                    loads.update()
                    .where(loads.c.load_id == prev.load_id)
                    .values(status="superseded", superseded_by=load_id)
                )
                conn.execute(
                    dlq.update()
                    .where(dlq.c.load_id == prev.load_id, dlq.c.status == "open")
                    .values(status="superseded", updated_at=now)
                )
            if self.db.is_sqlite:
                loaded, duplicates = merge_rows_python(conn, import_id, rt, session, load_id)
            else:
                loaded, duplicates = merge_rows_sql(conn, import_id, rt, session.load_no, load_id)
            rejected += duplicates
            if loaded + rejected + quarantined != records:
                raise RuntimeError(
                    f"distributed import {import_id}: {records} records but {loaded} loaded + {rejected} rejected + {quarantined} quarantined"
                )
            session.commit()
            conn.execute(rejects.update().where(rejects.c.load_id.in_(chunk_loads)).values(load_id=load_id))
            conn.execute(
                dlq.update()
                .where(dlq.c.load_id.in_(chunk_loads))
                .values(load_id=load_id, source_key=spec["source_key"], destination="store")
            )
            conn.execute(
                loads.update()
                .where(loads.c.load_id.in_(chunk_loads))
                .values(status="merged", superseded_by=load_id)
            )
            conn.execute(
                loads.insert().values(
                    load_id=load_id,
                    data_type=rt.name,
                    source_key=spec["source_key"],
                    destination="store",
                    checksum=spec["checksum"],
                    status="committed",
                    file=spec["path"],
                    rows_source=records,
                    rows_loaded=loaded,
                    rows_rejected=rejected,
                    rows_quarantined=quarantined,
                    run_id=import_id,
                    load_no=session.load_no,
                    feed=spec["source_key"],
                    created_at=now,
                )
            )
            conn.execute(staged.delete().where(staged.c.import_id == import_id))
            outcome = DistributedResult(
                import_id,
                "loaded" if not (rejected or quarantined) else "partial",
                load_id,
                records,
                loaded,
                rejected,
                quarantined,
                len(chunk_rows),
            )
            conn.execute(
                imports.update()
                .where(imports.c.import_id == import_id)
                .values(status="committed", load_id=load_id, manifest=json.dumps(outcome.__dict__))
            )
            run = self._run_result(spec, outcome, now)
            if self.importer.record_run is not None:
                # the import's one run in the job history, committed with the load (the chunks wrote none)
                run.manifest_path = str(self.importer._manifest_path(run.run_id))
                self.importer.record_run(conn, run)
        self._after_commit(run)
        return outcome

    def _run_result(self, spec: Any, outcome: DistributedResult, now: Any) -> ImportResult:
        from portico.jobs._import_result import ImportResult

        return ImportResult(
            run_id=outcome.import_id,
            data_type=spec["data_type"],
            source=spec["path"],
            source_key=spec["source_key"],
            destination="store",
            status=outcome.status,
            load_id=outcome.load_id,
            checksum=spec["checksum"],
            format=spec["format"],
            feed=spec["source_key"],
            records=outcome.records,
            loaded=outcome.loaded,
            rejected=outcome.rejected,
            quarantined=outcome.quarantined,
            started_at=_iso(spec["created_at"]),
            finished_at=now.isoformat(),
        )

    def _after_commit(self, run: ImportResult) -> None:
        """The merged import's manifest file and its one ``jobs.import_completed`` (the chunks sent none)."""
        importer = self.importer
        try:
            run.manifest_path = str(importer._write_manifest(run))
        except OSError as exc:
            run.manifest_path = None
            importer._emit(
                "jobs.manifest_failed",
                severity="error",
                run_id=run.run_id,
                file=run.source,
                load_id=run.load_id,
                error=f"manifest not written: {exc}",
            )
        importer._emit(
            "jobs.import_completed",
            severity="warning" if run.status == "partial" else "info",
            run_id=run.run_id,
            file=run.source,
            data_type=run.data_type,
            loaded=run.loaded,
            rejected=run.rejected,
            quarantined=run.quarantined,
            chunks=self._chunks_of(run.run_id),
        )

    def _chunks_of(self, import_id: str) -> int:
        import sqlalchemy as sa

        imports = distributed_tables()["imports"]
        with self.db.begin() as conn:
            return int(
                conn.execute(sa.select(imports.c.chunks).where(imports.c.import_id == import_id)).scalar_one()
            )

    def result(self, import_id: str) -> DistributedResult | None:
        """The merged outcome of ``import_id`` (None while it is not merged)."""
        import sqlalchemy as sa

        imports = distributed_tables()["imports"]
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(imports.c.status, imports.c.manifest, imports.c.load_id).where(
                    imports.c.import_id == import_id
                )
            ).first()
        if row is None or row.status == "planned":
            return None
        if row.manifest:
            return DistributedResult(**json.loads(row.manifest))
        return DistributedResult(import_id, row.status, row.load_id)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives naive datetimes back
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return str(value.isoformat())


def _write_lock(db: Any, conn: Any) -> None:
    """On SQLite, make the transaction a writer from its first statement: a reader that writes later is
    refused at once ("database is locked") when another writer committed meanwhile, where a writer
    from the start waits its turn. PostgreSQL locks rows instead (``FOR UPDATE``)."""
    if db.is_sqlite:
        chunks = distributed_tables()["chunks"]
        conn.execute(chunks.update().where(chunks.c.chunk_no < 0).values(attempts=chunks.c.attempts))
