"""Recovery: resolving orders whose outcome is not known, by looking at the venue.

A send whose answer was lost leaves its order ``UNKNOWN``; after a restart, intents stored but maybe
never sent wait too. Each is resolved by a lookup by client order id (or venue id): found, the venue's
view is applied; not found, an intent known never to have reached the venue is sent again (with the
same client order id), anything else waits. :meth:`OrderRecovery.recover` does this for a whole system
before new orders for it are accepted; :meth:`OrderRecovery.poll` refreshes the open orders.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from portico.errors import NotFound, NotSupported, OutcomeUnknown, PorticoError
from portico.models import Order
from portico.sdk import Capability, Connector
from portico.trading._core import ServiceCore, log
from portico.trading._errors import IdempotencyConflict, RecoveryIncomplete
from portico.trading._records import OrderRecord
from portico.trading._replace import ORIGIN as REPLACE_ORIGIN

__all__ = ["OrderRecovery", "RecoveryReport"]


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


class OrderRecovery(ServiceCore):
    """Resolving unknown outcomes, recovery after a restart, lookups and polls (part of
    :class:`~portico.trading.TradingService`)."""

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
            for listed in await connector.list_orders(status="all", since=since):
                if listed.client_order_id:
                    by_cid[listed.client_order_id] = listed
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
