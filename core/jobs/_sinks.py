"""Where loaded records go. Every destination is a sink plugin (``portico_sinks`` hook).

A sink session lives inside the import's store transaction (``ctx.conn``): the embedded-store sink
writes into it, so data, ledger, rejects and quarantine commit or vanish together. Sinks outside the
store make their own write idempotent (a file is replaced atomically; an HTTP POST carries the load id
as its idempotency key), so a crash between their commit and the store's is repaired by the re-run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

from portico.errors import ConfigurationError, PorticoError
from portico.jobs._records import RecordType
from portico.jobs._scheduler import _owner_alive
from portico.jobs._tables import data_table

if TYPE_CHECKING:
    import polars as pl
    import sqlalchemy as sa

    from portico.store import Database

__all__ = [
    "FileSink",
    "HttpSink",
    "LoadContext",
    "MarketDataSink",
    "Sink",
    "SinkSession",
    "StoreSink",
    "TradingBookSink",
    "atomic_write",
    "exact_sum",
    "file_destination",
    "remove_stale_temp_files",
]

# Loaded values fit 38 digits with 12 decimals and a load has fewer than 10**12 rows: 60 digits sum
# them without rounding, and a trap turns any rounding that still happens into an error, never a wrong total.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation, Overflow])


def exact_sum(values: Iterable[Decimal | str], start: Decimal = Decimal(0)) -> Decimal:
    """The exact sum of decimal values (or their text), added to ``start``.

    Raises:
        decimal.Inexact: the sum needs more than 60 significant digits (never for loadable values).
    """
    with localcontext(_EXACT):
        total: Decimal = sum(map(Decimal, values), start)
    return total


@dataclass
class LoadContext:
    """What a sink session gets: the load, its record type and the open store transaction."""

    load_id: str
    rt: RecordType
    destination: str
    source_key: str
    conn: sa.Connection
    db: Database
    options: Mapping[str, Any] = field(default_factory=dict)
    formats: Any = None
    market_data: Any = None
    http_transport: Any = None


@runtime_checkable
class SinkSession(Protocol):
    """One load into one destination."""

    def back_out(self, previous_load_id: str) -> None:
        """Remove what an earlier load of the same delivery put there (corrected redelivery)."""
        ...

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        """Write accepted rows (values in the record type's field order, storage form)."""
        ...

    def loaded_count(self) -> int:
        """How many rows the destination holds for this load, read back where possible."""
        ...

    def commit(self) -> None:
        """Make the load visible (called just before the store transaction commits)."""
        ...

    def abort(self) -> None:
        """Discard whatever was written."""
        ...


@runtime_checkable
class Sink(Protocol):
    """A destination kind. ``matches`` says whether a destination string is this sink's."""

    name: str

    def matches(self, destination: str) -> bool:
        """Whether ``destination`` (``store``, ``file://...``, ``https://...``) belongs to this sink."""
        ...

    def open(self, ctx: LoadContext) -> SinkSession:
        """Start a load."""
        ...


class StoreSink:
    """The embedded store (SQLite or PostgreSQL): one table per record type, rows tagged with their load."""

    name = "store"

    def matches(self, destination: str) -> bool:
        return destination in ("store", "embedded", "embedded_store", "")

    def open(self, ctx: LoadContext) -> _StoreSession:
        return _StoreSession(ctx)


class _StoreSession:
    def __init__(self, ctx: LoadContext) -> None:
        import sqlalchemy as sa

        from portico.jobs._tables import job_tables

        self.ctx = ctx
        self.table = data_table(ctx.rt)
        ctx.db.ensure_tables(self.table)
        cols = ["load_no", "line", *ctx.rt.fields]
        self._cols = cols
        self._sqlite = ctx.db.is_sqlite
        one = f"({', '.join('?' * len(cols))})"
        self._sql = f"INSERT INTO {self.table.name} ({', '.join(cols)}) VALUES {one}"
        # SQLite allows 32766 parameters per statement (3.32+); stay well below
        self._rows_per_statement = max(1, min(100, 30000 // len(cols)))
        self._multi_sql = f"INSERT INTO {self.table.name} ({', '.join(cols)}) VALUES {', '.join([one] * self._rows_per_statement)}"
        numbers = job_tables()["load_numbers"]
        existing = ctx.conn.execute(sa.select(numbers.c.load_no).where(numbers.c.load_id == ctx.load_id)).scalar()
        if existing is None:
            # allocated inside the load's transaction: a crash or rollback leaves no number behind
            key = ctx.conn.execute(numbers.insert().values(load_id=ctx.load_id)).inserted_primary_key
            assert key is not None
            existing = key[0]
        self.load_no: int = int(existing)
        self._where = self.table.c.load_no == self.load_no

    def back_out(self, previous_load_id: str) -> None:
        import sqlalchemy as sa

        from portico.jobs._tables import job_tables

        numbers = job_tables()["load_numbers"]
        previous = self.ctx.conn.execute(sa.select(numbers.c.load_no).where(numbers.c.load_id == previous_load_id)).scalar()
        if previous is not None:
            self.ctx.conn.execute(self.table.delete().where(self.table.c.load_no == previous))

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        if not rows:
            return
        load_no = self.load_no
        if self._sqlite:
            # the DB-API executemany inside the open transaction: the fast path for big files
            cursor = self.ctx.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(self._sql, [(load_no, ln, *r) for ln, r in zip(lines, rows, strict=True)])
            cursor.close()
        elif not self._copy([(load_no, ln, *r) for ln, r in zip(lines, rows, strict=True)]):
            self.ctx.conn.execute(
                self.table.insert(),
                [dict(zip(self._cols, (load_no, ln, *r), strict=True)) for ln, r in zip(lines, rows, strict=True)],
            )

    def write_frame(self, frame: Any) -> None:
        """Write a polars frame of ``__line`` plus the fields (the columnar path): no per-row Python objects."""
        import polars as pl

        if frame.height == 0:
            return
        if self._sqlite:
            # the parameters as one flat list, filled a column at a time (Series.to_list, then a
            # strided slice assignment): no tuple per row, and the load number is one shared object.
            # Statements of many rows each save SQLite's per-statement work; a statement takes a
            # slice of the list as its parameters
            columns = [frame["__line"], *[frame[f] for f in self.ctx.rt.fields]]
            width = len(columns) + 1
            n = frame.height
            flat: list[Any] = [self.load_no] * (n * width)
            for j, series in enumerate(columns, start=1):
                flat[j::width] = series.to_list()
            step = self._rows_per_statement * width
            full = n // self._rows_per_statement * step
            cursor = self.ctx.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                if full:
                    cursor.executemany(self._multi_sql, [flat[i : i + step] for i in range(0, full, step)])
                if full < len(flat):
                    cursor.executemany(self._sql, [flat[i : i + width] for i in range(full, len(flat), width)])
            finally:
                cursor.close()
            return
        ordered = frame.select(pl.lit(self.load_no, dtype=pl.Int64).alias("load_no"), pl.col("__line").alias("line"), *[pl.col(f) for f in self.ctx.rt.fields])
        if not self._copy(ordered):
            self.ctx.conn.execute(self.table.insert(), ordered.rows(named=True))

    def _copy(self, rows: Sequence[tuple[Any, ...]] | pl.DataFrame) -> bool:
        """PostgreSQL's bulk path: the rows through ``COPY ... FROM STDIN`` inside the load's transaction.

        A polars frame (the columnar path, columns in table order) goes as CSV text that polars writes
        natively, with no Python object per value: every text value quoted (so an empty string stays
        one, and a lone ``\\.`` is data), a null as an unquoted empty field, which COPY reads as NULL.

        False (nothing written) when the driver is not psycopg 3, whose ``cursor.copy`` this needs.
        """
        raw: Any = self.ctx.conn.connection.driver_connection
        if not type(raw).__module__.startswith("psycopg") or not hasattr(raw, "cursor"):
            return False
        quote = self.ctx.conn.dialect.identifier_preparer.quote
        columns = ", ".join(quote(c) for c in self._cols)
        target = f"COPY {quote(self.table.name)} ({columns}) FROM STDIN"
        if not isinstance(rows, Sequence):
            text = rows.write_csv(include_header=False, quote_style="non_numeric", line_terminator="\n")
            with raw.cursor() as cursor, cursor.copy(f"{target} (FORMAT csv)") as copy:
                copy.write(text)
            return True
        with raw.cursor() as cursor, cursor.copy(target) as copy:
            for row in rows:
                copy.write_row(row)
        return True

    def key_at(self, line: int, key: Sequence[str]) -> tuple[Any, ...] | None:
        """The key values of the record this load wrote from ``line`` (to confirm a duplicate)."""
        import sqlalchemy as sa

        row = self.ctx.conn.execute(
            sa.select(*[self.table.c[k] for k in key]).where(self._where, self.table.c.line == line)
        ).first()
        return None if row is None else tuple(None if v is None else str(v) for v in row)

    def loaded_count(self) -> int:
        import sqlalchemy as sa

        return int(
            self.ctx.conn.execute(
                sa.select(sa.func.count()).select_from(self.table).where(self._where)
            ).scalar_one()
        )

    def loaded_sums(self, fields: Sequence[str]) -> dict[str, Decimal]:
        """Exact sums of decimal fields as stored.

        PostgreSQL sums exactly as NUMERIC. SQLite has no decimal type (its SUM is a double, off by
        rounding over many rows), so the stored text is read back and summed as :class:`Decimal`.
        """
        import sqlalchemy as sa

        if not fields:
            return {}
        if not self._sqlite:
            stmt = sa.select(*[sa.func.sum(sa.cast(self.table.c[f], sa.Numeric)) for f in fields]).where(self._where)
            row = self.ctx.conn.execute(stmt).one()
            return {f: Decimal(v or 0) for f, v in zip(fields, row, strict=True)}
        in_sql = self._sqlite_sums(fields)
        if in_sql is not None:
            return in_sql
        totals = [Decimal(0)] * len(fields)
        cursor = self.ctx.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT {', '.join(fields)} FROM {self.table.name} WHERE load_no = ?", (self.load_no,))
            while batch := cursor.fetchmany(10_000):
                for i in range(len(fields)):
                    totals[i] = exact_sum((r[i] for r in batch if r[i] is not None), totals[i])
        finally:
            cursor.close()
        return dict(zip(fields, totals, strict=True))

    def _sqlite_sums(self, fields: Sequence[str]) -> dict[str, Decimal] | None:
        """The exact sums computed inside SQLite, as 64-bit integers: whole parts and 12-digit fractions apart.

        Every value must be plain decimal text (what the loaders store: ``-12.5``, never ``1E+3``) under
        10^18 with at most 12 decimals, and neither sum may overflow; otherwise None, and the caller
        reads the values back and sums them as Decimal (always exact, slower).
        """
        import sqlite3

        parts: list[str] = []
        for f in fields:
            dot = f"instr({f}, '.')"
            # CAST(text AS INTEGER) reads the leading whole part (clamping past 64 bits: such rows are odd)
            odd = (
                f"{f} IS NOT NULL AND ({f} GLOB '*[^0-9.-]*' OR abs(CAST({f} AS REAL)) >= 1e18 "
                f"OR ({dot} > 0 AND length({f}) - {dot} > 12))"
            )
            sign = f"(CASE WHEN substr({f}, 1, 1) = '-' THEN -1 ELSE 1 END)"
            fraction = f"CAST(substr(substr({f}, {dot} + 1) || '000000000000', 1, 12) AS INTEGER)"
            parts += [
                f"SUM(CASE WHEN {odd} THEN 1 ELSE 0 END)",
                f"SUM(CAST({f} AS INTEGER))",
                f"SUM(CASE WHEN {dot} > 0 THEN {sign} * {fraction} ELSE 0 END)",
            ]
        cursor = self.ctx.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT {', '.join(parts)} FROM {self.table.name} WHERE load_no = ?", (self.load_no,))
            row = cursor.fetchone()
        except sqlite3.OperationalError:  # integer overflow: sum them as Decimal instead
            return None
        finally:
            cursor.close()
        out: dict[str, Decimal] = {}
        for i, f in enumerate(fields):
            odd_rows, whole_sum, frac_sum = row[3 * i : 3 * i + 3]
            if odd_rows:
                return None
            out[f] = exact_sum((Decimal(whole_sum or 0), Decimal(frac_sum or 0).scaleb(-12)))
        return out

    def commit(self) -> None:
        return None

    def abort(self) -> None:
        return None


def file_destination(destination: str) -> Path:
    """The local path of a ``file://`` destination (relative paths resolve against the working directory)."""
    parsed = urlparse(destination)
    if parsed.scheme != "file":
        raise ConfigurationError(f"not a file:// destination: {destination!r}", path="destination")
    raw = unquote((parsed.netloc or "") + parsed.path)
    return Path(raw).expanduser()


def _temp_file(target: Path, suffix: str) -> tuple[int, str]:
    """A new temporary file beside ``target``, named after it and this process (``.x.csv.<pid>@<host>.<random><suffix>``).

    The owner in the name lets a later run tell a dead process's leftover (``kill -9``) from a file a
    live process is still writing: see :func:`remove_stale_temp_files`.
    """
    prefix = f".{target.name}.{os.getpid()}@{socket.gethostname()}."
    return tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)


def remove_stale_temp_files(target: Path, suffix: str) -> list[Path]:
    """Delete the temporary files of ``target`` (made by :func:`_temp_file`) whose process is gone.

    Files of live processes, of other machines (a shared folder) and of unknown shape stay.

    Returns:
        The files removed.
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)@(.+)\.[a-z0-9_]{{8}}{re.escape(suffix)}$")
    removed: list[Path] = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        found = pattern.match(entry.name)
        if found is None or _owner_alive(f"{found.group(2)}:{found.group(1)}"):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


def atomic_write(path: Path, produce: Callable[[Any], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    A reader never sees a half-written file; a crash leaves the previous version (and at worst a
    stray ``.tmp`` file, removed by the next write of the same path once its process is gone).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path, ".tmp")
    fd, tmp = _temp_file(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            produce(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileSink:
    """``file://path.ext``: the load's records written as one file in the format of its extension."""

    name = "file"

    def matches(self, destination: str) -> bool:
        return destination.startswith("file://")

    def open(self, ctx: LoadContext) -> SinkSession:
        return _FileSession(ctx)


class _FileSession:
    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx
        self.path = file_destination(ctx.destination)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # an earlier run killed mid-load (kill -9) left its spool behind: nothing else would ever remove it
        remove_stale_temp_files(self.path, ".rows")
        fd, tmp = _temp_file(self.path, ".rows")
        os.close(fd)
        # rows are spooled as JSON Lines, then rendered in the target format at commit
        self.spool = Path(tmp)
        self._handle = self.spool.open("w", encoding="utf-8")
        self.count = 0

    def back_out(self, previous_load_id: str) -> None:
        return None  # the file is replaced whole at commit

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        fields = self.ctx.rt.fields
        for row in rows:
            self._handle.write(json.dumps(dict(zip(fields, row, strict=True))) + "\n")
        self.count += len(rows)

    def loaded_count(self) -> int:
        return self.count

    def commit(self) -> None:
        self._handle.close()
        fmt = self.ctx.formats.for_path(self.path, self.ctx.options.get("format"))
        fields = list(self.ctx.rt.fields)

        def rows() -> Any:
            with self.spool.open(encoding="utf-8") as handle:
                for line in handle:
                    yield json.loads(line)

        try:
            atomic_write(self.path, lambda h: fmt.write(rows(), fields, h, self.ctx.options))
        finally:
            self.spool.unlink(missing_ok=True)

    def abort(self) -> None:
        self._handle.close()
        self.spool.unlink(missing_ok=True)


class HttpSink:
    """``http(s)://...``: records POSTed as JSON batches.

    Each request carries ``Idempotency-Key: <load id>:<batch>`` so a re-run after a crash does not
    double-load at a receiver that honours it, and a corrected redelivery carries
    ``X-Portico-Supersedes: <earlier load id>`` so the receiver can back the earlier load out.
    """

    name = "http"

    def matches(self, destination: str) -> bool:
        return destination.startswith(("http://", "https://"))

    def open(self, ctx: LoadContext) -> SinkSession:
        return _HttpSession(ctx)


class _HttpSession:
    def __init__(self, ctx: LoadContext) -> None:
        import httpx

        self.ctx = ctx
        self.client = httpx.Client(transport=ctx.http_transport, timeout=30.0)
        self.batch = 0
        self.count = 0
        self.supersedes: str | None = None

    def back_out(self, previous_load_id: str) -> None:
        self.supersedes = previous_load_id

    def _post(self, body: dict[str, Any]) -> None:
        import httpx

        headers = {"Idempotency-Key": f"{self.ctx.load_id}:{self.batch}", "X-Portico-Load-Id": self.ctx.load_id}
        if self.supersedes:
            headers["X-Portico-Supersedes"] = self.supersedes
        try:
            response = self.client.post(self.ctx.destination, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PorticoError(f"POST to the destination failed: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise PorticoError(f"destination answered HTTP {response.status_code}", status_code=response.status_code)

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        if not rows:
            return
        fields = self.ctx.rt.fields
        self._post(
            {
                "load_id": self.ctx.load_id,
                "data_type": self.ctx.rt.name,
                "batch": self.batch,
                "records": [dict(zip(fields, r, strict=True)) for r in rows],
            }
        )
        self.batch += 1
        self.count += len(rows)

    def loaded_count(self) -> int:
        return self.count

    def commit(self) -> None:
        self._post({"load_id": self.ctx.load_id, "data_type": self.ctx.rt.name, "commit": True, "batches": self.batch, "records": self.count})
        self.client.close()

    def abort(self) -> None:
        self.client.close()


class TradingBookSink(StoreSink):
    """``trading_book``: corporate actions into the store's table, then applied to the trading book.

    The store keeps the loaded actions; after commit the importer's ``committed_listeners`` (the runtime
    registers the trading service's corporate action processor) apply them to the book and the stored
    price history, once per action.
    """

    name = "trading_book"

    def matches(self, destination: str) -> bool:
        return destination == "trading_book"


class MarketDataSink(StoreSink):
    """``market_data_service``: prices into the store's price table, then handed to the market data service.

    The store keeps the authoritative, idempotent copy; after commit the market data service (when the
    runtime has one) receives the loaded bars through ``ingest_bars(bars)`` to refresh its caches.
    """

    name = "market_data_service"

    def matches(self, destination: str) -> bool:
        return destination == "market_data_service"


__all__ += ["loaded_sums"]


def loaded_sums(session: SinkSession, fields: Sequence[str]) -> dict[str, Decimal] | None:
    """Sums read back from the destination when the sink can read back; None otherwise."""
    reader = getattr(session, "loaded_sums", None)
    return reader(fields) if reader is not None else None
