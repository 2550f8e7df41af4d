"""Orders placed outside portico, adopted into tracking when a drop copy reports them.

A drop-copy session (FIX) reports every order of the account, wherever it was placed. Reports of
portico's own orders are applied to them as any stream event; a report of an order portico never
placed becomes a tracked order with ``origin="external"``: stored with the parameters the venue
reports, then the report applied to it (its fill recorded), so positions and confirmations see it.

The adopted order's idempotency key is ``external:<venue order id>``: a second report, a replay, or
another process adopting the same order finds the order stored once.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from portico.models import OrderEvent, OrderRequest, OrderStatus
from portico.trading._fingerprint import fingerprint

if TYPE_CHECKING:
    from portico.trading._core import ServiceCore
    from portico.trading._records import OrderRecord

__all__ = ["ADOPTING_SOURCES", "EXTERNAL_ORIGIN", "adopt_order", "request_of"]

EXTERNAL_ORIGIN = "external"
"""``OrderRecord.origin`` of an order placed outside portico."""
ADOPTING_SOURCES = frozenset({"drop_copy"})
"""Event sources whose reports of an unknown order adopt it (other sources hold such events)."""


def request_of(event: OrderEvent) -> OrderRequest:
    """The order as an intent, with the parameters the venue reports."""
    order = event.order
    return OrderRequest(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        quantity=order.quantity,
        notional=order.notional,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        account_id=order.account_id,
        client_order_id=order.client_order_id or None,
    )


async def adopt_order(service: ServiceCore, system_id: str, event: OrderEvent) -> OrderRecord | None:
    """Track the order ``event`` reports (placed outside portico), then apply ``event`` to it.

    Returns the order after the event, or None when the report does not describe an order portico can
    track (no limit price on a limit order...): then nothing is stored and a
    ``trading.order.not_adopted`` event (severity error) names the problem. An order already tracked
    (by client order id or venue id) is not stored again: the event is applied to it.
    """
    order = event.order
    repo = service.repo
    known = (order.client_order_id and repo.by_client_id(system_id, order.client_order_id)) or (
        order.order_id and repo.by_venue_id(system_id, order.order_id)
    )
    if not known:
        try:
            request = request_of(event)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}" for e in exc.errors()
            )
            service._emit(
                "trading.order.not_adopted",
                system=system_id,
                severity="error",
                venue_order_id=order.order_id,
                client_order_id=order.client_order_id,
                error=f"the reported order cannot be tracked: {problems}",
            )
            return None
        request_hash, _ = fingerprint(request)
        try:
            record = repo.insert_intent(
                id=uuid.uuid4().hex,
                system=system_id,
                idempotency_key=f"external:{order.order_id}",
                client_order_id=order.client_order_id or order.order_id,
                request=request,
                request_hash=request_hash,
                now=service.clock.now(),
                origin=EXTERNAL_ORIGIN,
                # it is at the venue already: never an intent to send (nor to look up as unsent)
                status=OrderStatus.ACCEPTED,
            )
        except IntegrityError:
            pass  # adopted meanwhile (another process, the same report twice)
        else:
            service._emit(
                "trading.order.adopted",
                system=system_id,
                order_id=record.id,
                venue_order_id=order.order_id,
                client_order_id=record.client_order_id,
                source=event.source,
            )
    # applied as a report of a tracked order (no second adoption: the source says it was adopted)
    return await service.apply_event(system_id, event.model_copy(update={"source": "adoption"}))
