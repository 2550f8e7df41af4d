"""The trading tables, declared on the shared :func:`portico.store.metadata` (SQLite and PostgreSQL).

Decimals are stored as text so no precision is lost on either engine; timestamps are stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portico.store import metadata

__all__ = [
    "book_cash",
    "book_positions",
    "executions",
    "from_db_time",
    "from_dec",
    "order_history",
    "orders",
    "parent_actions",
    "parents",
    "reconciliation_breaks",
    "to_dec",
    "trading_tables",
]


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dec() -> sa.String:
    return sa.String(64)


def to_dec(value: Decimal | int | str | None) -> str | None:
    """A Decimal as stored text (normalised, no exponent)."""
    if value is None:
        return None
    return format(Decimal(value), "f")


def from_dec(value: str | None) -> Decimal | None:
    """Stored text back to a Decimal."""
    return None if value is None else Decimal(value)


def from_db_time(value: datetime | None) -> datetime | None:
    """A timestamp read outside the typed columns (raw SQL), made aware."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _build() -> dict[str, sa.Table]:
    md = metadata()
    if "trading_orders" in md.tables:
        return {name: md.tables[name] for name in _NAMES}
    orders_t = sa.Table(
        "trading_orders",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False, default="portico"),
        sa.Column("account_id", sa.String(64)),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=False),
        sa.Column("time_in_force", sa.String(16), nullable=False),
        sa.Column("quantity", _dec()),
        sa.Column("notional", _dec()),
        sa.Column("limit_price", _dec()),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("venue_order_id", sa.String(128)),
        sa.Column("filled_quantity", _dec(), nullable=False, default="0"),
        sa.Column("average_fill_price", _dec()),
        sa.Column("reject_reason", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("parent_id", sa.String(64), index=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("sent_at", UtcDateTime),
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("status_at", UtcDateTime),
        # the configuration (runtime instance) that placed the order; NULL in stores older than the column
        sa.Column("instance", sa.String(64)),
        sa.UniqueConstraint("system", "idempotency_key", name="uq_trading_orders_key"),
        sa.UniqueConstraint("system", "client_order_id", name="uq_trading_orders_client_id"),
        sa.Index("ix_trading_orders_system_status", "system", "status"),
        sa.Index("ix_trading_orders_venue_id", "system", "venue_order_id"),
    )
    history_t = sa.Table(
        "trading_order_history",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(64), sa.ForeignKey("trading_orders.id"), nullable=False, index=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("event_at", UtcDateTime),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(255)),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("filled_quantity", _dec(), nullable=False),
        sa.Column("status_applied", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("system", "event_id", name="uq_trading_history_event"),
    )
    executions_t = sa.Table(
        "trading_executions",
        md,
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("execution_id", sa.String(128), primary_key=True),
        sa.Column("order_id", sa.String(64), index=True),
        sa.Column("venue_order_id", sa.String(128)),
        sa.Column("client_order_id", sa.String(128)),
        sa.Column("account_id", sa.String(64)),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("quantity", _dec(), nullable=False),
        sa.Column("price", _dec(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("commission", _dec()),
        sa.Column("fees", _dec()),
        sa.Column("venue", sa.String(64)),
        sa.Column("executed_at", UtcDateTime, nullable=False, index=True),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        # every fill looks for its twin under another id scheme by the venue's order id
        sa.Index("ix_trading_executions_venue_order", "system", "venue_order_id"),
    )
    parents_t = sa.Table(
        "trading_parent_orders",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("on_child_failure", sa.String(16), nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    actions_t = sa.Table(
        "trading_parent_actions",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "parent_id", sa.String(64), sa.ForeignKey("trading_parent_orders.id"), nullable=False, index=True
        ),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("child_id", sa.String(64)),
        sa.Column("system", sa.String(64)),
        sa.Column("quantity", _dec()),
        sa.Column("detail", sa.Text),
    )
    book_t = sa.Table(
        "trading_book_positions",
        md,
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("instrument_id", sa.String(128), primary_key=True),
        sa.Column("symbol", sa.String(64)),
        sa.Column("quantity", _dec(), nullable=False),
        sa.Column("cost_basis", _dec(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    cash_t = sa.Table(
        "trading_book_cash",
        md,
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("amount", _dec(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    breaks_t = sa.Table(
        "trading_reconciliation_breaks",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("as_of", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64)),
        sa.Column("instrument_id", sa.String(128)),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("internal", sa.String(64)),
        sa.Column("broker", sa.String(64)),
        sa.Column("difference", sa.String(64)),
        sa.Column("reference", sa.String(128)),
        sa.Column("detail", sa.Text, nullable=False),
    )
    return dict(
        zip(
            _NAMES,
            (orders_t, history_t, executions_t, parents_t, actions_t, book_t, cash_t, breaks_t),
            strict=True,
        )
    )


_NAMES = (
    "trading_orders",
    "trading_order_history",
    "trading_executions",
    "trading_parent_orders",
    "trading_parent_actions",
    "trading_book_positions",
    "trading_book_cash",
    "trading_reconciliation_breaks",
)
_T = _build()
orders = _T["trading_orders"]
order_history = _T["trading_order_history"]
executions = _T["trading_executions"]
parents = _T["trading_parent_orders"]
parent_actions = _T["trading_parent_actions"]
book_positions = _T["trading_book_positions"]
book_cash = _T["trading_book_cash"]
reconciliation_breaks = _T["trading_reconciliation_breaks"]


def trading_tables() -> tuple[sa.Table, ...]:
    """Every trading table, in creation order (for :meth:`portico.store.Database.ensure_tables`)."""
    return tuple(_T[name] for name in _NAMES)
