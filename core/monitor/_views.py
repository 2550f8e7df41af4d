"""The dashboard's reads of other services: scheduled jobs, orders and positions, as plain rows.

Each read takes the runtime and touches only a service that already runs (reading the dashboard must
never build one as a side effect), through the few methods typed below; a service that is absent
reads as no rows. When the monitor's service-specific parts move behind hooks, these functions are
what a service's hook returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "OrderRow",
    "PositionRow",
    "ScheduledJobRow",
    "orders",
    "positions",
    "running_service",
    "scheduled_jobs",
]


@dataclass(frozen=True)
class ScheduledJobRow:
    """One persisted job: what it does, when it runs next, how it last went."""

    job: str
    kind: str
    system: str | None
    what: str
    schedule: str | None
    next_run: str | None
    last_status: str | None
    last_run: str | None


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
class _Jobs(Protocol):
    def list_jobs(self) -> list[dict[str, Any]]: ...


@runtime_checkable
class _Trading(Protocol):
    def list_orders(self) -> list[Any]: ...

    def reconciler(self) -> Any: ...


def running_service(runtime: Any, name: str) -> Any:
    """The runtime's service ``name`` when it already runs, else None (never built here)."""
    services = getattr(runtime, "_services", None)
    if isinstance(services, Mapping):
        return services.get(name)
    return None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _text(value: Any) -> str | None:
    return None if value is None else (format(value, "f") if isinstance(value, Decimal) else str(value))


def _job_system(cfg: Mapping[str, Any], systems: Iterable[str]) -> str | None:
    known = set(systems)
    for key in ("source", "system", "destination"):
        value = cfg.get(key)
        if isinstance(value, str) and value in known:
            return value
    source = cfg.get("source")
    if isinstance(source, str) and source:
        return f"file {PurePath(source.split('://', 1)[-1]).name}"
    return None


def scheduled_jobs(runtime: Any) -> list[dict[str, Any]]:
    """Every persisted job of the running jobs service, soonest next run first."""
    jobs = running_service(runtime, "jobs")
    if not isinstance(jobs, _Jobs):
        return []
    systems = list(getattr(runtime, "systems", {}) or {})
    rows = []
    for job in jobs.list_jobs():
        cfg = job.get("config") or {}
        interval = cfg.get("interval_seconds")
        schedule = cfg.get("schedule") or (f"every {interval}s" if interval else None) or cfg.get("run_at")
        what = " ".join(str(p) for p in (cfg.get("data_type"), "->", cfg.get("destination")) if p)
        rows.append(
            ScheduledJobRow(
                job=str(job["job_id"]),
                kind=str(job.get("kind") or ""),
                system=_job_system(cfg, systems),
                what=what,
                schedule=None if schedule is None else str(schedule),
                next_run=_iso(job.get("next_run")),
                last_status=job.get("last_status"),
                last_run=_iso(job.get("last_run")),
            )
        )
    rows.sort(key=lambda r: (r.next_run is None, r.next_run or "", r.job))
    return [asdict(r) for r in rows]


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
