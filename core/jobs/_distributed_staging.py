"""The staging side of a distributed import: its tables (the planned imports, their chunks, the staged
rows) and the sink a worker's chunk is loaded into, so nothing it accepts is visible before the merge."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from portico.jobs._sinks import LoadContext
from portico.jobs._tables import job_tables
from portico.store import metadata

if TYPE_CHECKING:
    import sqlalchemy as sa


__all__ = ["StagingSink", "distributed_tables"]

_STAGING = "staging:"


def distributed_tables() -> dict[str, sa.Table]:
    """``portico_import_distributed`` (one row per planned import), its chunks, and the staged rows."""
    import sqlalchemy as sa

    md = metadata()
    if "portico_import_distributed" in md.tables:
        return {
            "imports": md.tables["portico_import_distributed"],
            "chunks": md.tables["portico_import_chunks"],
            "staged": md.tables["portico_import_staged"],
        }
    imports = sa.Table(
        "portico_import_distributed",
        md,
        sa.Column("import_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("data_type", sa.String(64), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("source_key", sa.String(512), nullable=False),
        sa.Column("destination", sa.String(512), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("load_id", sa.String(64)),
        sa.Column("manifest", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    chunks = sa.Table(
        "portico_import_chunks",
        md,
        sa.Column("import_id", sa.String(64), primary_key=True),
        sa.Column("chunk_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("byte_start", sa.BigInteger, nullable=False),
        sa.Column("byte_end", sa.BigInteger, nullable=False),
        sa.Column("first_line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(128)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("load_id", sa.String(64)),
        sa.Column("error", sa.Text),
    )
    staged = sa.Table(
        "portico_import_staged",
        md,
        sa.Column("import_id", sa.String(64), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("chunk_no", sa.Integer, nullable=False),
        sa.Column("row", sa.Text, nullable=False),
    )
    return {"imports": imports, "chunks": chunks, "staged": staged}


class StagingSink:
    """The destination ``staging:<import_id>:<chunk_no>:<line offset>``: accepted rows kept aside until the merge."""

    name = "staging"

    def matches(self, destination: str) -> bool:
        return destination.startswith(_STAGING)

    def open(self, ctx: LoadContext) -> _StagingSession:
        return _StagingSession(ctx)


class _StagingSession:
    # a chunk is no run of its own: the merge records the import's one run, in the load's commit
    records_run = False

    def __init__(self, ctx: LoadContext) -> None:
        # staging:<import_id>:<chunk_no>:<line offset of the chunk in the original file>
        _, import_id, chunk_no, offset = ctx.destination.split(":", 3)
        self.ctx = ctx
        self.import_id = import_id
        self.chunk_no = int(chunk_no)
        self.offset = int(offset)
        self.tables = distributed_tables()
        self.count = 0

    def back_out(self, previous_load_id: str) -> None:
        staged = self.tables["staged"]
        self.ctx.conn.execute(
            staged.delete().where(staged.c.import_id == self.import_id, staged.c.chunk_no == self.chunk_no)
        )

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        if not rows:
            return
        raw = self.ctx.conn.connection.driver_connection
        if raw is not None and type(raw).__module__.startswith("psycopg"):
            # COPY into the staging table (the importer's transaction, on its connection): the chunk's
            # rows in one stream, not batches of INSERT statements the server parses and plans
            staged = self.tables["staged"]
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {staged.name} (import_id, line, chunk_no, row) FROM STDIN") as copy,
            ):
                for line, row in zip(lines, rows, strict=True):
                    copy.write_row((self.import_id, line + self.offset, self.chunk_no, json.dumps(list(row))))
            self.count += len(rows)
            return
        self.ctx.conn.execute(
            self.tables["staged"].insert(),
            [
                {
                    "import_id": self.import_id,
                    "line": line + self.offset,
                    "chunk_no": self.chunk_no,
                    "row": json.dumps(list(row)),
                }
                for line, row in zip(lines, rows, strict=True)
            ],
        )
        self.count += len(rows)

    def loaded_count(self) -> int:
        import sqlalchemy as sa

        staged = self.tables["staged"]
        return int(
            self.ctx.conn.execute(
                sa.select(sa.func.count())
                .select_from(staged)
                .where(staged.c.import_id == self.import_id, staged.c.chunk_no == self.chunk_no)
            ).scalar_one()
        )

    def loaded_sums(self, fields: Sequence[str]) -> dict[str, Any]:
        import sqlalchemy as sa

        from portico.jobs._sinks import exact_sum

        staged = self.tables["staged"]
        positions = [self.ctx.rt.fields.index(f) for f in fields]
        totals = {f: exact_sum([]) for f in fields}
        if self.ctx.conn.dialect.name == "postgresql" and fields:
            # summed where the rows are (numeric is exact): reading the chunk back to parse it here took
            # a third of a worker's time
            sums = ", ".join(f"sum((row::jsonb ->> {pos})::numeric)" for pos in positions)
            found = self.ctx.conn.execute(
                sa.text(
                    f"SELECT {sums} FROM {staged.name} WHERE import_id = :import_id AND chunk_no = :chunk_no"
                ),
                {"import_id": self.import_id, "chunk_no": self.chunk_no},
            ).one()
            return {
                f: exact_sum([], value) if value is not None else totals[f]
                for f, value in zip(fields, found, strict=True)
            }
        rows = self.ctx.conn.execute(
            sa.select(staged.c.row).where(
                staged.c.import_id == self.import_id, staged.c.chunk_no == self.chunk_no
            )
        ).scalars()
        values: dict[str, list[str]] = {f: [] for f in fields}
        for raw in rows:
            row = json.loads(raw)
            for f, pos in zip(fields, positions, strict=True):
                if row[pos] is not None:
                    values[f].append(row[pos])
        for f in fields:
            totals[f] = exact_sum(values[f])
        return totals

    def commit(self) -> None:
        # inside the importer's transaction, after its rejects and quarantine were written: their lines
        # become the original file's, and the chunk is staged in the same commit
        tables = job_tables()
        chunks = self.tables["chunks"]
        conn = self.ctx.conn
        if self.offset:
            for name in ("rejects", "dlq"):
                table = tables[name]
                conn.execute(
                    table.update()
                    .where(table.c.load_id == self.ctx.load_id, table.c.line.is_not(None))
                    .values(line=table.c.line + self.offset)
                )
        conn.execute(
            chunks.update()
            .where(chunks.c.import_id == self.import_id, chunks.c.chunk_no == self.chunk_no)
            .values(status="staged", load_id=self.ctx.load_id, error=None)
        )

    def abort(self) -> None:
        return None
