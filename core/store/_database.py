"""The embedded database (SQLite by default) and the engine URL that moves it to PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.home import make_private, portico_home, private_file
from portico.store._prepared import PreparedStatements

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["Database", "default_database_url", "metadata"]

_DDL_LOCK = 0x706F7274  # the advisory lock key portico's table creation takes on PostgreSQL ("port")


def default_database_url() -> str:
    """``sqlite:///$PORTICO_HOME/portico.db``."""
    return f"sqlite:///{portico_home() / 'portico.db'}"


_metadata: Any = None


def metadata() -> sa.MetaData:
    """The one MetaData every subsystem declares its tables on (imported lazily: SQLAlchemy is slow to import)."""
    global _metadata
    if _metadata is None:
        import sqlalchemy as sa

        _metadata = sa.MetaData()
    return _metadata


class Database:
    """One SQLAlchemy engine over the embedded store.

    SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, so several processes (the
    runtime, a CLI command, a crashed-and-restarted job) share the file safely. Pass a PostgreSQL URL
    (``postgresql+psycopg://...``) to run the same tables on a shared server.

    Args:
        url: a SQLAlchemy URL; default: the SQLite file under ``PORTICO_HOME``.
    """

    def __init__(self, url: str | None = None) -> None:
        import sqlalchemy as sa

        self.url = url or default_database_url()
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            # SQLAlchemy's own parse: "sqlite://" (in memory) has no database, and must not become a
            # file named "sqlite:" in the working directory
            path = sa.engine.make_url(self.url).database or ""
            if path and path != ":memory:" and not path.startswith("file:"):
                # SQLite creates the file 0644 and gives its -wal, -shm and -journal files the same mode:
                # the database holds the audit log and order reject reasons, so it is created 0600 first.
                db_file = private_file(Path(path))
                for suffix in ("-wal", "-shm", "-journal"):
                    make_private(db_file.with_name(db_file.name + suffix))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: sa.Engine = sa.create_engine(self.url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._created: set[str] = set()
        self._lock = threading.Lock()
        # A file-backed SQLite store keeps one connection per thread between transactions: checking a
        # connection out of the pool and back in cost about a third of a short transaction on the
        # order path. Nothing else changes: each transaction still begins and commits on its own
        # (same journal mode and synchronous level, so the same durability), and a transaction
        # begun inside another on the same thread takes a pooled connection, as before.
        # PostgreSQL keeps the pool (its pre-ping notices a server that dropped the connection).
        self._held = threading.local() if self.is_sqlite and _file_backed(self.url) else None
        self._held_all: list[sa.Connection] = []
        self._prepared = PreparedStatements(self.engine)

    def ensure_tables(self, *tables: sa.Table) -> None:
        """Create the given tables if they do not exist yet (idempotent, cheap after the first call)."""
        todo = [t for t in tables if t.name not in self._created]
        if not todo:
            return
        with self._lock:
            if self.engine.dialect.name == "postgresql":
                import sqlalchemy as sa

                # processes starting together on one database: CREATE TABLE races on PostgreSQL's catalog
                # (a duplicate key in pg_type), so one creates under a lock and the others find the tables
                with self.engine.begin() as conn:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
                    metadata().create_all(conn, tables=todo, checkfirst=True)
            else:
                metadata().create_all(self.engine, tables=todo, checkfirst=True)
            self._created.update(t.name for t in todo)

    def ensure_column(self, table: sa.Table, name: str) -> None:
        """Add column ``name`` of ``table`` to a database created before the column existed.

        ``create_all`` creates missing tables only; a store written by an older portico keeps its old
        columns. The column must be nullable (old rows get NULL). Checked once per table and column.
        """
        key = f"{table.name}.{name}"
        if key in self._created:
            return
        import sqlalchemy as sa

        with self._lock:
            present = {c["name"] for c in sa.inspect(self.engine).get_columns(table.name)}
            if name not in present:
                column = table.c[name]
                kind = column.type.compile(dialect=self.engine.dialect)
                with self.engine.begin() as conn:
                    conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{name}" {kind}'))
            self._created.add(key)

    @contextlib.contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection inside one transaction, committed on success and rolled back on error."""
        held = self._held
        if held is None or getattr(held, "busy", False):
            with self.engine.begin() as conn:
                yield conn
            return
        kept: sa.Connection | None = getattr(held, "conn", None)
        if kept is not None and not (kept.closed or kept.invalidated) and held.pid == os.getpid():
            conn = kept
        else:
            # a forked child does not reuse the connection its parent's thread held open
            conn = held.conn = self.engine.connect()
            held.pid = os.getpid()
            with self._lock:
                self._held_all.append(conn)
        held.busy = True
        try:
            # listeners see every begin and commit (SQLAlchemy's private flags: unknown means watched)
            if getattr(conn, "_has_events", True) or getattr(self.engine, "_has_events", True):
                with conn.begin():
                    yield conn
                return
            # SQLAlchemy's Transaction object cost a tenth of the order path's calls; the DB-API
            # connection's own commit is the same commit (pysqlite begins before the first write)
            raw = conn.connection.dbapi_connection
            try:
                yield conn
            except BaseException:
                self._end(conn, raw, commit=False)
                raise
            self._end(conn, raw, commit=True)
        finally:
            held.busy = False

    def _end(self, conn: sa.Connection, raw: Any, *, commit: bool) -> None:
        """Commit or roll back a held connection's transaction."""
        if conn.in_transaction():  # a statement ran through SQLAlchemy, which began its own transaction
            if commit:
                conn.commit()
            else:
                conn.rollback()
            return
        if not commit and conn.closed:
            return  # disposed while the transaction was open (a generator closed late): nothing to undo
        try:
            if commit:
                raw.commit()
            else:
                raw.rollback()
        except self._prepared.dbapi_error as exc:
            if commit:
                with contextlib.suppress(Exception):
                    raw.rollback()
            raise self._prepared.wrapped(exc, "COMMIT" if commit else "ROLLBACK", []) from exc

    def execute(self, conn: sa.Connection, statement: Any, params: Mapping[str, Any]) -> Any:
        """Run a statement built once (a hot path's) inside ``conn``'s transaction, compiled once per set
        of parameter names (:class:`~portico.store._prepared.PreparedStatements`)."""
        return self._prepared.execute(conn, statement, params)

    def dispose(self) -> None:
        """Close every pooled connection (and those held by threads between transactions)."""
        with self._lock:
            held, self._held_all = self._held_all, []
        for conn in held:
            with contextlib.suppress(Exception):
                conn.close()
        self.engine.dispose()

    def __repr__(self) -> str:
        from sqlalchemy.engine import make_url

        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"


def _file_backed(url: str) -> bool:
    """Whether a SQLite URL names a file (an in-memory database is one connection per thread already)."""
    from sqlalchemy.engine import make_url

    path = make_url(url).database or ""
    return bool(path) and path != ":memory:" and "mode=memory" not in path


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # 16 KiB pages for a new file (an existing one keeps its own; in WAL mode the size is fixed once
    # the file exists): bulk loads insert about 10-15% cheaper and checkpoint about half as much as
    # with the default 4 KiB
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
