"""What the connector must remember of each order across restarts to ask about it in FIX.

An OrderStatusRequest (H) names the order's Symbol and Side besides its ClOrdID, and a cancel names
the venue's OrderID; after a restart the trading service knows the client order id only. Each order's
instrument and side are written here *before* the NewOrderSingle is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.models import OrderSide
from portico.store import Database, metadata

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["OrderKey", "OrderKeyStore", "order_key_table"]

_table: Any = None


def order_key_table() -> sa.Table:
    """The ``fix_order_keys`` table."""
    global _table
    if _table is None:
        import sqlalchemy as sa

        _table = sa.Table(
            "fix_order_keys",
            metadata(),
            sa.Column("session_id", sa.String(255), primary_key=True),
            sa.Column("cl_ord_id", sa.String(255), primary_key=True),
            sa.Column("symbol", sa.String(64), nullable=False),
            sa.Column("side", sa.String(16), nullable=False),
        )
    return _table


@dataclass(frozen=True)
class OrderKey:
    """An order's ClOrdID with the instrument and side it was placed for."""

    cl_ord_id: str
    symbol: str
    side: OrderSide


class OrderKeyStore:
    """Read and write order keys of one FIX session."""

    def __init__(self, db: Database, session_id: str) -> None:
        self.db = db
        self.session_id = session_id
        db.ensure_tables(order_key_table())
        self._cache: dict[str, OrderKey] = {}

    def remember(self, key: OrderKey) -> None:
        """Store ``key`` (a key already stored is kept as it is)."""
        import sqlalchemy as sa

        if key.cl_ord_id in self._cache:
            return
        table = order_key_table()
        with self.db.begin() as conn:
            found = conn.execute(
                sa.select(table.c.cl_ord_id).where(
                    table.c.session_id == self.session_id, table.c.cl_ord_id == key.cl_ord_id
                )
            ).first()
            if found is None:
                conn.execute(
                    sa.insert(table).values(
                        session_id=self.session_id,
                        cl_ord_id=key.cl_ord_id,
                        symbol=key.symbol,
                        side=key.side.value,
                    )
                )
        self._cache[key.cl_ord_id] = key

    def get(self, cl_ord_id: str) -> OrderKey | None:
        """The key stored for ``cl_ord_id``, or None."""
        import sqlalchemy as sa

        if cl_ord_id in self._cache:
            return self._cache[cl_ord_id]
        table = order_key_table()
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(table).where(table.c.session_id == self.session_id, table.c.cl_ord_id == cl_ord_id)
            ).first()
        if row is None:
            return None
        key = OrderKey(cl_ord_id=row.cl_ord_id, symbol=row.symbol, side=OrderSide(row.side))
        self._cache[cl_ord_id] = key
        return key
