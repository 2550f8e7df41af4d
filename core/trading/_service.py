"""The trading service: durable order routing, order tracking and trade confirmations across brokers.

:class:`TradingService` builds the service's state and runs its lifecycle; its work is done by the
parts it is composed of, one module each: routing (:mod:`~portico.trading._routing`), pre-trade checks
(:mod:`~portico.trading._pretrade`), applying order updates (:mod:`~portico.trading._order_updates`),
recovery of unknown outcomes (:mod:`~portico.trading._recovery`) and the background loops
(:mod:`~portico.trading._background`), over the state and helpers of :mod:`~portico.trading._core`.
Queries, allocation, confirmations and reconciliation are reached from here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic

from portico.clock import Clock, system_clock
from portico.errors import ConfigurationError, PorticoError
from portico.models import OrderEvent, OrderRequest, OrderStatus
from portico.sdk import Capability, Connector
from portico.store import Database
from portico.trading._allocation import Allocator, ParentOrderState
from portico.trading._background import BackgroundLoops
from portico.trading._book import FileBook
from portico.trading._config import ReconciliationSchedule, TradingConfig
from portico.trading._confirmations import TradeConfirmation, export_confirmations
from portico.trading._core import log
from portico.trading._events import OrderEventBus, OrderUpdateCallback
from portico.trading._intents import KeyLocks
from portico.trading._order_updates import OrderUpdates
from portico.trading._pretrade import PreTradeChecks
from portico.trading._reconcile import DailyReconciliationJob, Reconciler, ReconciliationReport
from portico.trading._records import HistoryEntry, OrderRecord, OrderUpdate
from portico.trading._recovery import OrderRecovery, RecoveryReport
from portico.trading._replace import Replacements
from portico.trading._repository import OrderRepository
from portico.trading._risk import RiskCheck, builtin_risk_checks
from portico.trading._routing import OrderRouting
from portico.trading._snapshots import AccountSnapshots
from portico.trading._xref import InstrumentXref

__all__ = ["RecoveryReport", "TradingService"]


class TradingService(OrderRouting, PreTradeChecks, OrderRecovery, OrderUpdates, BackgroundLoops):
    """Routes orders durably to brokers and tracks them to the end, whatever the network does.

    Every order is stored as an intent with its business idempotency key before it is sent, and sent
    with a client order id derived from that key, so the same key never produces a second order at the
    venue. Only a definitive venue answer (:class:`~portico.errors.VenueRejected`) marks an order
    rejected; every other failure leaves it ``UNKNOWN`` until a lookup by client order id, the order
    stream, a poll or reconciliation resolves it. After a restart, :meth:`recover` resolves every
    unresolved intent of a system before new orders for it are accepted.

    Args:
        db: the embedded store.
        clock: the time source (backoff waits and timestamps).
        connectors: connector instances by configured system id.
        monitor: receives ``emit(event, system=..., severity=..., **data)`` for notable events.
        audit: receives ``append(system=, actor=, action=, outcome=, correlation_id=, detail=)`` for every
            order placed or cancelled.
        risk_checks: extra pre-trade checks (the built-in ones are always available and run when
            configured for an account).
        config: a :class:`TradingConfig` or its mapping.
        xref: the instrument cross-reference (internal instrument ids for the book and reconciliation).
        plugins: a :class:`portico.plugins.PluginManager` whose ``portico_risk_checks`` hooks add checks.
        actor: who the audit log names as acting (the embedding app's user or service name).
        live_trading_systems: the systems allowed to place and cancel orders on an environment the
            manifest marks ``live_money`` (``PORTICO_ALLOW_LIVE_TRADING`` adds to them); see
            :func:`~portico.trading._live.check_live_trading`.
        instance: the configuration whose orders this service reads (the runtime passes its instance);
            None reads every order of the store.
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock | None = None,
        connectors: Mapping[str, Connector],
        monitor: Any = None,
        audit: Any = None,
        risk_checks: Iterable[RiskCheck] = (),
        config: TradingConfig | Mapping[str, Any] | None = None,
        xref: InstrumentXref | None = None,
        plugins: Any = None,
        actor: str = "portico",
        live_trading_systems: Collection[str] = (),
        instance: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock or system_clock
        # kept as given: the runtime hands a live view that gains connectors as systems connect
        self.connectors = connectors
        self.monitor = monitor
        self.audit = audit
        self.actor = actor
        # kept as given: the runtime hands a live view of the systems whose config opts in
        self.live_trading_systems = live_trading_systems
        if isinstance(config, TradingConfig):
            self.config = config
        else:
            try:
                self.config = TradingConfig.model_validate(dict(config or {}))
            except pydantic.ValidationError as exc:
                first = exc.errors()[0]
                path = "trading." + ".".join(str(p) for p in first["loc"])
                raise ConfigurationError(f"{path}: {first['msg']}", path=path) from None
        self.xref = xref or _configured_xref(self.config)
        self.plugins = plugins
        self.repo = OrderRepository(db, instance=instance)
        checks: list[RiskCheck] = list(builtin_risk_checks())
        if plugins is not None:
            for contributed in plugins.hooks.hook.portico_risk_checks():
                checks.extend(contributed or [])
        checks.extend(risk_checks)
        self.risk_checks = {c.name: c for c in checks}
        # limits from an external limits system, asked per order only when some plugin provides them
        self._external_limits = plugins is not None and bool(
            plugins.hooks.hook.portico_risk_limits.get_hookimpls()
        )
        self.events = OrderEventBus()
        self._recovered: set[str] = set()
        self._recovery_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._key_locks = KeyLocks()
        self._inflight: set[str] = set()
        self._fill_lookups: dict[str, tuple[Decimal, int]] = {}
        self._orphans: dict[tuple[str, str], deque[OrderEvent]] = defaultdict(lambda: deque(maxlen=100))
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        # pre-trade account and quote state, reused within its age limit while a system's order stream runs
        self.snapshots = AccountSnapshots(self.clock, self.config.account_state_max_age)
        self._streams_up: set[str] = set()
        self.replacements = Replacements(self)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, recover: bool = True) -> None:
        """Recover every system, then follow order streams and resolve unknown outcomes in the background."""
        if self._running:
            return
        self._running = True
        if recover:
            for system_id in self.connectors:
                try:
                    await self.recover(system_id)
                except PorticoError as exc:
                    log.warning("recovery of %s incomplete: %s", system_id, exc)
        for system_id, connector in self.connectors.items():
            if connector.spec.capabilities.has(Capability.SUBSCRIBE_ORDER_UPDATES):
                self._tasks.append(
                    asyncio.create_task(self._stream_loop(system_id), name=f"trading-stream-{system_id}")
                )
        self._tasks.append(asyncio.create_task(self._resolver_loop(), name="trading-resolver"))

    async def attach(self, system_id: str) -> RecoveryReport:
        """Bring a system connected after :meth:`start` under tracking: recover it, then follow its
        order stream (when the service is running and the connector streams order updates)."""
        report = await self.recover(system_id)
        connector = self.connector(system_id)
        streaming = {t.get_name() for t in self._tasks if not t.done()}
        name = f"trading-stream-{system_id}"
        if (
            self._running
            and name not in streaming
            and connector.spec.capabilities.has(Capability.SUBSCRIBE_ORDER_UPDATES)
        ):
            self._tasks.append(asyncio.create_task(self._stream_loop(system_id), name=name))
        return report

    async def stop(self) -> None:
        """Stop the background tasks and end every event iterator."""
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.events.close()

    async def __aenter__(self) -> TradingService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- queries ---------------------------------------------------------------------------------

    def get_order(self, order_id: str, *, system_id: str | None = None) -> OrderRecord:
        """A stored order by portico id (or, with ``system_id``, client/venue order id or key)."""
        return self._find(system_id, order_id)

    async def get_order_status(self, system_id: str, order_id: str, *, refresh: bool = False) -> OrderRecord:
        """The tracked order; unresolved ones (and any with ``refresh``) are looked up at the venue first."""
        record = self._find(system_id, order_id)
        if record.is_unresolved and record.id not in self._inflight:
            return await self.resolve(record.id)
        if refresh and not record.is_terminal:
            return await self.refresh(system_id, record.id)
        return record

    def list_orders(
        self,
        *,
        system_id: str | None = None,
        statuses: Iterable[OrderStatus | str] | None = None,
        parent_id: str | None = None,
    ) -> list[OrderRecord]:
        """Stored orders, oldest first."""
        return self.repo.query(system=system_id, statuses=statuses, parent_id=parent_id)

    def order_history(self, order_id: str) -> list[HistoryEntry]:
        """Every transition of an order, in the order applied."""
        return self.repo.history(self._find(None, order_id).id)

    def on_order_event(self, callback: OrderUpdateCallback, *, systems: Iterable[str] | None = None) -> Any:
        """Call ``callback`` with every :class:`OrderUpdate`; returns a function that unsubscribes."""
        return self.events.subscribe(callback, systems=systems)

    def order_events(self, *, systems: Iterable[str] | None = None) -> AsyncIterator[OrderUpdate]:
        """An async iterator of order updates across all (or the given) systems."""
        return self.events.iterate(systems=systems)

    # -- allocation ----------------------------------------------------------------------------

    @property
    def allocator(self) -> Allocator:
        """Multi-broker parent orders (:meth:`Allocator.place_parent_order`)."""
        return Allocator(self)

    async def place_parent_order(
        self, order: OrderRequest | Mapping[str, Any], **kwargs: Any
    ) -> ParentOrderState:
        """Split an order across brokers; see :meth:`Allocator.place_parent_order`."""
        return await self.allocator.place_parent_order(order, **kwargs)

    # -- confirmations -------------------------------------------------------------------------

    def confirmations(
        self, *, system_id: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[TradeConfirmation]:
        """Confirmations of every recorded execution in ``[since, until)``, oldest first."""
        out = []
        order_ids: dict[str, dict[str, str | None]] = {}
        for execution in self.repo.executions(system=system_id, since=since, until=until):
            system = execution.system or ""
            if system not in order_ids:
                order_ids[system] = self.repo.execution_order_ids(system)
            out.append(
                TradeConfirmation.from_execution(
                    system, execution, order_ids[system].get(execution.execution_id)
                )
            )
        return sorted(out, key=lambda c: (c.executed_at, c.system, c.execution_id))

    def export_confirmations(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        system_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Path:
        """Write the confirmations to a CSV or JSON file; returns its path."""
        return export_confirmations(
            self.confirmations(system_id=system_id, since=since, until=until), path, format
        )

    # -- reconciliation ------------------------------------------------------------------------

    def reconciler(self, *, book: Any = None, tolerance: Any = None) -> Reconciler:
        """A :class:`~portico.trading.Reconciler` over this service (book: given, else the
        ``portico_position_book`` hook's, else the store's)."""
        return Reconciler(self, book=book, tolerance=tolerance, plugins=self.plugins)

    def daily_reconciliation(self, settings: ReconciliationSchedule | None = None) -> DailyReconciliationJob:
        """The daily job of ``settings`` (default: ``trading.reconciliation``): the book file, when
        configured, is read now, so each scheduled run sees the file as it is at that run.

        Raises:
            ConfigurationError: the book file cannot be read (names ``trading.reconciliation.book``).
            PayloadRejected: a book row is malformed (names the file, line and field).
        """
        settings = settings or self.config.reconciliation or ReconciliationSchedule()
        book = None
        if settings.book is not None:
            try:
                book = FileBook(settings.book)
            except OSError as exc:
                raise ConfigurationError(
                    f"trading.reconciliation.book: cannot read {settings.book}: {exc.strerror or exc}",
                    path="trading.reconciliation.book",
                ) from None
        return DailyReconciliationJob(
            self.reconciler(book=book),
            systems=settings.systems,
            lookback=settings.lookback,
            export_dir=settings.export_dir,
            format=settings.format,
        )

    async def reconcile(
        self,
        systems: Iterable[str] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        book: Any = None,
        tolerance: Any = None,
    ) -> ReconciliationReport:
        """Reconcile positions, executions in ``[since, until)`` and cash; see :meth:`Reconciler.run`."""
        return await self.reconciler(book=book, tolerance=tolerance).run(systems, since=since, until=until)


def _configured_xref(config: TradingConfig) -> InstrumentXref:
    """The cross-reference file of ``trading.reconciliation.instruments``, else an empty one."""
    path = config.reconciliation.instruments if config.reconciliation is not None else None
    if path is None:
        return InstrumentXref()
    try:
        return InstrumentXref.from_csv(path)
    except OSError as exc:
        raise ConfigurationError(
            f"trading.reconciliation.instruments: cannot read {path}: {exc.strerror or exc}",
            path="trading.reconciliation.instruments",
        ) from None
