"""Where the connector keeps its placement intents when the runtime gives it a store.

Schwab orders carry no client order id, so the link from a client order id to Schwab's order id is
portico's alone; kept in the embedded database it survives a restart: an order placed before the
restart is still found (never placed twice) and still reports its client order id.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["IntentRecord", "IntentStore"]


@dataclass
class IntentRecord:
    """One stored placement intent."""

    client_order_id: str
    body: dict[str, Any]
    account_hash: str
    tag: str | None
    first_sent: datetime | None
    sends: int
    order_id: str | None
    acknowledged: bool


def _table() -> sa.Table:
    import sqlalchemy as sa

    from portico.store import metadata

    md = metadata()
    if "schwab_order_links" in md.tables:
        return md.tables["schwab_order_links"]
    return sa.Table(
        "schwab_order_links",
        md,
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("client_order_id", sa.String(128), primary_key=True),
        sa.Column("account_hash", sa.String(128), nullable=False),
        sa.Column("body_json", sa.Text, nullable=False),
        sa.Column("tag", sa.String(160)),
        sa.Column("first_sent", sa.DateTime(timezone=True)),
        sa.Column("sends", sa.Integer, nullable=False, default=0),
        sa.Column("order_id", sa.String(32), index=True),
        sa.Column("acknowledged", sa.Boolean, nullable=False, default=False),
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class IntentStore:
    """The ``schwab_order_links`` table of one system.

    Both writes of a placement (the intent before the send, its order id after) are on the order
    path. On SQLite they go through one connection of the engine's pool held by the store, as plain
    parameterised statements with SQLAlchemy's own value conversions: a Core statement costs about
    250 us of CPU per write, the plain one about 50 us, and the rows are the same (reads still use
    Core). On other databases both writes use Core.

    Args:
        database: the runtime's embedded database.
        system: the system id the rows belong to.
    """

    _COLUMNS = ("account_hash", "body_json", "tag", "first_sent", "sends", "order_id", "acknowledged")

    def __init__(self, database: Database, system: str) -> None:
        import sqlalchemy as sa

        self.database = database
        self.system = system
        self.table = _table()
        database.ensure_tables(self.table)
        t = self.table
        # built once: the placement path writes an intent twice per order
        self._insert = t.insert()
        self._update = t.update().where(
            (t.c.system == sa.bindparam("b_system")) & (t.c.client_order_id == sa.bindparam("b_client"))
        )
        self._raw: Any = None
        self._raw_lock = threading.Lock()
        dialect = database.engine.dialect
        self._plain = database.is_sqlite and dialect.paramstyle == "qmark"
        self._bind = {
            name: t.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in ("first_sent", "acknowledged")
        }
        names = ("system", "client_order_id", *self._COLUMNS)
        self._insert_sql = (
            f"INSERT INTO {t.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        )
        self._update_sql = (
            f"UPDATE {t.name} SET {', '.join(f'{c} = ?' for c in self._COLUMNS)} "
            "WHERE system = ? AND client_order_id = ?"
        )
        self._link_sql = f"UPDATE {t.name} SET order_id = ?, sends = ?, acknowledged = ? WHERE system = ? AND client_order_id = ?"

    @staticmethod
    def _values(record: IntentRecord) -> dict[str, Any]:
        return {
            "account_hash": record.account_hash,
            "body_json": json.dumps(record.body, sort_keys=True),
            "tag": record.tag,
            "first_sent": record.first_sent,
            "sends": record.sends,
            "order_id": record.order_id,
            "acknowledged": record.acknowledged,
        }

    def _row(self, record: IntentRecord) -> tuple[Any, ...]:
        """The column values of ``_COLUMNS`` as SQLAlchemy would bind them."""
        values = self._values(record)
        for name, process in self._bind.items():
            if process is not None and values[name] is not None:
                values[name] = process(values[name])
        return tuple(values[c] for c in self._COLUMNS)

    def _execute(self, statements: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """Run plain statements in one transaction on the held connection: each one's rowcount.
        A failed statement rolls the transaction back and raises (IntegrityError included)."""
        with self._raw_lock:
            if self._raw is None:
                self._raw = self.database.engine.raw_connection()
            # the driver's own connection under the pool's proxy: each call through the proxy is an
            # attribute lookup and a wrapper, on both writes of every placement
            conn = self._raw.dbapi_connection or self._raw
            counts: list[int] = []
            try:
                for sql, params in statements:
                    counts.append(conn.execute(sql, params).rowcount)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            return counts

    def create(self, record: IntentRecord) -> bool:
        """Insert a new intent; False (nothing written) when one is stored under its client order id."""
        from sqlalchemy.exc import IntegrityError

        if self._plain:
            import sqlite3

            try:
                self._execute([(self._insert_sql, (self.system, record.client_order_id, *self._row(record)))])
            except sqlite3.IntegrityError:
                return False
            return True
        row = {"system": self.system, "client_order_id": record.client_order_id, **self._values(record)}
        try:
            with self.database.begin() as conn:
                conn.execute(self._insert, row)
        except IntegrityError:
            return False
        return True

    def save(self, record: IntentRecord) -> None:
        """Insert or update one intent."""
        if self._plain:
            row = self._row(record)
            (updated,) = self._execute([(self._update_sql, (*row, self.system, record.client_order_id))])
            if not updated:
                self._execute([(self._insert_sql, (self.system, record.client_order_id, *row))])
            return
        values = self._values(record)
        with self.database.begin() as conn:
            key = {"b_system": self.system, "b_client": record.client_order_id}
            updated = conn.execute(self._update, {**values, **key}).rowcount
            if not updated:
                conn.execute(
                    self._insert, {"system": self.system, "client_order_id": record.client_order_id, **values}
                )

    def link(self, record: IntentRecord) -> None:
        """Record a stored intent's order id (with its send count and acknowledgement): the write after
        Schwab named the order, which leaves the body as stored."""
        if self._plain:
            acknowledged = self._bind["acknowledged"]
            flag = acknowledged(record.acknowledged) if acknowledged is not None else record.acknowledged
            (updated,) = self._execute(
                [(self._link_sql, (record.order_id, record.sends, flag, self.system, record.client_order_id))]
            )
            if updated:
                return
        self.save(record)

    def close(self) -> None:
        """Give the held connection back to the pool."""
        with self._raw_lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None

    def get(self, client_order_id: str) -> IntentRecord | None:
        """The intent stored under ``client_order_id``."""
        import sqlalchemy as sa

        key = (self.table.c.system == self.system) & (self.table.c.client_order_id == client_order_id)
        with self.database.begin() as conn:
            row = conn.execute(sa.select(self.table).where(key)).mappings().first()
        if row is None:
            return None
        return IntentRecord(
            client_order_id=row["client_order_id"],
            body=json.loads(row["body_json"]),
            account_hash=row["account_hash"],
            tag=row["tag"],
            first_sent=_aware(row["first_sent"]),
            sends=int(row["sends"] or 0),
            order_id=row["order_id"],
            acknowledged=bool(row["acknowledged"]),
        )

    def links(self) -> dict[str, str]:
        """Every linked Schwab order id -> client order id of this system."""
        import sqlalchemy as sa

        t = self.table
        query = sa.select(t.c.order_id, t.c.client_order_id).where(
            (t.c.system == self.system) & t.c.order_id.is_not(None)
        )
        with self.database.begin() as conn:
            return {str(order_id): str(client_id) for order_id, client_id in conn.execute(query)}
