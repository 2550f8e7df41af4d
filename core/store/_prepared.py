"""Statements of a hot path compiled once and run on the DB-API cursor (SQLite).

SQLAlchemy caches a statement's compiled form, but every execution still builds an execution
context, its parameters and a result object: on the facade's order path (about 18 short statements
per order) that was three times the time SQLite itself spent running them. :class:`PreparedStatements`
compiles a Core statement once per set of parameter names, keeps its SQL, the order of its
parameters with their bind processors, and its result columns with their result processors, and
runs it with ``cursor.execute`` inside the caller's SQLAlchemy transaction: the same SQL, the same
type conversions, the same transaction (SQLAlchemy commits or rolls it back as before).

It falls back to ``Connection.execute`` whenever the shortcut would not be the same thing: on any
database but SQLite, when the engine or connection has event listeners (tracing, statement counters
see every statement), and for statements with Python-side defaults, ``RETURNING``, expanding or
literal-execute parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["PreparedRow", "PreparedStatements"]

_Processor = Callable[[Any], Any] | None


class PreparedRow:
    """A result row: attribute access (``row.id``), ``row._mapping["id"]`` and ``row[0]``, as a
    SQLAlchemy ``Row`` reads."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int) -> Any:
        return list(self._mapping.values())[index]

    def __len__(self) -> int:
        return len(self._mapping)

    def __repr__(self) -> str:
        return f"PreparedRow({self._mapping!r})"


class _Result:
    """What a prepared statement returned: its rows (read at once) and, for an insert, its key."""

    __slots__ = ("_primary_key", "_rows")

    def __init__(self, rows: list[PreparedRow], primary_key: tuple[Any, ...] | None) -> None:
        self._rows = rows
        self._primary_key = primary_key

    def __iter__(self) -> Iterator[PreparedRow]:
        return iter(self._rows)

    def all(self) -> list[PreparedRow]:
        return list(self._rows)

    def first(self) -> PreparedRow | None:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> PreparedRow | None:
        if len(self._rows) > 1:
            import sqlalchemy as sa

            raise sa.exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> PreparedRow:
        row = self.one_or_none()
        if row is None:
            import sqlalchemy as sa

            raise sa.exc.NoResultFound("No row was found when one was required")
        return row

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    @property
    def inserted_primary_key(self) -> tuple[Any, ...] | None:
        return self._primary_key


class _Compiled:
    """One statement compiled for one set of parameter names."""

    __slots__ = ("binds", "columns", "pk_from_rowid", "pk_keys", "sql")

    def __init__(
        self,
        sql: str,
        binds: list[tuple[str | None, Any, _Processor]],
        columns: list[tuple[str, _Processor]] | None,
        pk_keys: tuple[str, ...] | None,
        pk_from_rowid: bool,
    ) -> None:
        self.sql = sql
        self.binds = binds  # (parameter name or None for a literal, literal value, bind processor)
        self.columns = columns  # (key, result processor) of each result column; None: no rows
        self.pk_keys = pk_keys  # an insert's primary key columns
        self.pk_from_rowid = pk_from_rowid  # its key is the row id SQLite assigned


class PreparedStatements:
    """Compiled forms of the statements a hot path runs, for one engine.

    Args:
        engine: the engine the statements run on; anything but SQLite always falls back.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "sqlite" and engine.dialect.paramstyle == "qmark"
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error if self.enabled else Exception
        # id(statement), parameter names -> compiled form, or None when it must take SQLAlchemy's path;
        # the statement is kept alongside so its id is never reused while the entry lives
        self._cache: dict[tuple[int, frozenset[str]], tuple[Any, _Compiled | None]] = {}
        self._lock = threading.Lock()

    def execute(self, conn: sa.Connection, statement: Any, params: Mapping[str, Any]) -> Any:
        """Run ``statement`` with ``params`` on ``conn`` (inside its transaction); returns a result
        with ``first``/``one``/``one_or_none``/``all``/``scalar_one_or_none``/``inserted_primary_key``."""
        # SQLAlchemy's private listener flags: a release without them takes SQLAlchemy's own path
        if (
            not self.enabled
            or getattr(conn, "_has_events", True)
            or getattr(conn.engine, "_has_events", True)
        ):
            return conn.execute(statement, dict(params))
        key = (id(statement), frozenset(params))
        entry = self._cache.get(key)
        if entry is None:
            entry = (statement, self._compile(statement, key[1]))
            with self._lock:
                self._cache[key] = entry
        compiled = entry[1]
        if compiled is None:
            return conn.execute(statement, dict(params))
        values = [
            (params[name] if name is not None else literal) if proc is None
            else proc(params[name] if name is not None else literal)
            for name, literal, proc in compiled.binds
        ]  # fmt: skip
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            try:
                cursor.execute(compiled.sql, values)
            except self.dbapi_error as exc:
                raise self.wrapped(exc, compiled.sql, values) from exc
            rows: list[PreparedRow] = []
            if compiled.columns is not None:
                columns = compiled.columns
                for raw in cursor.fetchall():
                    rows.append(
                        PreparedRow(
                            {
                                k: (v if proc is None else proc(v))
                                for (k, proc), v in zip(columns, raw, strict=True)
                            }
                        )
                    )
            primary_key: tuple[Any, ...] | None = None
            if compiled.pk_keys is not None:
                primary_key = (
                    (cursor.lastrowid,)
                    if compiled.pk_from_rowid
                    else tuple(params[k] for k in compiled.pk_keys)
                )
        finally:
            cursor.close()
        return _Result(rows, primary_key)

    def wrapped(self, exc: Exception, sql: str, values: list[Any]) -> Exception:
        """A DB-API error as SQLAlchemy raises it (``sa.exc.IntegrityError`` for a taken key...), so
        callers catch the same exceptions on either path."""
        import sqlalchemy as sa

        dialect = self.engine.dialect
        return sa.exc.DBAPIError.instance(sql, values, exc, self.dbapi_error, dialect=dialect)

    def _compile(self, statement: Any, names: frozenset[str]) -> _Compiled | None:
        """The statement's compiled form for these parameter names, or None when only SQLAlchemy's own
        execution does the same thing."""
        dialect = self.engine.dialect
        compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(names))
        if (
            getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
            or getattr(compiled, "effective_returning", None)
            or getattr(compiled, "literal_execute_params", None)
            or getattr(compiled, "post_compile_params", None)
            or compiled.positiontup is None
        ):
            return None
        binds: list[tuple[str | None, Any, _Processor]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding or bind.callable is not None:
                return None
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in names:
                binds.append((name, None, proc))
            elif bind.value is not None or not bind.required:
                binds.append((None, bind.value, proc))
            else:
                return None  # a required parameter not given: let SQLAlchemy raise its own error
        columns: list[tuple[str, _Processor]] | None = None
        if compiled.isinsert or compiled.isupdate or compiled.isdelete:
            pk_keys = None
            pk_from_rowid = False
            if compiled.isinsert:
                pk = list(statement.table.primary_key.columns)
                pk_keys = tuple(c.key for c in pk)
                pk_from_rowid = len(pk) == 1 and pk[0].key not in names
                if pk_from_rowid and not _integer(pk[0]):
                    return None
                if not pk_from_rowid and any(k not in names for k in pk_keys):
                    return None
            return _Compiled(compiled.string, binds, None, pk_keys, pk_from_rowid)
        columns = []
        result_columns = getattr(compiled, "_result_columns", None)
        if result_columns is None:
            return None  # a SQLAlchemy release that no longer has it: its own execution path
        for entry in result_columns:
            type_: Any = entry.type
            columns.append((entry.keyname, type_.dialect_impl(dialect).result_processor(dialect, None)))
        if len({k for k, _ in columns}) != len(columns):
            return None  # two columns of one name: a Row would keep both
        return _Compiled(compiled.string, binds, columns, None, False)


def _integer(column: Any) -> bool:
    import sqlalchemy as sa

    return isinstance(column.type, sa.Integer)
