"""Order replace (cancel/replace) with the guarantees of placement.

A replace is stored as its own intent before anything is sent: a ``trading_orders`` row with origin
``replace`` holding the order as it will stand after the change, under the replace's own idempotency
key and a client order id derived from it, and a ``trading_order_replacements`` row linking it to the
order it replaces (written first, so an intent never exists without its link).

The venue's answer moves both orders: the replacement takes the venue's order (a new order id at venues
that replace, such as Alpaca and Schwab; the same id at venues that modify in place), and the original
becomes ``replaced``. A lost answer, and a refusal (which may answer a repeat of a replace that
landed), are resolved by looking at the venue, never by a second replace: the replacement by its client
order id, then the original (``replaced_by``, its status, its changed fields). The replacement is
rejected only when the venue shows the replace did not take effect: the original filled, cancelled or
expired, replaced by another order, or standing unchanged ``trading.submit_timeout`` seconds after the
send; otherwise it stays ``unknown`` until the venue says more. One replace of an order runs at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pydantic
import sqlalchemy as sa

from portico.context import correlation_scope
from portico.errors import (
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PayloadRejected,
    PorticoError,
    VenueRejected,
    error_context,
)
from portico.models import Order, OrderStatus, TimeInForce
from portico.sdk import Capability
from portico.store import metadata
from portico.trading import _tables as t
from portico.trading._errors import IdempotencyConflict, OrderValidationError
from portico.trading._fingerprint import fingerprint
from portico.trading._intents import (
    admit,
    checked_key,
    mark_unknown,
    publish_intent,
    raise_if_rejected,
    store_intent,
)
from portico.trading._records import OrderRecord
from portico.trading._tables import UtcDateTime
from portico.trading._tracking import Observation

if TYPE_CHECKING:
    from portico.trading._service import TradingService

__all__ = ["ORIGIN", "OrderChanges", "OrderNotReplaceable", "Replacements", "replacements_table"]

ORIGIN = "replace"
"""The ``origin`` of a replacement intent in ``trading_orders``."""


class OrderNotReplaceable(OrderValidationError):
    """The order cannot be replaced (it is filled, cancelled, rejected, expired or already replaced, or
    another replace of it is still unresolved); nothing was stored or sent.

    Attributes:
        order_id: portico's id of the order.
        status: its tracked status.
    """

    def __init__(self, message: str, *, order_id: str, status: OrderStatus, **kwargs: Any) -> None:
        super().__init__(message, field="order_id", **kwargs)
        self.order_id = order_id
        self.status = status


class OrderChanges(pydantic.BaseModel):
    """What a replace changes: at least one field, each the order's new value."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    quantity: Decimal | None = pydantic.Field(default=None, gt=0)
    limit_price: Decimal | None = pydantic.Field(default=None, gt=0)
    stop_price: Decimal | None = pydantic.Field(default=None, gt=0)
    time_in_force: TimeInForce | None = None

    @pydantic.model_validator(mode="after")
    def _something(self) -> OrderChanges:
        if not self.model_dump(exclude_none=True):
            raise ValueError("name at least one of quantity, limit_price, stop_price, time_in_force")
        return self

    def fields(self) -> dict[str, Any]:
        """The changed fields and their new values."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def canonical(self) -> dict[str, str]:
        """The changes as text (stored with the link; compared on a replay)."""
        return {
            k: v.value if isinstance(v, TimeInForce) else format(v.normalize(), "f")
            for k, v in self.fields().items()
        }


def coerce_changes(changes: OrderChanges | Mapping[str, Any]) -> OrderChanges:
    """The changes from a model or mapping; a clear error naming the field otherwise."""
    if isinstance(changes, OrderChanges):
        return changes
    if not isinstance(changes, Mapping):
        raise PayloadRejected(
            f"changes must be a mapping of the fields to change, got {type(changes).__name__}",
            field="changes",
        )
    try:
        return OrderChanges.model_validate(dict(changes))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        where = f"changes.{path}" if path else "changes"
        raise PayloadRejected(f"{where}: {first['msg']}", field=where) from None


def replacements_table() -> sa.Table:
    """``trading_order_replacements``: replacement intent -> the order it replaces."""
    md = metadata()
    if "trading_order_replacements" in md.tables:
        return md.tables["trading_order_replacements"]
    return sa.Table(
        "trading_order_replacements",
        md,
        sa.Column("id", sa.String(64), primary_key=True),  # the replacement's trading_orders id
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("original_id", sa.String(64), nullable=False, index=True),
        sa.Column("changes_json", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


class Replacements:
    """Replace for one :class:`TradingService` (it calls :meth:`replace` and :meth:`resolve`)."""

    def __init__(self, service: TradingService) -> None:
        self.service = service
        self.table = replacements_table()
        service.db.ensure_tables(self.table)

    # -- storage ---------------------------------------------------------------------------------

    def link(self, replacement_id: str) -> tuple[str, dict[str, str]] | None:
        """(original order id, changes) of a replacement intent."""
        with self.service.db.begin() as conn:
            row = conn.execute(
                sa.select(self.table.c.original_id, self.table.c.changes_json).where(
                    self.table.c.id == replacement_id
                )
            ).one_or_none()
        return None if row is None else (row.original_id, json.loads(row.changes_json))

    def replacements_of(self, original_id: str) -> list[OrderRecord]:
        """Every replacement intent stored for an order, oldest first."""
        with self.service.db.begin() as conn:
            ids = conn.execute(
                sa.select(self.table.c.id)
                .where(self.table.c.original_id == original_id)
                .order_by(self.table.c.created_at)
            ).scalars()
            wanted = list(ids)
        return [r for r in (self.service.repo.get(i) for i in wanted) if r is not None]

    def _move_venue_id(self, original_id: str) -> None:
        """A venue that modifies in place keeps the order id: it now names the replacement, so the
        replaced original lets go of it (the link keeps the relation)."""
        with self.service.db.begin() as conn:
            conn.execute(sa.update(t.orders).where(t.orders.c.id == original_id).values(venue_order_id=None))

    # -- replace ---------------------------------------------------------------------------------

    async def replace(
        self,
        system_id: str,
        order_id: str,
        changes: OrderChanges | Mapping[str, Any],
        *,
        idempotency_key: str | None,
    ) -> OrderRecord:
        svc = self.service
        connector = svc.connector(system_id)
        wanted = coerce_changes(changes)
        key = checked_key(idempotency_key)
        with correlation_scope() as cid, error_context(system=system_id, correlation_id=cid):
            async with svc._key_locks.hold((system_id, key)):
                existing = svc.repo.by_key(system_id, key)
                if existing is not None:
                    return self._replay(existing, system_id, order_id, wanted)
                await admit(svc, system_id, connector, Capability.REPLACE_ORDER)
                found = svc._find(system_id, order_id)
                # one replace of an order at a time: a second would race the first at the venue
                async with svc._key_locks.hold((system_id, f"\x1freplace-of\x1f{found.id}")):
                    original = svc.repo.get(found.id) or found
                    if original.is_unresolved:
                        original = await svc.resolve(original.id)
                    self._check_replaceable(original)
                    return await self._store_and_send(original, key, wanted)

    def _check_replaceable(self, original: OrderRecord) -> None:
        if original.is_terminal:
            raise OrderNotReplaceable(
                f"order {original.id} is {original.status.value}: a {original.status.value} order cannot be replaced",
                order_id=original.id,
                status=original.status,
            )
        if original.venue_order_id is None:
            raise OutcomeUnknown(
                f"order {original.id} has no venue id yet; replace it once its outcome is known",
                idempotency_key=original.idempotency_key,
                system=original.system,
            )
        pending = [r.id for r in self.replacements_of(original.id) if r.is_unresolved]
        if pending:
            raise OrderNotReplaceable(
                f"order {original.id} has a replace whose outcome is not known yet ({pending[0]}); "
                "it is resolved by looking at the venue before the order can be changed again",
                order_id=original.id,
                status=original.status,
            )

    def _replay(
        self, existing: OrderRecord, system_id: str, order_id: str, wanted: OrderChanges
    ) -> OrderRecord:
        svc = self.service
        link = self.link(existing.id) if existing.origin == ORIGIN else None
        original = svc.repo.find(system_id, order_id)
        diff: list[str] = []
        if link is None:
            diff = ["order_id"]
        else:
            original_id, stored = link
            if original is None or original.id != original_id:
                diff.append("order_id")
            canon = wanted.canonical()
            diff += sorted(k for k in set(stored) | set(canon) if stored.get(k) != canon.get(k))
        if diff:
            raise IdempotencyConflict(
                f"idempotency key {existing.idempotency_key!r} was used for another request ({existing.id}); "
                f"differing fields: {', '.join(diff)}",
                idempotency_key=existing.idempotency_key,
                existing_id=existing.id,
                differences={k: ("", "") for k in diff},
            )
        return raise_if_rejected(existing, "replace")

    async def _store_and_send(self, original: OrderRecord, key: str, wanted: OrderChanges) -> OrderRecord:
        svc = self.service
        system_id = original.system
        request = original.request.model_copy(update={**wanted.fields(), "client_order_id": None})
        request_hash, _ = fingerprint(request)
        client_order_id = svc.derive_client_order_id(system_id, key)
        new_id = uuid.uuid4().hex
        now = svc.clock.now()
        with svc.db.begin() as conn:
            conn.execute(
                sa.insert(self.table).values(
                    id=new_id,
                    system=system_id,
                    original_id=original.id,
                    changes_json=json.dumps(wanted.canonical(), sort_keys=True),
                    created_at=now,
                )
            )

        def unlink() -> None:
            with svc.db.begin() as conn:
                conn.execute(sa.delete(self.table).where(self.table.c.id == new_id))

        record, stored = store_intent(
            svc,
            id=new_id,
            system_id=system_id,
            key=key,
            client_order_id=client_order_id,
            request=request,
            request_hash=request_hash,
            origin=ORIGIN,
            now=now,
            undo=unlink,
        )
        if not stored:
            return self._replay(record, system_id, original.id, wanted)
        await publish_intent(svc, record, source="replace", extra={"replaces": original.id})
        record = await self.send(record, original, wanted)
        svc._audit(
            system_id,
            "replace_order",
            record.status.value,
            record,
            replaces=original.id,
            **wanted.canonical(),
        )
        return raise_if_rejected(record, "replace")

    async def send(
        self, record: OrderRecord, original: OrderRecord, wanted: OrderChanges, *, source: str = "replace"
    ) -> OrderRecord:
        """Send a stored replacement (its send already counted)."""
        svc = self.service
        connector = svc.connector(record.system)
        assert original.venue_order_id is not None
        svc._inflight.add(record.id)
        try:
            try:
                order = await asyncio.wait_for(
                    connector.replace_order(
                        original.venue_order_id, client_order_id=record.client_order_id, **wanted.fields()
                    ),
                    svc.config.submit_timeout,
                )
            except VenueRejected as exc:
                # the refusal may answer a repeat of a replace that landed (a resend, or a transport
                # repeating the request under the hood): look at the venue before concluding
                try:
                    found = await self._look(record, original, source=source)
                except PorticoError as failed:
                    err = (
                        f"{type(exc).__name__}: {exc.message}; whether the replace landed is not known "
                        f"({type(failed).__name__}: {failed.message})"
                    )
                    return await self._unknown(record, original, err, source=source)
                if found is not None:
                    return found
                after = await svc._apply(
                    record.id,
                    Observation(
                        status=OrderStatus.REJECTED,
                        event="rejected",
                        source=source,
                        reject_reason=exc.message,
                        error=f"{type(exc).__name__}: {exc.message}",
                    ),
                )
                # the original's state explains the refusal (filled meanwhile...): read it again
                with contextlib.suppress(PorticoError):
                    await svc.refresh(original.system, original.id)
                return after
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the outcome is unknown, never rejected
                after = await self._unknown(record, original, f"{type(exc).__name__}: {exc}", source=source)
                # never sent again, whatever the error: a connector's own look after the send raises the
                # same errors as a refused connection, so none of them proves that nothing was sent
                return await self._resolve_with(after, original, source="lookup")
            return await self._take(record, original, order, source=source)
        finally:
            svc._inflight.discard(record.id)

    async def _unknown(
        self, record: OrderRecord, original: OrderRecord, err: str, *, source: str
    ) -> OrderRecord:
        return await mark_unknown(self.service, record, err, source=source, replaces=original.id)

    async def _take(
        self, record: OrderRecord, original: OrderRecord, order: Order, *, source: str
    ) -> OrderRecord:
        """The venue's order that now stands: the replacement takes it, the original is replaced."""
        svc = self.service
        in_place = order.order_id == original.venue_order_id
        if not (svc.repo.get(original.id) or original).is_terminal:
            await svc._apply(
                original.id,
                Observation(status=OrderStatus.REPLACED, event="replaced", source=source),
            )
        if in_place:
            self._move_venue_id(original.id)
        order = order.model_copy(update={"client_order_id": record.client_order_id})
        return await svc._apply_order(record.id, order, source=source)

    # -- resolving -------------------------------------------------------------------------------

    async def resolve(self, record: OrderRecord, *, pre_send: bool, source: str) -> OrderRecord:
        """Resolve an unresolved replacement intent (called by the service's resolver). ``pre_send`` is
        the resolver's guess that nothing was sent; a replace is never sent again, so it is not used."""
        link = self.link(record.id)
        original = None if link is None else self.service.repo.get(link[0])
        if link is None or original is None:
            return record
        return await self._resolve_with(record, original, source=source)

    async def _resolve_with(self, record: OrderRecord, original: OrderRecord, *, source: str) -> OrderRecord:
        svc = self.service
        try:
            found = await self._look(record, original, source=source)
        except PorticoError as exc:
            svc.repo.set_error(record.id, f"lookup failed: {exc}", svc.clock.now())
            return svc.repo.get(record.id) or record
        if found is not None:
            return found
        return svc.repo.get(record.id) or record

    async def _look(
        self, record: OrderRecord, original: OrderRecord, *, source: str = "lookup"
    ) -> OrderRecord | None:
        """What the venue shows of the replace: the resolved replacement, or None while it shows nothing
        conclusive. Raises a :class:`PorticoError` when the venue cannot be asked."""
        svc = self.service
        connector = svc.connector(record.system)
        caps = connector.spec.capabilities
        # 1. the replacement itself, by the client order id it was sent with
        if caps.has(Capability.GET_ORDER_BY_CLIENT_ID) or caps.has(Capability.LIST_ORDERS):
            try:
                order = await connector.get_order_by_client_id(record.client_order_id)
            except (NotFound, NotSupported):
                order = None
            if order is not None:
                return await self._take(record, original, order, source=source)
        # 2. the original: replaced (and by which order), or still standing
        venue_id = original.venue_order_id
        if venue_id is None or not caps.has(Capability.GET_ORDER):
            return None
        old = await connector.get_order(venue_id)
        wanted = self.link(record.id)
        if old.replaced_by:
            successor = await connector.get_order(old.replaced_by)
            owner = svc.repo.by_venue_id(record.system, successor.order_id)
            if (owner is None or owner.id == record.id) and (
                wanted is None or _shows_changes(successor, wanted[1])
            ):
                return await self._take(record, original, successor, source=source)
            # the venue replaces an order once: it was replaced by something else, so this did not land
            by = f"replace {owner.id}" if owner is not None else f"venue order {successor.order_id}"
            await svc._apply_order(original.id, old, source=source)
            return await svc._apply(
                record.id,
                Observation(
                    status=OrderStatus.REJECTED,
                    event="rejected",
                    source=source,
                    reject_reason=f"the original order {original.id} was replaced by {by}, not by this replace",
                ),
            )
        changed = wanted is not None and _shows_changes(old, wanted[1])
        if old.order_id == venue_id and changed and not old.is_terminal:
            return await self._take(record, original, old, source=source)  # modified in place
        if old.is_terminal and old.status is not OrderStatus.REPLACED:
            # the venue filled, cancelled or expired the original: the replace cannot have taken effect
            await svc._apply_order(original.id, old, source=source)
            return await svc._apply(
                record.id,
                Observation(
                    status=OrderStatus.REJECTED,
                    event="rejected",
                    source=source,
                    reject_reason=f"the original order {original.id} is {old.status.value} at the venue",
                ),
            )
        sent = record.sent_at or record.created_at
        settled = (svc.clock.now() - sent).total_seconds() >= svc.config.submit_timeout
        if settled and not old.is_terminal and old.status is not OrderStatus.PENDING_REPLACE:
            # a submit timeout after the send the venue shows the original standing unchanged and no
            # replacement: the replace did not land (it is not sent again; a new replace may be asked)
            await svc._apply_order(original.id, old, source=source)
            return await svc._apply(
                record.id,
                Observation(
                    status=OrderStatus.REJECTED,
                    event="rejected",
                    source=source,
                    reject_reason=(
                        f"the venue shows order {original.id} unchanged and no replacement "
                        f"{svc.config.submit_timeout:g} s after the replace was sent: it did not land"
                    ),
                ),
            )
        return None


def _shows_changes(order: Order, changes: Mapping[str, str]) -> bool:
    """True when the venue's order carries every changed value (a modification made in place)."""
    for name, value in changes.items():
        have = getattr(order, name, None)
        if have is None:
            return False
        if isinstance(have, TimeInForce):
            if have.value != value:
                return False
        elif Decimal(str(have)) != Decimal(value):
            return False
    return True
