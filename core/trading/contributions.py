"""What the trading service contributes to the shared parts: its export types and dashboard panels.

A built-in plugin (:data:`portico.plugins.DEFAULT_PLUGINS`): hookimpls only. The exporter (in
:mod:`portico.jobs`) exports the trading tables through these contributions and imports nothing of
``portico.trading``.
"""

from __future__ import annotations

import functools

from portico.contributions import DashboardPanel, ExportType, PanelColumn
from portico.hookspecs import hookimpl
from portico.trading._export import TRADING_EXPORT_TYPES, trading_export_columns, trading_export_rows

__all__ = ["portico_dashboard_panels", "portico_export_types"]

_DESCRIPTIONS = {
    "orders": "Every stored order intent and its last known state at the broker.",
    "executions": "Every fill recorded, once per execution.",
    "trade_confirmations": "Executions with their charges and net amounts.",
    "reconciliation_breaks": "The breaks of every reconciliation run.",
    "book_positions": "The internal book's positions.",
    "book_cash": "The internal book's cash balances.",
}


@hookimpl
def portico_export_types() -> list[ExportType]:
    """``orders``, ``executions``, ``trade_confirmations``, ``reconciliation_breaks``, ``book_positions``, ``book_cash``."""
    return [
        ExportType(
            name=name,
            rows=functools.partial(trading_export_rows, data_type=name),
            columns=tuple(trading_export_columns(name)),
            description=_DESCRIPTIONS.get(name, ""),
        )
        for name in TRADING_EXPORT_TYPES
    ]


@hookimpl
def portico_dashboard_panels() -> list[DashboardPanel]:
    """Recent orders and the internal book's positions."""
    return [
        DashboardPanel(
            key="orders",
            title="Orders",
            read="portico.trading._dashboard:orders",
            order=40,
            table_id="orders",
            columns=(
                PanelColumn("created_at", "Placed", kind="time"),
                PanelColumn("system", "Broker"),
                PanelColumn("symbol", "Symbol"),
                PanelColumn("side", "Side"),
                PanelColumn("quantity", "Qty", kind="number"),
                PanelColumn("order_type", "Type"),
                PanelColumn("status", "State", css="state"),
                PanelColumn("filled_quantity", "Filled", kind="number"),
                PanelColumn("average_fill_price", "Avg price", kind="number"),
                PanelColumn("updated_at", "Updated", kind="time"),
                PanelColumn("reason", "Reason"),
            ),
            empty="No orders yet",
            row_class="order",
            row_state=("state", "status"),
            row_key=("order", "id"),
        ),
        DashboardPanel(
            key="positions",
            title="Positions",
            read="portico.trading._dashboard:positions",
            order=50,
            table_id="positions",
            columns=(
                PanelColumn("system", "Broker"),
                PanelColumn("account_id", "Account"),
                PanelColumn("symbol", "Symbol"),
                PanelColumn("quantity", "Quantity", kind="number"),
                PanelColumn("average_cost", "Avg cost", kind="number"),
                PanelColumn("currency", "Currency"),
            ),
            empty="No positions",
            row_class="position",
        ),
    ]
