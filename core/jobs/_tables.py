"""The embedded-store tables of the jobs subsystem: load ledger, rejects, dead-letter queue, job history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.jobs._records import Kind, RecordType
from portico.store import metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["data_table", "ensure_job_tables", "job_tables"]

_tables: dict[str, sa.Table] = {}


def job_tables() -> dict[str, sa.Table]:
    """The jobs subsystem's own tables, declared once on the shared metadata."""
    if _tables:
        return _tables
    import sqlalchemy as sa

    md = metadata()

    def table(name: str, *cols: sa.Column[object] | sa.Index) -> sa.Table:
        return md.tables[name] if name in md.tables else sa.Table(name, md, *cols)

    _tables["loads"] = table(
        "portico_import_loads",
        sa.Column("load_id", sa.String(64), primary_key=True),
        sa.Column("data_type", sa.String(64), nullable=False),
        sa.Column("source_key", sa.String(512), nullable=False),
        sa.Column("destination", sa.String(512), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file", sa.Text),
        sa.Column("mapping", sa.String(128)),
        sa.Column("mapping_version", sa.Integer),
        sa.Column("rows_source", sa.Integer, nullable=False, default=0),
        sa.Column("rows_loaded", sa.Integer, nullable=False, default=0),
        sa.Column("rows_rejected", sa.Integer, nullable=False, default=0),
        sa.Column("rows_quarantined", sa.Integer, nullable=False, default=0),
        sa.Column("run_id", sa.String(64)),
        sa.Column("load_no", sa.Integer, unique=True),
        sa.Column("feed", sa.String(512)),
        sa.Column("superseded_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_portico_import_loads_key", "data_type", "source_key", "destination", "status"),
    )
    loads = _tables["loads"]
    if not any(ix.name == "uq_portico_import_loads_committed" for ix in loads.indexes):
        # at most one committed load per delivery, whatever races happen between processes
        committed = loads.c.status == "committed"
        sa.Index(
            "uq_portico_import_loads_committed",
            loads.c.data_type,
            loads.c.source_key,
            loads.c.destination,
            unique=True,
            sqlite_where=committed,
            postgresql_where=committed,
        )
    # a compact integer per load: the data tables key their rows by it (cheaper than the 32-character id)
    _tables["load_numbers"] = table(
        "portico_import_load_numbers",
        sa.Column("load_no", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("load_id", sa.String(64), nullable=False, unique=True),
    )
    _tables["rejects"] = table(
        "portico_import_rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("load_id", sa.String(64), nullable=False, index=True),
        sa.Column("line", sa.Integer),
        sa.Column("field", sa.String(128)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text),
    )
    _tables["dlq"] = table(
        "portico_dlq",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("load_id", sa.String(64), nullable=False, index=True),
        sa.Column("data_type", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(512), nullable=False),
        sa.Column("source_key", sa.String(512), nullable=False),
        sa.Column("line", sa.Integer),
        sa.Column("field", sa.String(128)),
        sa.Column("value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("mapping", sa.String(128)),
        sa.Column("mapping_version", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    _tables["jobs"] = table(
        "portico_jobs",
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # the configuration (runtime instance) the job belongs to; NULL in stores older than the column
        sa.Column("instance", sa.String(64)),
    )
    _tables["runs"] = table(
        "portico_job_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(128), index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("loaded", sa.Integer, nullable=False, default=0),
        sa.Column("rejected", sa.Integer, nullable=False, default=0),
        sa.Column("quarantined", sa.Integer, nullable=False, default=0),
        sa.Column("manifest", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("owner", sa.String(128)),
    )
    _tables["locks"] = table(
        "portico_job_locks",
        sa.Column("job_id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    _tables["watch"] = table(
        "portico_file_watch",
        sa.Column("watch_id", sa.String(128), primary_key=True),
        sa.Column("period", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("file", sa.Text),
        sa.Column("rows", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    return _tables


def data_table(rt: RecordType) -> sa.Table:
    """The table loaded records of ``rt`` go to: ``load_no``, ``line``, then one column per field.

    Decimals are kept as their exact text, dates as ISO text, booleans as integers.
    """
    import sqlalchemy as sa

    md = metadata()
    shape = tuple((name, kind is Kind.BOOL, name in rt.required) for name, kind in rt.kinds.items())
    known = md.tables.get(rt.table)
    if known is not None:
        if _shape_of(known) == shape:
            return known
        # the same name defined otherwise by another service's plugin (two runtimes in one process):
        # its own table object, so neither service writes the other's columns
        other = _OTHER_SHAPES.get((rt.table, shape))
        if other is None:
            other = _OTHER_SHAPES[(rt.table, shape)] = _build_data_table(rt, sa.MetaData())
        return other
    return _build_data_table(rt, md)


_OTHER_SHAPES: dict[tuple[str, tuple[tuple[str, bool, bool], ...]], Any] = {}
"""Tables of a record type defined otherwise than the first of its name, by table name and columns."""


def _shape_of(table: Any) -> tuple[tuple[str, bool, bool], ...]:
    import sqlalchemy as sa

    return tuple(
        (c.name, isinstance(c.type, sa.Integer), not c.nullable) for c in table.columns if c.name not in ("load_no", "line")
    )


def _build_data_table(rt: RecordType, md: Any) -> sa.Table:
    import sqlalchemy as sa

    cols: list[sa.Column[object] | sa.Index] = [
        sa.Column("load_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),
    ]
    for name, kind in rt.kinds.items():
        cols.append(sa.Column(name, sa.Integer if kind is Kind.BOOL else sa.Text, nullable=name not in rt.required))
    # clustered by (load_no, line): a load's rows sit together, so back-out, read-back and counts touch
    # only that load, and no second index slows the bulk insert (SQLite WITHOUT ROWID)
    return sa.Table(rt.table, md, *cols, sqlite_with_rowid=False)


def ensure_job_tables(db: Database) -> None:
    """Create the jobs tables if missing (and the columns added since a store was created)."""
    db.ensure_tables(*job_tables().values())
    db.ensure_column(job_tables()["jobs"], "instance")
