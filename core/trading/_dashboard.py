"""The trading service's dashboard panels: recent orders and the internal book's positions.

Contributed through ``portico_dashboard_panels`` by :mod:`portico.trading.contributions`. Each read
touches only a trading service that already runs; without one it shows no rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from portico.contributions import running_service

__all__ = ["OrderRow", "PositionRow", "orders", "positions"]


@dataclass(frozen=True)
class OrderRow:
    """One stored order intent and what is known of it at its broker."""

    id: str
    system: str
    symbol: str
    side: str
    quantity: str
    order_type: str
    status: str
    filled_quantity: str
    average_fill_price: str | None
    created_at: str
    updated_at: str
    reason: str | None


@dataclass(frozen=True)
class PositionRow:
    """One position of the internal book at one broker."""

    system: str
    account_id: str
    symbol: str
    quantity: str
    average_cost: str | None
    currency: str | None


@runtime_checkable
class _Trading(Protocol):
    def list_orders(self) -> list[Any]: ...

    def reconciler(self) -> Any: ...


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _text(value: Any) -> str | None:
    return None if value is None else (format(value, "f") if isinstance(value, Decimal) else str(value))


def orders(runtime: Any, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent order intents across every broker, newest first."""
    trading = running_service(runtime, "trading")
    if not isinstance(trading, _Trading):
        return []
    records = sorted(trading.list_orders(), key=lambda r: r.created_at, reverse=True)[:limit]
    out = []
    for r in records:
        request = r.request
        out.append(
            OrderRow(
                id=str(r.id),
                system=str(r.system),
                symbol=str(request.symbol),
                side=str(getattr(request.side, "value", request.side)),
                quantity=_text(request.quantity) or "",
                order_type=str(getattr(request.order_type, "value", request.order_type)),
                status=str(getattr(r.status, "value", r.status)),
                filled_quantity=_text(r.filled_quantity) or "0",
                average_fill_price=_text(r.average_fill_price),
                created_at=_iso(r.created_at) or "",
                updated_at=_iso(r.updated_at) or "",
                reason=r.reject_reason or r.last_error,
            )
        )
    return [asdict(o) for o in out]


def positions(runtime: Any) -> list[dict[str, Any]]:
    """The internal book's open positions at every broker the runtime trades with."""
    trading = running_service(runtime, "trading")
    if not isinstance(trading, _Trading):
        return []
    # the book reconciliation compares with: the store's (opening balances + executions), or a plugin's
    book = trading.reconciler().book
    systems = sorted(
        {str(r.system) for r in trading.list_orders()} | set(getattr(runtime, "systems", {}) or {})
    )
    out = []
    for system in systems:
        for p in book.positions(system):
            if p.quantity == 0:
                continue
            out.append(
                PositionRow(
                    system=system,
                    account_id=str(p.account_id),
                    symbol=str(p.symbol or p.instrument_id),
                    quantity=_text(p.quantity) or "0",
                    average_cost=_text(p.average_cost),
                    currency=p.currency,
                )
            )
    return [asdict(p) for p in out]
