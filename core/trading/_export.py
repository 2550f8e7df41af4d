"""The trading tables as export rows, in the shape the trading service owns (for the jobs exporter).

Rows are read through the declared tables (not reflected), so decimals come back as ``Decimal`` and
timestamps as timezone-aware UTC on SQLite and PostgreSQL alike, and an empty store exports an empty
report with its header rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from portico.errors import ConfigurationError
from portico.trading import _tables as t
from portico.trading._confirmations import TradeConfirmation
from portico.trading._reconcile import BREAK_COLUMNS
from portico.trading._repository import OrderRepository

if TYPE_CHECKING:
    from portico.store import Database

__all__ = ["TRADING_EXPORT_TYPES", "trading_export_columns", "trading_export_rows"]

_ORDER_COLUMNS = (
    "id",
    "system",
    "idempotency_key",
    "client_order_id",
    "venue_order_id",
    "parent_id",
    "origin",
    "account_id",
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "quantity",
    "notional",
    "limit_price",
    "status",
    "filled_quantity",
    "average_fill_price",
    "reject_reason",
    "last_error",
    "attempts",
    "created_at",
    "sent_at",
    "status_at",
    "resolved_at",
    "updated_at",
)
# the stored request (JSON and its hash) is the service's idempotency check, not a reportable field

_EXECUTION_COLUMNS = (
    "system",
    "execution_id",
    "order_id",
    "venue_order_id",
    "client_order_id",
    "account_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "currency",
    "commission",
    "fees",
    "venue",
    "executed_at",
    "recorded_at",
)

_BOOK_POSITION_COLUMNS = (
    "book",
    "system",
    "account_id",
    "instrument_id",
    "symbol",
    "quantity",
    "cost_basis",
    "average_cost",
    "currency",
    "updated_at",
)

_BOOK_CASH_COLUMNS = ("book", "system", "account_id", "currency", "amount", "updated_at")

_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": _ORDER_COLUMNS,
    "executions": _EXECUTION_COLUMNS,
    "trade_confirmations": tuple(TradeConfirmation.__dataclass_fields__),
    "reconciliation_breaks": ("run_id", "as_of", *BREAK_COLUMNS),
    "book_positions": _BOOK_POSITION_COLUMNS,
    "book_cash": _BOOK_CASH_COLUMNS,
}

TRADING_EXPORT_TYPES: tuple[str, ...] = tuple(_COLUMNS)
"""The data types the trading store exports."""

_DECIMALS = {
    "quantity",
    "notional",
    "limit_price",
    "filled_quantity",
    "average_fill_price",
    "price",
    "commission",
    "fees",
    "cost_basis",
    "amount",
}


def trading_export_columns(data_type: str) -> list[str]:
    """The columns of a trading export, in order (also the header of an empty export)."""
    try:
        return list(_COLUMNS[data_type])
    except KeyError:
        raise ConfigurationError(
            f"unknown trading data type {data_type!r}; use one of {sorted(_COLUMNS)}", path="data_type"
        ) from None


def trading_export_rows(db: Database, data_type: str) -> Iterator[dict[str, Any]]:
    """The rows of one trading data type, oldest first, with typed values (Decimal, aware datetimes).

    Args:
        db: the store the trading service records into (its tables are created when missing).
        data_type: one of :data:`TRADING_EXPORT_TYPES`.
    """
    columns = trading_export_columns(data_type)
    repo = OrderRepository(db)  # creates the tables, so a store that has not traded exports nothing
    if data_type == "trade_confirmations":
        yield from _confirmations(repo)
        return
    table, order_by = {
        "orders": (t.orders, (t.orders.c.created_at, t.orders.c.id)),
        "executions": (t.executions, (t.executions.c.executed_at, t.executions.c.system, t.executions.c.execution_id)),
        "reconciliation_breaks": (t.reconciliation_breaks, (t.reconciliation_breaks.c.seq,)),
        "book_positions": (
            t.book_positions,
            (t.book_positions.c.book, t.book_positions.c.system, t.book_positions.c.account_id, t.book_positions.c.instrument_id),
        ),
        "book_cash": (t.book_cash, (t.book_cash.c.book, t.book_cash.c.system, t.book_cash.c.account_id, t.book_cash.c.currency)),
    }[data_type]
    with db.begin() as conn:
        rows = conn.execute(sa.select(table).order_by(*order_by)).mappings().all()
    for row in rows:
        values: dict[str, Any] = {k: (t.from_dec(v) if k in _DECIMALS else v) for k, v in row.items()}
        if data_type == "book_positions":
            qty, basis = values["quantity"], values["cost_basis"]
            values["average_cost"] = None if not qty else basis / qty
        if data_type == "reconciliation_breaks":
            values = {k: _break_value(k, v) for k, v in values.items()}
        yield {c: values.get(c) for c in columns}


def _break_value(name: str, value: Any) -> Any:
    # internal/broker hold a number or a text value (a side, a ticker), so they stay text; the
    # difference is always numeric
    if name == "difference" and value is not None:
        return Decimal(value)
    return value


def _confirmations(repo: OrderRepository) -> Iterator[dict[str, Any]]:
    order_ids: dict[str, dict[str, str | None]] = {}
    out: list[TradeConfirmation] = []
    for execution in repo.executions():
        system = execution.system or ""
        if system not in order_ids:
            order_ids[system] = repo.execution_order_ids(system)
        out.append(TradeConfirmation.from_execution(system, execution, order_ids[system].get(execution.execution_id)))
    for confirmation in sorted(out, key=lambda c: (c.executed_at, c.system, c.execution_id)):
        yield dict(confirmation.__dict__)
