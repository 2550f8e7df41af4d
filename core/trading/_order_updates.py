"""Order updates: applying what venues report (stream events, submit answers, lookups, polls) to
the stored orders, and recording executions once.

Events apply in arrival order: duplicates (same ``event_id``) are ignored, out-of-order events never
lower the filled quantity or undo a later status (see :mod:`portico.trading._tracking`), and an attached
execution is recorded once, moving the internal book in the same transaction. Events for an order not
known yet are held until its venue id is learned; orders placed outside portico are adopted
(:mod:`portico.trading._adoption`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from portico.models import Execution, Order, OrderEvent, OrderStatus
from portico.sdk import Capability
from portico.trading._adoption import ADOPTING_SOURCES, adopt_order
from portico.trading._core import ServiceCore
from portico.trading._errors import IdempotencyConflict
from portico.trading._fingerprint import adoption_differences
from portico.trading._records import HistoryEntry, OrderRecord, OrderUpdate
from portico.trading._repository import AppliedEvent
from portico.trading._tracking import Observation, observation_from_order

__all__ = ["OrderUpdates"]

_MAX_ORPHAN_ORDERS = 1000
"""Orders whose events are held (unknown yet by venue id) at most; the oldest is forgotten first."""


class OrderUpdates(ServiceCore):
    """Applying order events and executions (part of :class:`~portico.trading.TradingService`)."""

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
