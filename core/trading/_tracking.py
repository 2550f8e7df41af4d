"""The one order-tracking rule set: how an observation of an order moves its tracked state.

Every broker's news (stream events, polls, lookups, the answer to a submit) becomes an
:class:`Observation`; :func:`advance` decides the new state. The rules, in order:

1. Filled quantity never decreases: the higher of the stored and observed quantity wins, and the
   average price travels with the higher quantity.
2. A fully filled order is ``FILLED``; an order with fills is at least ``PARTIALLY_FILLED``, so a fill
   that arrives before its acknowledgement is kept and the late ``new``/``accepted`` is ignored.
3. Local statuses (``PENDING_SUBMIT``, ``UNKNOWN``) never overwrite what a venue said, and terminal
   orders never move.
4. Stale news is ignored: an observation that adds no fill and would move the order back
   (``pending_cancel`` -> ``new``, ``partially_filled`` -> ``new``...) unless it is timestamped later
   than the status in force (a venue refusing a cancel moves ``pending_cancel`` back to ``new``), or
   that moves it forward to a non-terminal status but is timestamped earlier than the status in force.
5. Otherwise the status moves only along :func:`portico.models.can_transition`. An event whose status
   is refused still counts for its fill quantity, and is kept in the history with
   ``status_applied=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from portico.models import TERMINAL_STATUSES, Order, OrderStatus, can_transition

__all__ = ["Observation", "Transition", "advance", "observation_from_order"]

_S = OrderStatus
_LOCAL = frozenset({_S.PENDING_SUBMIT, _S.UNKNOWN})
_PRE_FILL = frozenset({_S.PENDING_SUBMIT, _S.UNKNOWN, _S.NEW, _S.ACCEPTED})
# how far along its life a status is; moving to a lower rank without a new fill is a step back
_RANK = {
    _S.PENDING_SUBMIT: 0,
    _S.UNKNOWN: 0,
    _S.ACCEPTED: 1,
    _S.NEW: 2,
    _S.PARTIALLY_FILLED: 3,
    _S.PENDING_CANCEL: 4,
    _S.PENDING_REPLACE: 4,
    **dict.fromkeys(TERMINAL_STATUSES, 5),
}


@dataclass(frozen=True)
class Observation:
    """What one piece of news says about an order."""

    status: OrderStatus
    event: str
    source: str
    filled_quantity: Decimal | None = None
    average_fill_price: Decimal | None = None
    venue_order_id: str | None = None
    reject_reason: str | None = None
    event_id: str | None = None
    event_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class Transition:
    """The state after an observation, and whether anything changed."""

    status: OrderStatus
    filled_quantity: Decimal
    average_fill_price: Decimal | None
    status_applied: bool
    changed: bool
    note: str | None = None
    status_at: datetime | None = None
    """When the status in force was reported (the observation's time when it applied)."""


def advance(
    status: OrderStatus,
    filled: Decimal,
    average_price: Decimal | None,
    quantity: Decimal | None,
    obs: Observation,
    status_at: datetime | None = None,
) -> Transition:
    """Apply ``obs`` to an order in ``status`` with ``filled`` quantity, whose status was reported at
    ``status_at`` (when known); see the module rules."""
    seen = obs.filled_quantity if obs.filled_quantity is not None else Decimal(0)
    new_filled = max(filled, seen)
    new_avg = average_price
    if obs.average_fill_price is not None and seen >= filled and seen > 0:
        new_avg = obs.average_fill_price
    target = obs.status
    complete = quantity is not None and new_filled >= quantity and new_filled > 0
    if complete:
        target = _S.FILLED
    elif new_filled > 0 and target in _PRE_FILL:
        target = _S.PARTIALLY_FILLED
    adds_fill = new_filled > filled
    # venues' clocks only order venue news; a terminal status is never dropped for its timestamp
    newer = bool(obs.event_at and status_at and obs.event_at > status_at)
    older = bool(obs.event_at and status_at and obs.event_at < status_at)
    note: str | None = None
    applied = False
    new_status = status
    if target in _LOCAL and status not in _LOCAL:
        note = f"local status {target.value} ignored after venue news"
    elif status in TERMINAL_STATUSES:
        applied = target == status
        if not applied:
            note = f"late {target.value} ignored: order already {status.value}"
    elif complete:
        new_status, applied = target, True
    elif target != status and not adds_fill and _RANK[target] < _RANK[status] and not newer:
        note = f"stale {target.value} ignored: it would move the order back from {status.value}"
    elif target != status and not adds_fill and target not in TERMINAL_STATUSES and older:
        note = f"stale {target.value} ignored: older than the {status.value} in force"
    elif can_transition(status, target):
        new_status, applied = target, True
    else:
        note = f"{status.value} -> {target.value} is not a valid transition"
    if applied and target is not obs.status and new_status is status:
        # the observed status was raised by its fills to what was already known: it told nothing new
        applied, note = False, f"late {obs.status.value} ignored: order already {status.value}"
    new_status_at = status_at
    if new_status != status or (applied and obs.event_at and (status_at is None or obs.event_at > status_at)):
        new_status_at = obs.event_at or status_at
    changed = new_status != status or new_filled != filled or new_avg != average_price
    return Transition(
        status=new_status,
        filled_quantity=new_filled,
        average_fill_price=new_avg,
        status_applied=applied,
        changed=changed,
        note=note,
        status_at=new_status_at,
    )


_EVENT_BY_STATUS = {
    _S.NEW: "new",
    _S.ACCEPTED: "accepted",
    _S.PARTIALLY_FILLED: "partial_fill",
    _S.FILLED: "fill",
    _S.CANCELED: "canceled",
    _S.REPLACED: "replaced",
    _S.REJECTED: "rejected",
    _S.EXPIRED: "expired",
    _S.PENDING_CANCEL: "pending_cancel",
    _S.PENDING_REPLACE: "pending_replace",
}


def observation_from_order(
    order: Order,
    *,
    source: str,
    event: str | None = None,
    event_id: str | None = None,
    event_at: datetime | None = None,
) -> Observation:
    """An observation from a venue's view of an order (a submit answer, a lookup, a stream event)."""
    return Observation(
        status=order.status,
        event=event or _EVENT_BY_STATUS.get(order.status, "status"),
        source=source,
        filled_quantity=order.filled_quantity,
        average_fill_price=order.average_fill_price,
        venue_order_id=order.order_id,
        reject_reason=order.reject_reason,
        event_id=event_id,
        event_at=event_at or order.updated_at,
    )
