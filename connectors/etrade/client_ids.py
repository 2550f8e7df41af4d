"""Which caller's client order id each E*TRADE wire id stands for.

E*TRADE takes client order ids of at most 20 characters; longer ones (the trading service derives
35-character ids) travel as a stable 20-character digest (:func:`~portico.connectors.etrade.mapping.
wire_client_order_id`). The digest cannot be turned back, so the pairs are kept: in memory, and in the
runtime's embedded store when it gives one, so orders listed after a restart still carry the id the
trading service knows them by.
"""

from __future__ import annotations

import sqlalchemy as sa

from portico.store import Database, metadata

__all__ = ["CLIENT_ORDER_IDS", "ClientOrderIds"]

CLIENT_ORDER_IDS = sa.Table(
    "etrade_client_order_ids",
    metadata(),
    sa.Column("system", sa.String(200), primary_key=True),
    sa.Column("wire_id", sa.String(20), primary_key=True),
    sa.Column("client_order_id", sa.String(255), nullable=False),
)


class ClientOrderIds:
    """Caller client order ids by wire id for one system.

    Args:
        system: the system id (one table serves every E*TRADE system).
        store: the embedded database; None keeps the pairs in memory only.
    """

    def __init__(self, system: str, store: Database | None) -> None:
        self.system = system
        self.store = store
        self._known: dict[str, str] = {}
        if store is not None:
            store.ensure_tables(CLIENT_ORDER_IDS)

    def remember(self, wire_id: str, client_order_id: str) -> None:
        """Keep the pair (before the order is sent, so a crash right after still knows it)."""
        if wire_id == client_order_id or self._known.get(wire_id) == client_order_id:
            return
        self._known[wire_id] = client_order_id
        if self.store is None:
            return
        table = CLIENT_ORDER_IDS
        with self.store.begin() as conn:
            found = conn.execute(
                sa.select(table.c.client_order_id).where(
                    table.c.system == self.system, table.c.wire_id == wire_id
                )
            ).scalar_one_or_none()
            if found is None:
                conn.execute(
                    table.insert().values(
                        system=self.system, wire_id=wire_id, client_order_id=client_order_id
                    )
                )

    def caller(self, wire_id: str | None) -> str | None:
        """The caller's id for ``wire_id``, or None when it is the caller's own (or unknown)."""
        if not wire_id:
            return None
        known = self._known.get(wire_id)
        if known is not None or self.store is None:
            return known
        table = CLIENT_ORDER_IDS
        with self.store.begin() as conn:
            found = conn.execute(
                sa.select(table.c.client_order_id).where(
                    table.c.system == self.system, table.c.wire_id == wire_id
                )
            ).scalar_one_or_none()
        if found is not None:
            self._known[wire_id] = found
        return found
