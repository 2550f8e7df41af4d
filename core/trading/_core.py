"""What every part of the trading service shares: its state, the connector and order lookups, and
reporting to the monitor and the audit log.

:class:`~portico.trading.TradingService` is composed of one class per responsibility, each in its own
module: :mod:`~portico.trading._routing` (placing, cancelling, replacing),
:mod:`~portico.trading._pretrade` (the checks before a send), :mod:`~portico.trading._order_updates`
(applying what venues report), :mod:`~portico.trading._recovery` (resolving unknown outcomes, looking
orders up) and :mod:`~portico.trading._background` (the stream and resolver loops). They all derive from
:class:`ServiceCore`, which declares the state :class:`~portico.trading.TradingService` builds and, for
the type checker, the methods one part calls on another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.context import current_correlation_id
from portico.errors import ConfigurationError, NotFound
from portico.sdk import Connector
from portico.store import Database
from portico.trading._records import OrderRecord

if TYPE_CHECKING:
    from portico.clock import Clock
    from portico.models import Order, OrderEvent, OrderRequest
    from portico.trading._config import TradingConfig
    from portico.trading._events import OrderEventBus
    from portico.trading._intents import KeyLocks
    from portico.trading._replace import Replacements
    from portico.trading._repository import OrderRepository
    from portico.trading._risk import RiskCheck
    from portico.trading._snapshots import AccountSnapshots
    from portico.trading._tracking import Observation
    from portico.trading._xref import InstrumentXref

__all__ = ["ServiceCore", "log"]

log = logging.getLogger("portico.trading")


class ServiceCore:
    """The state and shared helpers of the trading service's parts (built by
    :class:`~portico.trading.TradingService`)."""

    db: Database
    clock: Clock
    connectors: Mapping[str, Connector]
    monitor: Any
    audit: Any
    actor: str
    live_trading_systems: Collection[str]
    config: TradingConfig
    xref: InstrumentXref
    plugins: Any
    repo: OrderRepository
    risk_checks: dict[str, RiskCheck]
    events: OrderEventBus
    snapshots: AccountSnapshots
    replacements: Replacements
    _external_limits: bool
    _recovered: set[str]
    _recovery_locks: dict[str, asyncio.Lock]
    _key_locks: KeyLocks
    _inflight: set[str]
    _fill_lookups: dict[str, tuple[Decimal, int]]
    _orphans: dict[tuple[str, str], deque[OrderEvent]]
    _tasks: list[asyncio.Task[None]]
    _running: bool
    _streams_up: set[str]

    if TYPE_CHECKING:
        # what one part calls on another (each is defined in the module its name belongs to)
        async def ensure_recovered(self, system_id: str) -> None: ...
        async def resolve(self, order_id: str, *, source: str = "lookup") -> OrderRecord: ...
        async def _resolve_locked(
            self, record: OrderRecord, *, pre_send: bool, source: str = "lookup"
        ) -> OrderRecord: ...
        async def _lookup(self, connector: Connector, record: OrderRecord) -> Order | None: ...
        async def refresh(self, system_id: str, order_id: str) -> OrderRecord: ...
        async def poll(self, system_id: str) -> int: ...
        async def _send(
            self, record: OrderRecord, *, source: str = "submit", counted: bool = False
        ) -> OrderRecord: ...
        async def _validate(
            self, system_id: str, connector: Connector, request: OrderRequest
        ) -> int | None: ...
        async def _apply(self, order_id: str, obs: Observation) -> OrderRecord: ...
        async def _apply_order(
            self, order_id: str, order: Order, *, source: str, record: OrderRecord | None = None
        ) -> OrderRecord: ...
        async def apply_event(self, system_id: str, event: OrderEvent) -> OrderRecord | None: ...
        async def resolve_pending(self, system_id: str | None = None) -> int: ...
        async def record_missing_fills(
            self,
            system_id: str,
            *,
            since: datetime | None = None,
            orders: Iterable[OrderRecord] | None = None,
        ) -> int: ...

    def connector(self, system_id: str) -> Connector:
        """The connector of ``system_id``; a clear error naming the known systems otherwise."""
        try:
            return self.connectors[system_id]
        except KeyError:
            raise ConfigurationError(
                f"unknown system {system_id!r} (trading systems: {sorted(self.connectors)})",
                path=f"systems.{system_id}",
            ) from None

    def _find(self, system_id: str | None, order_id: str) -> OrderRecord:
        record = self.repo.find(system_id, order_id)
        if record is None:
            raise NotFound(
                f"no order {order_id!r}" + (f" for {system_id}" if system_id else ""), system=system_id
            )
        return record

    def _emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        if self.monitor is None:
            return
        try:
            self.monitor.emit(event, system=system, severity=severity, **data)
        except Exception:
            log.exception("monitor.emit(%s) failed", event)

    def _audit(self, system_id: str, action: str, outcome: str, record: OrderRecord, **extra: Any) -> None:
        if self.audit is None:
            return
        detail = {
            "order_id": record.id,
            "client_order_id": record.client_order_id,
            "venue_order_id": record.venue_order_id,
            "symbol": record.request.symbol,
            "side": record.request.side.value,
            "quantity": None if record.request.quantity is None else str(record.request.quantity),
            **extra,
        }
        try:
            self.audit.append(
                system=system_id,
                actor=self.actor,
                action=f"trading.{action}",
                outcome=outcome,
                correlation_id=current_correlation_id(),
                detail=detail,
            )
        except Exception:
            log.exception("audit append failed for %s", action)
