"""Storing an order intent before it is sent: what placement and replace share.

Both take an idempotency key, hold a per-key lock, replay a stored key, refuse a system that cannot
take the request or is not cleared for live money or not recovered yet, store the intent (its first
send counted) in one transaction, tell subscribers, and mark a send whose answer was lost ``unknown``
(never rejected). The helpers here are those steps, once; :mod:`portico.trading._routing` and
:mod:`portico.trading._replace` compose them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pydantic
from sqlalchemy.exc import IntegrityError

from portico.errors import NotSupported, PayloadRejected
from portico.models import OrderRequest, OrderStatus
from portico.sdk import Capability, Connector
from portico.trading._errors import OrderRejected
from portico.trading._live import check_live_trading
from portico.trading._records import OrderRecord, OrderUpdate
from portico.trading._tracking import Observation

if TYPE_CHECKING:
    from portico.trading._core import ServiceCore

__all__ = [
    "KeyLocks",
    "admit",
    "checked_key",
    "coerce_request",
    "mark_unknown",
    "publish_intent",
    "raise_if_rejected",
    "store_intent",
]


class KeyLocks:
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


def checked_key(*candidates: str | None) -> str:
    """The first given idempotency key (else a fresh one); a clear error when it is not 1 to 255
    characters."""
    key = next((c for c in candidates if c), None) or uuid.uuid4().hex
    if len(key) > 255:
        raise PayloadRejected("idempotency_key must be 1 to 255 characters", field="idempotency_key")
    return key


def coerce_request(details: OrderRequest | Mapping[str, Any]) -> OrderRequest:
    """The order request of a model or a mapping; a clear error naming the field otherwise."""
    if isinstance(details, OrderRequest):
        return details
    try:
        return OrderRequest.model_validate(dict(details))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "order"
        raise PayloadRejected(f"order_details.{path}: {first['msg']}", field=path) from None


async def admit(service: ServiceCore, system_id: str, connector: Connector, capability: Capability) -> None:
    """Refuse a new intent for a system that cannot take it, is not cleared for live money, or still
    has unresolved intents from before a restart (recovered first).

    Raises:
        NotSupported: the connector lacks ``capability``.
        LiveTradingNotAllowed: the system's environment moves real money without the opt-in.
        RecoveryIncomplete: intents of the system stay unresolved.
    """
    if not connector.spec.capabilities.has(capability):
        raise NotSupported(capability=capability.value, system=system_id)
    check_live_trading(system_id, connector, service.live_trading_systems)
    await service.ensure_recovered(system_id)


def store_intent(
    service: ServiceCore,
    *,
    id: str,
    system_id: str,
    key: str,
    client_order_id: str,
    request: OrderRequest,
    request_hash: str,
    parent_id: str | None = None,
    origin: str = "portico",
    now: datetime | None = None,
    undo: Callable[[], None] | None = None,
) -> tuple[OrderRecord, bool]:
    """Store an intent with its first send counted, in one transaction (the caller sends it next).

    Returns:
        (the record, True) when stored; (the order already stored under the key, False) when another
        process stored the same key first (the caller replays it). ``undo`` runs before that answer.

    Raises:
        PayloadRejected: the key belongs to another instance sharing the store, or the client order id
            is taken by another order.
    """
    try:
        record = service.repo.insert_intent(
            id=id,
            system=system_id,
            idempotency_key=key,
            client_order_id=client_order_id,
            request=request,
            request_hash=request_hash,
            now=now or service.clock.now(),
            parent_id=parent_id,
            origin=origin,
            # the first send is counted with the intent, in its transaction
            sending=True,
        )
    except IntegrityError:
        if undo is not None:
            undo()
        existing = service.repo.by_key(system_id, key)
        if existing is not None:
            return existing, False
        owner = service.repo.key_owner(system_id, key)
        if owner is not None and owner != service.repo.instance:
            raise PayloadRejected(
                f"idempotency key {key!r} of {system_id} is already used by instance {owner!r} "
                "sharing this store: use another key (or the same instance)",
                field="idempotency_key",
            ) from None
        raise PayloadRejected(
            f"client_order_id {client_order_id!r} is already used by another order",
            field="client_order_id",
        ) from None
    return record, True


async def publish_intent(
    service: ServiceCore, record: OrderRecord, *, source: str, extra: Mapping[str, Any] | None = None
) -> None:
    """Tell order-event subscribers that an intent was stored."""
    await service.events.publish(
        OrderUpdate(
            record=record,
            previous_status=None,
            event="intent",
            source=source,
            at=record.created_at,
            extra=dict(extra) if extra else {},
        )
    )


async def mark_unknown(
    service: ServiceCore, record: OrderRecord, error: str, *, source: str, **detail: Any
) -> OrderRecord:
    """A send whose answer was lost: the order is ``unknown`` (never rejected) and the monitor hears."""
    after = await service._apply(
        record.id, Observation(status=OrderStatus.UNKNOWN, event="unknown", source=source, error=error)
    )
    service._emit(
        "trading.order.outcome_unknown",
        system=record.system,
        severity="warning",
        order_id=record.id,
        client_order_id=record.client_order_id,
        **detail,
        error=error,
    )
    return after


def raise_if_rejected(record: OrderRecord, what: str = "order") -> OrderRecord:
    """The record, unless the venue refused it (then :class:`OrderRejected` carrying it)."""
    if record.status is OrderStatus.REJECTED:
        raise OrderRejected(
            f"{record.system} rejected {what} {record.id}: {record.reject_reason}", record=record
        )
    return record
