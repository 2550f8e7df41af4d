"""The trading service: durable order routing, order tracking and trade confirmations across brokers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
from sqlalchemy.exc import IntegrityError

from portico.clock import Clock, system_clock
from portico.context import correlation_scope, current_correlation_id
from portico.errors import (
    CircuitOpen,
    ConfigurationError,
    ConnectionFailed,
    ConnectTimeout,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PayloadRejected,
    PorticoError,
    VenueRejected,
    error_context,
)
from portico.models import (
    Account,
    Execution,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    Position,
    Quote,
)
from portico.sdk import Capability, Connector
from portico.store import Database
from portico.trading._adoption import ADOPTING_SOURCES, adopt_order
from portico.trading._allocation import Allocator, ParentOrderState
from portico.trading._config import ReconciliationSchedule, TradingConfig
from portico.trading._confirmations import TradeConfirmation, export_confirmations
from portico.trading._errors import (
    IdempotencyConflict,
    OrderRejected,
    OrderValidationError,
    RecoveryIncomplete,
    RiskCheckFailed,
)
from portico.trading._events import OrderEventBus, OrderUpdateCallback
from portico.trading._fingerprint import adoption_differences, canonical_request, differences, fingerprint
from portico.trading._live import check_live_trading
from portico.trading._reconcile import DailyReconciliationJob, Reconciler, ReconciliationReport
from portico.trading._records import HistoryEntry, OrderRecord, OrderUpdate
from portico.trading._replace import ORIGIN as REPLACE_ORIGIN
from portico.trading._replace import OrderChanges, Replacements
from portico.trading._repository import AppliedEvent, OrderRepository
from portico.trading._risk import RiskCheck, RiskContext, builtin_risk_checks, order_value
from portico.trading._snapshots import AccountSnapshots
from portico.trading._tracking import Observation, observation_from_order
from portico.trading._xref import InstrumentXref

__all__ = ["RecoveryReport", "TradingService"]

log = logging.getLogger("portico.trading")

# errors raised before anything reached the venue: resending with the same client order id is safe
_PRE_SEND = (ConnectTimeout, ConnectionFailed, CircuitOpen)


_MAX_ORPHAN_ORDERS = 1000

# background lookups of an order's fill details per filled quantity (see TradingService._catch_up_fills)
_FILL_LOOKUPS = 3


class _KeyLocks:
    """One asyncio lock per idempotency key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`TradingService.recover` did for one system."""

    system: str
    resolved: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    refreshed: int = 0

    @property
    def complete(self) -> bool:
        return not self.unresolved


class TradingService:
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
        self.connectors: Mapping[str, Connector] = connectors
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
        self.risk_checks: dict[str, RiskCheck] = {c.name: c for c in checks}
        # limits from an external limits system, asked per order only when some plugin provides them
        self._external_limits = plugins is not None and bool(
            plugins.hooks.hook.portico_risk_limits.get_hookimpls()
        )
        self.events = OrderEventBus()
        self._recovered: set[str] = set()
        self._recovery_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._key_locks = _KeyLocks()
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

    # -- routing ---------------------------------------------------------------------------------

    def connector(self, system_id: str) -> Connector:
        """The connector of ``system_id``; a clear error naming the known systems otherwise."""
        try:
            return self.connectors[system_id]
        except KeyError:
            raise ConfigurationError(
                f"unknown system {system_id!r} (trading systems: {sorted(self.connectors)})",
                path=f"systems.{system_id}",
            ) from None

    def derive_client_order_id(self, system_id: str, idempotency_key: str) -> str:
        """The client order id sent for a key: stable, short enough for every venue (35 characters)."""
        digest = hashlib.sha256(f"{system_id}\x1f{idempotency_key}".encode()).hexdigest()[:32]
        return f"{self.config.client_order_id_prefix}-{digest}"

    async def place_order(
        self,
        system_id: str,
        order_details: OrderRequest | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
    ) -> OrderRecord:
        """Validate, store, then send an order; returns its stored record.

        The same ``idempotency_key`` (default: the request's ``client_order_id``, else a fresh key)
        returns the existing order, never a second one.

        Returns:
            The record: ``NEW``/``ACCEPTED``/filled when the venue answered, ``UNKNOWN`` when the
            outcome is not known yet (it is resolved by lookup, stream or reconciliation).

        Raises:
            IdempotencyConflict: the key was used for an order with different parameters.
            OrderValidationError: the order does not fit the connector's capabilities or the account.
            RiskCheckFailed: a pre-trade risk check refused it.
            OrderRejected: the venue definitively refused it (the record is on the error).
            RecoveryIncomplete: the system still has unresolved intents from before a restart.
            NotSupported: the connector cannot place orders.
            TransportError: reading the account or quotes for validation failed; nothing was stored
                or sent, so calling again with the same key is safe.
        """
        connector = self.connector(system_id)
        request = _coerce_request(order_details)
        key = idempotency_key or request.client_order_id or uuid.uuid4().hex
        if not key or len(key) > 255:
            raise PayloadRejected("idempotency_key must be 1 to 255 characters", field="idempotency_key")
        with correlation_scope() as cid, error_context(system=system_id, correlation_id=cid):
            async with self._key_locks.hold((system_id, key)):
                request_hash, canon = fingerprint(request)
                existing = self.repo.by_key(system_id, key)
                if existing is not None:
                    return self._replay(existing, canon)
                if not connector.spec.capabilities.has(Capability.PLACE_ORDER):
                    raise NotSupported(capability="place_order", system=system_id)
                check_live_trading(system_id, connector, self.live_trading_systems)
                await self.ensure_recovered(system_id)
                held = await self._validate(system_id, connector, request)
                placed = False
                try:
                    record = await self._store_and_send(
                        system_id, key, request, request_hash, canon, parent_id=parent_id
                    )
                    placed = record.status is not OrderStatus.REJECTED
                finally:
                    if held is not None:
                        self.snapshots.settle(system_id, request.account_id, held, placed=placed)
                if record.status is OrderStatus.REJECTED:
                    raise OrderRejected(
                        f"{system_id} rejected order {record.id}: {record.reject_reason}", record=record
                    )
                return record

    async def _store_and_send(
        self,
        system_id: str,
        key: str,
        request: OrderRequest,
        request_hash: str,
        canon: dict[str, Any],
        *,
        parent_id: str | None,
    ) -> OrderRecord:
        """Store the intent (its first send counted), then send it; a key stored meanwhile replays."""
        client_order_id = request.client_order_id or self.derive_client_order_id(system_id, key)
        try:
            record = self.repo.insert_intent(
                id=uuid.uuid4().hex,
                system=system_id,
                idempotency_key=key,
                client_order_id=client_order_id,
                request=request,
                request_hash=request_hash,
                now=self.clock.now(),
                parent_id=parent_id,
                # the first send is counted with the intent, in its transaction
                sending=True,
            )
        except IntegrityError:
            # another process stored the same key first
            existing = self.repo.by_key(system_id, key)
            if existing is not None:
                return self._replay(existing, canon)
            owner = self.repo.key_owner(system_id, key)
            if owner is not None and owner != self.repo.instance:
                raise PayloadRejected(
                    f"idempotency key {key!r} of {system_id} is already used by instance {owner!r} "
                    "sharing this store: use another key (or the same instance)",
                    field="idempotency_key",
                ) from None
            raise PayloadRejected(
                f"client_order_id {client_order_id!r} is already used by another order",
                field="client_order_id",
            ) from None
        await self.events.publish(
            OrderUpdate(
                record=record,
                previous_status=None,
                event="intent",
                source="submit",
                at=record.created_at,
            )
        )
        record = await self._send(record, counted=True)
        self._audit(system_id, "place_order", record.status.value, record)
        return record

    def _replay(self, existing: OrderRecord, canon: dict[str, Any]) -> OrderRecord:
        stored = canonical_request(existing.request)
        diff = differences(stored, canon)
        if diff:
            raise IdempotencyConflict(
                f"idempotency key {existing.idempotency_key!r} was used for a different order "
                f"({existing.id}); differing fields: {', '.join(diff)}",
                idempotency_key=existing.idempotency_key,
                existing_id=existing.id,
                differences=diff,
            )
        if existing.status is OrderStatus.REJECTED:
            raise OrderRejected(
                f"{existing.system} rejected order {existing.id}: {existing.reject_reason}", record=existing
            )
        return existing

    async def _send(
        self, record: OrderRecord, *, source: str = "submit", counted: bool = False
    ) -> OrderRecord:
        """Send a stored intent. ``counted``: the intent was stored with this send counted already
        (:meth:`OrderRepository.insert_intent` with ``sending``), so it is not counted again."""
        connector = self.connector(record.system)
        # re-sends of recovered intents pass here too: a process without the opt-in sends no real money
        check_live_trading(record.system, connector, self.live_trading_systems)
        request = record.request.model_copy(update={"client_order_id": record.client_order_id})
        self._inflight.add(record.id)
        try:
            if not counted:
                record = self.repo.mark_sent(record.id, self.clock.now())
            try:
                order = await asyncio.wait_for(connector.place_order(request), self.config.submit_timeout)
            except VenueRejected as exc:
                if record.attempts > 1:
                    # a resend: the first attempt may have landed and this refusal may be the venue's
                    # duplicate client order id check, so look before concluding
                    try:
                        found = await self._lookup(connector, record)
                    except (OutcomeUnknown, NotSupported):
                        found = None
                    if found is not None:
                        return await self._apply_order(record.id, found, source="lookup")
                return await self._apply(
                    record.id,
                    Observation(
                        status=OrderStatus.REJECTED,
                        event="rejected",
                        source=source,
                        reject_reason=exc.message,
                        error=f"{type(exc).__name__}: {exc.message}",
                    ),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every other failure: the outcome is unknown, never rejected
                pre_send = isinstance(exc, _PRE_SEND)
                err = f"{type(exc).__name__}: {exc}"
                record = await self._apply(
                    record.id,
                    Observation(status=OrderStatus.UNKNOWN, event="unknown", source=source, error=err),
                )
                self._emit(
                    "trading.order.outcome_unknown",
                    system=record.system,
                    severity="warning",
                    order_id=record.id,
                    client_order_id=record.client_order_id,
                    error=err,
                )
                return await self._resolve_locked(record, pre_send=pre_send)
            return await self._apply_order(record.id, order, source=source, record=record)
        finally:
            self._inflight.discard(record.id)

    # -- resolving unknown outcomes -------------------------------------------------------------

    async def _lookup(self, connector: Connector, record: OrderRecord) -> Order | None:
        """The venue's view of an order (None when the venue says it does not exist).

        Raises:
            OutcomeUnknown: the lookup itself kept failing.
            NotSupported: the connector cannot look orders up.
        """
        delay = self.config.lookup_backoff
        last: BaseException | None = None
        for attempt in range(self.config.lookup_attempts):
            try:
                if record.venue_order_id and connector.spec.capabilities.has(Capability.GET_ORDER):
                    return await connector.get_order(record.venue_order_id)
                return await connector.get_order_by_client_id(record.client_order_id)
            except NotFound:
                return None
            except NotSupported:
                raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last = exc
                if attempt + 1 < self.config.lookup_attempts:
                    await self.clock.sleep(delay)
                    delay = min(delay * 2, 5.0)
        raise OutcomeUnknown(
            f"could not look up order {record.id}: {last}",
            idempotency_key=record.idempotency_key,
            system=record.system,
        ) from last

    async def resolve(self, order_id: str, *, source: str = "lookup") -> OrderRecord:
        """Resolve one unknown outcome now (lookup by client order id; resend if never received)."""
        record = self._find(None, order_id)
        if not record.is_unresolved or record.id in self._inflight:
            return record
        self._inflight.add(record.id)
        try:
            return await self._resolve_locked(record, pre_send=record.sent_at is None, source=source)
        finally:
            self._inflight.discard(record.id)

    async def _resolve_locked(
        self, record: OrderRecord, *, pre_send: bool, source: str = "lookup"
    ) -> OrderRecord:
        if record.origin == REPLACE_ORIGIN:
            # a replace is resolved by looking at the venue, never by placing it as a new order
            return await self.replacements.resolve(record, pre_send=pre_send, source=source)
        connector = self.connector(record.system)
        try:
            order = await self._lookup(connector, record)
        except NotSupported:
            return record
        except OutcomeUnknown as exc:
            self.repo.set_error(record.id, exc.message, self.clock.now())
            return self.repo.get(record.id) or record
        if order is not None:
            return await self._apply_order(record.id, order, source=source)
        current = self.repo.get(record.id) or record
        if not current.is_unresolved:
            # a stream event resolved it while we looked
            return current
        if current.attempts >= self.config.max_submit_attempts:
            self._emit(
                "trading.order.unresolved",
                system=record.system,
                severity="error",
                order_id=record.id,
                attempts=current.attempts,
            )
            return current
        if pre_send or self.config.resubmit_when_not_found:
            return await self._send(current, source="resubmit")
        return current

    async def ensure_recovered(self, system_id: str) -> None:
        """Run :meth:`recover` once for the system; raise if intents stay unresolved.

        Raises:
            RecoveryIncomplete: some intents could not be resolved (venue unreachable...).
        """
        if system_id in self._recovered:
            return
        report = await self.recover(system_id)
        if report.unresolved:
            raise RecoveryIncomplete(
                f"{system_id} has {len(report.unresolved)} unresolved order intents; new orders wait until "
                "they are resolved",
                unresolved=report.unresolved,
                system=system_id,
            )

    async def recover(self, system_id: str) -> RecoveryReport:
        """Resolve every unresolved intent of a system (after a restart) and refresh its open orders."""
        async with self._recovery_locks[system_id]:
            pending = [r for r in self.repo.unresolved(system_id) if r.id not in self._inflight]
            resolved: list[str] = []
            gate = asyncio.Semaphore(8)

            async def one(record: OrderRecord) -> None:
                async with gate:
                    if record.id in self._inflight:
                        return
                    self._inflight.add(record.id)
                    try:
                        after = await self._resolve_locked(
                            record, pre_send=record.sent_at is None, source="recovery"
                        )
                        if not after.is_unresolved:
                            resolved.append(after.id)
                    except PorticoError as exc:
                        log.warning("recovery of order %s failed: %s", record.id, exc)
                    finally:
                        self._inflight.discard(record.id)

            await asyncio.gather(*(one(r) for r in pending))
            refreshed = 0
            try:
                refreshed = await self.poll(system_id)
            except PorticoError as exc:
                log.warning("refreshing open orders of %s failed: %s", system_id, exc)
            unresolved = [r.id for r in self.repo.unresolved(system_id) if r.id not in self._inflight]
            if not unresolved:
                self._recovered.add(system_id)
            report = RecoveryReport(
                system=system_id, resolved=resolved, unresolved=unresolved, refreshed=refreshed
            )
            self._emit(
                "trading.recovery",
                system=system_id,
                severity="info" if report.complete else "warning",
                resolved=len(resolved),
                unresolved=len(unresolved),
            )
            return report

    async def resolve_pending(self, system_id: str | None = None) -> int:
        """One round of resolving unknown outcomes (what the background loop runs); returns how many resolved."""
        count = 0
        for sid in [system_id] if system_id else list(self.connectors):
            for record in self.repo.unresolved(sid):
                # never-sent intents of a system not recovered yet are recovery's to send
                if record.id in self._inflight or (record.sent_at is None and sid not in self._recovered):
                    continue
                try:
                    after = await self.resolve(record.id)
                except IdempotencyConflict as exc:
                    log.warning("order %s not linked: %s", record.id, exc.message)
                    continue
                count += not after.is_unresolved
        return count

    # -- tracking --------------------------------------------------------------------------------

    async def _apply(self, order_id: str, obs: Observation) -> OrderRecord:
        before, after, entry = self.repo.apply(order_id, obs, self.clock.now())
        return await self._applied(before, after, entry, obs)

    async def _applied(
        self, before: OrderRecord, after: OrderRecord, entry: HistoryEntry | None, obs: Observation
    ) -> OrderRecord:
        """Tell subscribers and the monitor about an applied observation; apply events held for it."""
        order_id = after.id
        if after.filled_quantity > before.filled_quantity:
            self.snapshots.filled(after.system)  # held positions moved: sells read them again
        if entry is not None:
            await self.events.publish(
                OrderUpdate(
                    record=after,
                    previous_status=before.status,
                    event=obs.event,
                    source=obs.source,
                    at=entry.at,
                )
            )
            if after.status is not before.status:
                self._emit(
                    "trading.order.status",
                    system=after.system,
                    order_id=after.id,
                    status=after.status.value,
                    previous=before.status.value,
                    source=obs.source,
                )
        learned = after.venue_order_id is not None and before.venue_order_id is None
        if learned and await self._drain_orphans(after.system, str(after.venue_order_id)):
            after = self.repo.get(order_id) or after  # the held events moved it on
        return after

    async def _apply_order(
        self, order_id: str, order: Order, *, source: str, record: OrderRecord | None = None
    ) -> OrderRecord:
        """Apply the venue's view of an order. ``record``: the intent as just stored by the caller
        (saves reading it again); only its venue order id is used, and it only grows."""
        if record is None:
            record = self.repo.get(order_id)
        if record is not None and record.venue_order_id is None:
            await self._check_adoption(record, order)
        return await self._apply(order_id, observation_from_order(order, source=source))

    async def _check_adoption(self, record: OrderRecord, order: Order) -> None:
        """Refuse to link an intent to a venue order placed with other parameters.

        The client order id derives from the idempotency key, so another store (another process or
        host) that placed the same key first owns the venue's order: when its parameters differ, this
        intent was never placed. It is marked rejected, unlinked, and the caller gets the conflict.

        Raises:
            IdempotencyConflict: the venue's order differs from the intent (the fields are named).
        """
        diff = adoption_differences(record.request, order)
        if not diff:
            return
        shown = ", ".join(f"{name} (intent {mine}, venue {theirs})" for name, (mine, theirs) in diff.items())
        message = (
            f"idempotency key {record.idempotency_key!r}: the venue already holds order {order.order_id} "
            f"under client order id {record.client_order_id} with other parameters, so order {record.id} "
            f"was not placed; differing fields: {shown}"
        )
        if record.status is not OrderStatus.REJECTED:
            await self._apply(
                record.id,
                Observation(
                    status=OrderStatus.REJECTED,
                    event="rejected",
                    source="idempotency",
                    reject_reason=message,
                    error=f"IdempotencyConflict: {message}",
                ),
            )
            self._emit(
                "trading.order.idempotency_conflict",
                system=record.system,
                severity="error",
                order_id=record.id,
                venue_order_id=order.order_id,
                fields=list(diff),
            )
            self._audit(record.system, "place_order", "idempotency_conflict", record, fields=list(diff))
        raise IdempotencyConflict(
            message,
            idempotency_key=record.idempotency_key,
            existing_id=record.id,
            differences=diff,
            system=record.system,
        )

    async def apply_event(self, system_id: str, event: OrderEvent) -> OrderRecord | None:
        """Apply one order event (from a stream, a poll or a lookup) in arrival order.

        Duplicates (same ``event_id``) are ignored, out-of-order events never lower the filled
        quantity or undo a later status, and an attached execution is recorded once. Events for an
        order not known yet by client order id or venue id are held until its venue id is learned.

        Returns:
            The order after the event, or None when the event was held.
        """
        order = event.order
        obs = observation_from_order(
            order, source=event.source, event=event.event, event_id=event.event_id, event_at=event.timestamp
        )
        execution = event.execution
        # the usual case in one transaction: find and lock the order, record the fill, apply the status
        applied = self.repo.apply_event(
            system_id,
            client_order_id=order.client_order_id,
            venue_order_id=order.order_id,
            obs=obs,
            now=self.clock.now(),
            execution=execution,
            instrument_id=None
            if execution is None
            else self.xref.resolve(system_id, symbol=execution.symbol),
            book=self.config.book,
            # an intent not linked yet whose venue order differs goes the careful way below
            usual=lambda r: r.venue_order_id is not None or not adoption_differences(r.request, order),
        )
        if isinstance(applied, AppliedEvent):
            if applied.execution_recorded and execution is not None:
                self._emit_execution(
                    system_id, applied.execution_id or execution.execution_id, applied.after.id, execution
                )
            return await self._applied(applied.before, applied.after, applied.entry, obs)
        record = applied
        if record is None and order.filled_quantity:
            self.snapshots.filled(system_id)  # an order not placed here filled: positions moved
        if record is None and event.source in ADOPTING_SOURCES:
            return await adopt_order(self, system_id, event)  # placed outside portico: tracked from now
        if record is None:
            if (system_id, order.order_id) not in self._orphans and len(self._orphans) >= _MAX_ORPHAN_ORDERS:
                # orders placed outside portico never get claimed: forget the oldest
                self._orphans.pop(next(iter(self._orphans)))
            self._orphans[(system_id, order.order_id)].append(event)
            return None
        if record.venue_order_id is None and adoption_differences(record.request, order):
            if record.status is OrderStatus.REJECTED:
                # refused already: the venue's order belongs to the store that placed it
                return None
            await self._check_adoption(record, order)
        if event.execution is not None:
            # recorded before the status moves, so the fill is not fetched a second time
            await self.record_execution(system_id, event.execution, order_id=record.id)
        return await self._apply(record.id, obs)

    async def _drain_orphans(self, system_id: str, venue_order_id: str) -> bool:
        """Apply the events held for an order whose venue id was just learned; True when any were."""
        held = self._orphans.pop((system_id, venue_order_id), None)
        for event in held or ():
            await self.apply_event(system_id, event)
        return bool(held)

    async def record_execution(
        self, system_id: str, execution: Execution, *, order_id: str | None = None
    ) -> bool:
        """Store an execution (commission and fees included) once; returns False for a repeat."""
        if order_id is None:
            match = None
            if execution.client_order_id:
                match = self.repo.by_client_id(system_id, execution.client_order_id)
            if match is None and execution.order_id:
                match = self.repo.by_venue_id(system_id, execution.order_id)
            order_id = None if match is None else match.id
        if order_id is not None and execution.client_order_id is None:
            # a venue's fill report may not name the client order id (Alpaca's REST activities do
            # not): the fill of a known order carries it, whichever report arrives first
            owner = self.repo.get(order_id)
            if owner is not None:
                execution = execution.model_copy(update={"client_order_id": owner.client_order_id})
        instrument_id = self.xref.resolve(system_id, symbol=execution.symbol)
        new = self.repo.record_execution(
            system_id,
            execution,
            order_id=order_id,
            instrument_id=instrument_id,
            now=self.clock.now(),
            book=self.config.book,
        )
        if new:
            self._emit_execution(system_id, execution.execution_id, order_id, execution)
        return new

    def _emit_execution(
        self, system_id: str, execution_id: str, order_id: str | None, execution: Execution
    ) -> None:
        self._emit(
            "trading.execution",
            system=system_id,
            execution_id=execution_id,
            order_id=order_id,
            quantity=str(execution.quantity),
            price=str(execution.price),
        )

    async def record_missing_fills(
        self,
        system_id: str,
        *,
        since: datetime | None = None,
        orders: Iterable[OrderRecord] | None = None,
    ) -> int:
        """Record the venue's executions of orders whose filled quantity is ahead of the executions
        recorded for them; returns how many were new.

        A fill can be learned from an order status alone (a submit answer that is already filled, a
        poll, a stream that reports status but not the fill): this fetches the fill details of those
        orders only, so executions of orders portico did not place stay unexpected at reconciliation.

        Args:
            system_id: the system.
            since: only fills executed since then and, without ``orders``, only orders updated since
                then (default: all).
            orders: only these orders (default: every order of the system short of executions).
        """
        connector = self.connector(system_id)
        if not connector.spec.capabilities.has(Capability.GET_EXECUTIONS):
            return 0
        if orders is None:
            pending = self.repo.unrecorded_fills(system_id, since=since)
        else:
            wanted = {r.id for r in orders}
            pending = [r for r in self.repo.unrecorded_fills(system_id) if r.id in wanted]
        by_venue_id = {r.venue_order_id: r for r in pending if r.venue_order_id}
        if not by_venue_id:
            return 0
        # asked by order id alone when one order is short: a venue stamps fills on its own clock,
        # so a time window taken from ours could miss them
        only = next(iter(by_venue_id)) if len(by_venue_id) == 1 else None
        count = 0
        for execution in await connector.get_executions(since=since, order_id=only):
            record = by_venue_id.get(execution.order_id)
            if record is not None:
                count += await self.record_execution(system_id, execution, order_id=record.id)
        return count

    async def sync_executions(
        self, system_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> int:
        """Fetch the venue's executions in a range and record the new ones; returns how many were new."""
        connector = self.connector(system_id)
        count = 0
        for execution in await connector.get_executions(since=since, until=until):
            count += await self.record_execution(system_id, execution)
        return count

    async def refresh(self, system_id: str, order_id: str) -> OrderRecord:
        """Look an order up at the venue now and apply what it says."""
        record = self._find(system_id, order_id)
        if record.is_unresolved:
            return await self.resolve(record.id)
        order = await self._lookup(self.connector(system_id), record)
        if order is None:
            return record
        return await self._apply_order(record.id, order, source="lookup")

    async def poll(self, system_id: str) -> int:
        """Refresh every open (acknowledged, not terminal) order of a system; returns how many changed."""
        connector = self.connector(system_id)
        live = [
            r for r in self.repo.open_orders(system_id) if not r.is_unresolved and r.id not in self._inflight
        ]
        if not live:
            return 0
        changed = 0
        by_cid: dict[str, Order] = {}
        if connector.spec.capabilities.has(Capability.LIST_ORDERS):
            since = min(r.created_at for r in live) - timedelta(minutes=5)
            for order in await connector.list_orders(status="all", since=since):
                if order.client_order_id:
                    by_cid[order.client_order_id] = order
        for record in live:
            order = by_cid.get(record.client_order_id)
            if order is None:
                try:
                    order = await self._lookup(connector, record)
                except (OutcomeUnknown, NotSupported):
                    continue
            if order is None:
                continue
            after = await self._apply_order(record.id, order, source="poll")
            changed += (after.status, after.filled_quantity) != (record.status, record.filled_quantity)
        return changed

    # -- queries ---------------------------------------------------------------------------------

    def _find(self, system_id: str | None, order_id: str) -> OrderRecord:
        record = self.repo.find(system_id, order_id)
        if record is None:
            raise NotFound(
                f"no order {order_id!r}" + (f" for {system_id}" if system_id else ""), system=system_id
            )
        return record

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
        from portico.trading._book import FileBook

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

    # -- cancel ----------------------------------------------------------------------------------

    async def cancel_order(self, system_id: str, order_id: str) -> OrderRecord:
        """Ask the venue to cancel an order; the record moves to ``PENDING_CANCEL`` until confirmed.

        A terminal order is returned unchanged. An order whose venue id is not known yet is resolved
        first.

        Raises:
            OutcomeUnknown: the order's outcome is still unknown, so there is nothing to cancel yet.
            VenueRejected: the venue refused the cancel (the record is refreshed first).
        """
        connector = self.connector(system_id)
        check_live_trading(system_id, connector, self.live_trading_systems)
        record = self._find(system_id, order_id)
        with correlation_scope(), error_context(system=system_id):
            if record.is_unresolved:
                record = await self.resolve(record.id)
            if record.is_terminal:
                return record
            if record.venue_order_id is None:
                raise OutcomeUnknown(
                    f"order {record.id} has no venue id yet; cancel once its outcome is known",
                    idempotency_key=record.idempotency_key,
                )
            try:
                await connector.cancel_order(record.venue_order_id)
            except VenueRejected as exc:
                self._audit(system_id, "cancel_order", "rejected", record, error=exc.message)
                with contextlib.suppress(PorticoError):
                    await self.refresh(system_id, record.id)
                raise
            record = await self._apply(
                record.id,
                Observation(status=OrderStatus.PENDING_CANCEL, event="cancel_requested", source="cancel"),
            )
            self._audit(system_id, "cancel_order", "requested", record)
            with contextlib.suppress(PorticoError):
                record = await self.refresh(system_id, record.id)
            return record

    # -- replace ---------------------------------------------------------------------------------

    async def replace_order(
        self,
        system_id: str,
        order_id: str,
        changes: OrderChanges | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> OrderRecord:
        """Change an open order (quantity, limit or stop price, time in force); returns the replacement.

        The replace is stored as its own intent (the order as it will stand, origin ``replace``) under
        ``idempotency_key`` before it is sent; the same key returns the same replacement, never a second
        replace. The replacement takes the venue's answer (the new order at venues that replace, the same
        order at venues that modify in place) and the original becomes ``replaced``. A lost answer leaves
        the replacement ``unknown`` until a look at the venue resolves it (see
        :mod:`portico.trading._replace`).

        Raises:
            OrderNotReplaceable: the order is filled, cancelled, rejected, expired or replaced, or another
                replace of it is still unresolved.
            IdempotencyConflict: the key was used for another request.
            OrderRejected: the venue refused the replace (the original order stands).
            OutcomeUnknown: the original's own outcome is not known yet.
            NotSupported: the connector cannot replace orders.
        """
        return await self.replacements.replace(system_id, order_id, changes, idempotency_key=idempotency_key)

    # -- validation ------------------------------------------------------------------------------

    async def _validate(self, system_id: str, connector: Connector, request: OrderRequest) -> int | None:
        """Check the order against the connector's capabilities, the account and the risk checks.

        Returns:
            The token of the buying power held back for a buy (settle it once the placement answers),
            or None when none was held.
        """
        caps = connector.spec.capabilities
        where = f"{system_id} ({connector.spec.name})"
        if caps.order_types and request.order_type not in caps.order_types:
            raise OrderValidationError(
                f"{where} does not take {request.order_type.value} orders "
                f"(it takes {', '.join(t.value for t in caps.order_types)})",
                field="order_type",
            )
        if caps.time_in_force and request.time_in_force not in caps.time_in_force:
            raise OrderValidationError(
                f"{where} does not take time in force {request.time_in_force.value} "
                f"(it takes {', '.join(t.value for t in caps.time_in_force)})",
                field="time_in_force",
            )
        if caps.asset_classes and request.asset_class not in caps.asset_classes:
            raise OrderValidationError(
                f"{where} does not trade {request.asset_class.value} "
                f"(it trades {', '.join(a.value for a in caps.asset_classes)})",
                field="asset_class",
            )
        if request.notional is not None and not caps.notional_orders:
            raise OrderValidationError(f"{where} does not take notional orders", field="notional")
        if (
            request.quantity is not None
            and request.quantity != request.quantity.to_integral_value()
            and not caps.fractional
        ):
            raise OrderValidationError(f"{where} does not take fractional quantities", field="quantity")
        if request.extended_hours and not caps.extended_hours:
            raise OrderValidationError(f"{where} does not trade extended hours", field="extended_hours")

        if system_id in self._streams_up:
            try:
                return await self._check_account(system_id, connector, request, reuse=True)
            except (OrderValidationError, RiskCheckFailed):
                # state reused within its age limit never refuses an order by itself: read it afresh
                pass
        return await self._check_account(system_id, connector, request, reuse=False)

    async def _check_account(
        self, system_id: str, connector: Connector, request: OrderRequest, *, reuse: bool
    ) -> int | None:
        """Buying power, held position and the risk checks; ``reuse``: account state and quotes
        within their age limit may stand in for reads (see :class:`AccountSnapshots`)."""
        caps = connector.spec.capabilities
        risk_settings = self.risk_settings(system_id, request.account_id)
        # account-specific limits apply to orders without an account id too (the default account)
        needs_account = (
            self.config.validate_account
            or bool(risk_settings)
            or bool(self.config.risk.accounts)
            or self._external_limits
        )
        account: Account | None = None
        positions: list[Position] = []
        if needs_account and caps.has(Capability.GET_ACCOUNT):
            account = await self.snapshots.account(
                system_id, request.account_id, lambda: connector.get_account(request.account_id), reuse=reuse
            )
        account_id = request.account_id or (account.account_id if account else None)
        if (
            account_id != request.account_id
            and request.account_id is None
            and (self.config.risk.accounts or self._external_limits)
        ):
            risk_settings = self.risk_settings(system_id, account_id)
        wants_positions = request.side is not OrderSide.BUY or any(
            getattr(self.risk_checks.get(name), "needs_positions", False) for name in risk_settings
        )
        if needs_account and wants_positions and caps.has(Capability.GET_POSITIONS):
            positions = await self.snapshots.positions(
                system_id,
                request.account_id,
                lambda: connector.get_positions(request.account_id),
                reuse=reuse,
            )
        price = (
            await self._estimate_price(system_id, connector, request, positions, reuse=reuse)
            if needs_account
            else None
        )

        if self.config.validate_account:
            value = order_value(request, price)
            if (
                request.side is OrderSide.BUY
                and account is not None
                and account.buying_power is not None
                and value is not None
                and value > account.buying_power
            ):
                raise OrderValidationError(
                    f"order value {value} exceeds buying power {account.buying_power} of account {account.account_id}",
                    field="quantity",
                )
            if (
                request.side is OrderSide.SELL
                and request.quantity is not None
                and caps.has(Capability.GET_POSITIONS)
            ):
                held = sum(
                    (p.quantity for p in positions if p.symbol.upper() == request.symbol.upper()), Decimal(0)
                )
                reserved = self._open_sell_quantity(system_id, request)
                if request.quantity > held - reserved:
                    raise OrderValidationError(
                        f"selling {request.quantity} {request.symbol} but only {held - reserved} is available "
                        f"(held {held}, {reserved} in open sell orders)",
                        field="quantity",
                    )

        if risk_settings:
            instrument_id = self.xref.resolve(system_id, symbol=request.symbol)
            for name, settings in risk_settings.items():
                check = self.risk_checks.get(name)
                if check is None:
                    raise ConfigurationError(
                        f"risk check {name!r} is configured but not installed (installed: {sorted(self.risk_checks)})",
                        path=f"trading.risk.{name}",
                    )
                context = RiskContext(
                    system=system_id,
                    account_id=account_id,
                    settings=settings,
                    price=price,
                    account=account,
                    positions=positions,
                    instrument_id=instrument_id,
                )
                reason = check.check(request, context)
                if reason is not None and reuse:
                    raise RiskCheckFailed("refused on reused account state", check=name)
                if reason is not None:
                    self._emit(
                        "trading.risk.refused",
                        system=system_id,
                        severity="warning",
                        check=name,
                        symbol=request.symbol,
                        reason=reason,
                        account_id=account_id,
                    )
                    raise RiskCheckFailed(f"risk check {name} refused the order: {reason}", check=name)

        value = order_value(request, price) if request.side is OrderSide.BUY else None
        if account is not None and value is not None:
            return self.snapshots.reserve(system_id, request.account_id, value)
        return None

    def risk_settings(self, system_id: str, account_id: str | None) -> dict[str, dict[str, Any]]:
        """Check name -> settings for an account: the configuration's, with the limits an external
        limits system gives through ``portico_risk_limits`` laid over them."""
        settings = self.config.risk.settings_for(account_id)
        if self._external_limits:
            for given in self.plugins.hooks.hook.portico_risk_limits(system=system_id, account_id=account_id):
                for name, value in (given or {}).items():
                    if value is None:
                        settings.pop(name, None)
                    else:
                        settings[name] = {**settings.get(name, {}), **dict(value)}
        return settings

    def _open_sell_quantity(self, system_id: str, request: OrderRequest) -> Decimal:
        total = Decimal(0)
        for record in self.repo.open_orders(system_id):
            if (
                record.request.side is OrderSide.SELL
                and record.request.symbol.upper() == request.symbol.upper()
                and record.request.account_id == request.account_id
                and record.request.quantity is not None
            ):
                total += record.request.quantity - record.filled_quantity
        return total

    async def _estimate_price(
        self,
        system_id: str,
        connector: Connector,
        request: OrderRequest,
        positions: list[Position],
        *,
        reuse: bool,
    ) -> Decimal | None:
        if request.limit_price is not None:
            return request.limit_price
        if request.stop_price is not None:
            return request.stop_price
        if connector.spec.capabilities.has(Capability.GET_LATEST_QUOTES):

            async def read() -> Quote | None:
                try:
                    quotes = await connector.get_latest_quotes([request.symbol])
                except PorticoError:
                    return None
                return quotes.get(request.symbol)

            quote = await self.snapshots.quote(system_id, request.symbol, read, reuse=reuse)
            if quote is not None:
                side_price = quote.ask_price if request.side is OrderSide.BUY else quote.bid_price
                for candidate in (side_price, quote.last_price, quote.mid):
                    if candidate:
                        return candidate
        for pos in positions:
            if pos.symbol.upper() == request.symbol.upper() and pos.market_price:
                return pos.market_price
        return None

    # -- background ------------------------------------------------------------------------------

    async def _stream_loop(self, system_id: str) -> None:
        connector = self.connectors[system_id]
        delay = self.config.stream_backoff
        while self._running:
            try:
                # while the stream runs, pre-trade checks may reuse account state within its age limit
                self._streams_up.add(system_id)
                async for event in connector.subscribe_order_updates():
                    delay = self.config.stream_backoff
                    try:
                        await self.apply_event(system_id, event)
                    except PorticoError as exc:
                        log.warning("order event for %s not applied: %s", system_id, exc)
                if not self._running:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._emit(
                    "trading.stream.disconnected", system=system_id, severity="warning", error=str(exc)
                )
            finally:
                # down: every check reads the venue again until the stream is back
                self._streams_up.discard(system_id)
                self.snapshots.forget(system_id)
            await self._pause(delay)
            delay = min(max(delay, 0.05) * 2, 30.0)
            # events missed while disconnected: poll the open orders
            with contextlib.suppress(Exception):
                await self.poll(system_id)

    async def _resolver_loop(self) -> None:
        last_poll = self.clock.monotonic()
        while self._running:
            await self._pause(self.config.resolve_interval)
            try:
                await self.resolve_pending()
                await self._catch_up_fills()
                if self.clock.monotonic() - last_poll >= self.config.poll_interval:
                    last_poll = self.clock.monotonic()
                    for system_id, connector in self.connectors.items():
                        if not connector.spec.capabilities.has(Capability.SUBSCRIBE_ORDER_UPDATES):
                            await self.poll(system_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("trading resolver round failed")

    async def _catch_up_fills(self) -> None:
        """One background round of :meth:`record_missing_fills` over the last day's orders.

        An order whose fills the venue does not report (yet) is asked about again only when its filled
        quantity moves, at most :data:`_FILL_LOOKUPS` times per quantity, so a venue's pacing budget is
        not spent round after round; reconciliation always asks.
        """
        since = self.clock.now() - timedelta(days=1)
        short: set[str] = set()
        for system_id in list(self.connectors):
            due = []
            for record in self.repo.unrecorded_fills(system_id, since=since):
                short.add(record.id)
                filled, tries = self._fill_lookups.get(record.id, (record.filled_quantity, 0))
                if filled != record.filled_quantity:
                    tries = 0
                if tries < _FILL_LOOKUPS:
                    self._fill_lookups[record.id] = (record.filled_quantity, tries + 1)
                    due.append(record)
            if not due:
                continue
            # a day before the oldest order bounds the venue's answer yet tolerates its clock's skew
            window = min(r.created_at for r in due) - timedelta(days=1)
            try:
                await self.record_missing_fills(system_id, since=window, orders=due)
            except Exception as exc:  # best effort: reconciliation records what is still missing
                log.warning("fills of %s not recorded yet: %s", system_id, exc)
        # forget orders whose fills are recorded (or that left the window)
        self._fill_lookups = {k: v for k, v in self._fill_lookups.items() if k in short}

    async def _pause(self, seconds: float) -> None:
        """Wait between background rounds. A fake clock that advances itself on every sleep would turn
        the background loops into busy loops, so with one they wait in real time instead (tests drive
        rounds with :meth:`resolve_pending` and :meth:`poll`)."""
        if getattr(self.clock, "auto_advance", False):
            await asyncio.sleep(seconds)
        else:
            await self.clock.sleep(seconds)

    # -- monitor and audit -----------------------------------------------------------------------

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


def _coerce_request(details: OrderRequest | Mapping[str, Any]) -> OrderRequest:
    if isinstance(details, OrderRequest):
        return details
    try:
        return OrderRequest.model_validate(dict(details))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "order"
        raise PayloadRejected(f"order_details.{path}: {first['msg']}", field=path) from None
