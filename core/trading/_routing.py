"""Order routing: placing an order durably at its venue, cancelling it, and handing a replace to
:mod:`portico.trading._replace`.

Every order is stored as an intent with its business idempotency key before it is sent, and sent
with a client order id derived from that key, so the same key never produces a second order at the
venue. Only a definitive venue answer (:class:`~portico.errors.VenueRejected`) marks an order
rejected; every other failure leaves it ``UNKNOWN`` for :mod:`portico.trading._recovery` to resolve.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from portico.context import correlation_scope
from portico.errors import (
    CircuitOpen,
    ConnectionFailed,
    ConnectTimeout,
    NotSupported,
    OutcomeUnknown,
    PorticoError,
    VenueRejected,
    error_context,
)
from portico.models import OrderRequest, OrderStatus
from portico.sdk import Capability
from portico.trading._core import ServiceCore
from portico.trading._errors import IdempotencyConflict
from portico.trading._fingerprint import canonical_request, differences, fingerprint
from portico.trading._intents import (
    admit,
    checked_key,
    coerce_request,
    mark_unknown,
    publish_intent,
    raise_if_rejected,
    store_intent,
)
from portico.trading._live import check_live_trading
from portico.trading._records import OrderRecord
from portico.trading._replace import OrderChanges
from portico.trading._tracking import Observation

__all__ = ["OrderRouting"]

# errors raised before anything reached the venue: resending with the same client order id is safe
_PRE_SEND = (ConnectTimeout, ConnectionFailed, CircuitOpen)


class OrderRouting(ServiceCore):
    """Placing, cancelling and replacing orders (part of :class:`~portico.trading.TradingService`)."""

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
        request = coerce_request(order_details)
        key = checked_key(idempotency_key, request.client_order_id)
        with correlation_scope() as cid, error_context(system=system_id, correlation_id=cid):
            async with self._key_locks.hold((system_id, key)):
                request_hash, canon = fingerprint(request)
                existing = self.repo.by_key(system_id, key)
                if existing is not None:
                    return self._replay(existing, canon)
                await admit(self, system_id, connector, Capability.PLACE_ORDER)
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
                return raise_if_rejected(record)

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
        record, stored = store_intent(
            self,
            id=uuid.uuid4().hex,
            system_id=system_id,
            key=key,
            client_order_id=request.client_order_id or self.derive_client_order_id(system_id, key),
            request=request,
            request_hash=request_hash,
            parent_id=parent_id,
        )
        if not stored:
            # another process stored the same key first
            return self._replay(record, canon)
        await publish_intent(self, record, source="submit")
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
        return raise_if_rejected(existing)

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
                record = await mark_unknown(self, record, f"{type(exc).__name__}: {exc}", source=source)
                return await self._resolve_locked(record, pre_send=pre_send)
            return await self._apply_order(record.id, order, source=source, record=record)
        finally:
            self._inflight.discard(record.id)

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
