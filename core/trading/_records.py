"""What the trading service hands back: stored order intents, their history, and order updates."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from portico.models import TERMINAL_STATUSES, Order, OrderRequest, OrderSide, OrderStatus
from portico.trading._tables import from_dec

__all__ = ["HistoryEntry", "OrderRecord", "OrderUpdate"]

_UNRESOLVED = frozenset({OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN})


@dataclass(frozen=True)
class OrderRecord:
    """One order intent as stored: what was asked, and what is known about it at the venue.

    Attributes:
        id: portico's id of the intent.
        system: the configured system it was routed to.
        idempotency_key: the business key; the same key never produces a second order.
        client_order_id: the id sent to the venue, derived from the key.
        status: the tracked status; ``PENDING_SUBMIT`` (stored, not sent yet) and ``UNKNOWN`` (sent,
            outcome not known) are resolved by lookup, stream or reconciliation.
        venue_order_id: the venue's order id once known.
        origin: ``portico`` for intents placed here, ``external`` for orders found at the venue.
        parent_id: the parent order when this is a child of a multi-broker allocation.
    """

    id: str
    system: str
    idempotency_key: str
    client_order_id: str
    request: OrderRequest
    status: OrderStatus
    filled_quantity: Decimal
    created_at: datetime
    updated_at: datetime
    venue_order_id: str | None = None
    average_fill_price: Decimal | None = None
    reject_reason: str | None = None
    last_error: str | None = None
    attempts: int = 0
    origin: str = "portico"
    parent_id: str | None = None
    sent_at: datetime | None = None
    resolved_at: datetime | None = None
    status_at: datetime | None = None
    """When the venue reported the status in force (used to recognise stale news)."""

    @property
    def is_terminal(self) -> bool:
        """True once the order can no longer change."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_unresolved(self) -> bool:
        """True while the venue's answer is not known (``PENDING_SUBMIT`` or ``UNKNOWN``)."""
        return self.status in _UNRESOLVED

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def side(self) -> OrderSide:
        return self.request.side

    @property
    def quantity(self) -> Decimal | None:
        return self.request.quantity

    @property
    def account_id(self) -> str | None:
        return self.request.account_id

    def to_order(self) -> Order:
        """The tracked state as a canonical :class:`~portico.models.Order` (``order_id`` is the venue's
        id once known, else the client order id)."""
        r = self.request
        return Order(
            order_id=self.venue_order_id or self.client_order_id,
            client_order_id=self.client_order_id,
            system=self.system,
            account_id=r.account_id,
            symbol=r.symbol,
            side=r.side,
            order_type=r.order_type,
            time_in_force=r.time_in_force,
            status=self.status,
            quantity=r.quantity,
            notional=r.notional,
            filled_quantity=self.filled_quantity,
            average_fill_price=self.average_fill_price,
            limit_price=r.limit_price,
            stop_price=r.stop_price,
            asset_class=r.asset_class,
            created_at=self.created_at,
            updated_at=self.updated_at,
            reject_reason=self.reject_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary."""
        return {
            "id": self.id,
            "system": self.system,
            "idempotency_key": self.idempotency_key,
            "client_order_id": self.client_order_id,
            "venue_order_id": self.venue_order_id,
            "origin": self.origin,
            "parent_id": self.parent_id,
            "account_id": self.request.account_id,
            "symbol": self.request.symbol,
            "side": self.request.side.value,
            "order_type": self.request.order_type.value,
            "time_in_force": self.request.time_in_force.value,
            "quantity": None if self.request.quantity is None else str(self.request.quantity),
            "notional": None if self.request.notional is None else str(self.request.notional),
            "limit_price": None if self.request.limit_price is None else str(self.request.limit_price),
            "status": self.status.value,
            "filled_quantity": str(self.filled_quantity),
            "average_fill_price": None if self.average_fill_price is None else str(self.average_fill_price),
            "reject_reason": self.reject_reason,
            "last_error": self.last_error,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_row(cls, row: Any) -> OrderRecord:
        """Build a record from a ``trading_orders`` row."""
        m = row._mapping
        request = _request_of(m["request_json"])
        return cls(
            id=m["id"],
            system=m["system"],
            idempotency_key=m["idempotency_key"],
            client_order_id=m["client_order_id"],
            request=request,
            status=OrderStatus(m["status"]),
            filled_quantity=from_dec(m["filled_quantity"]) or Decimal(0),
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            venue_order_id=m["venue_order_id"],
            average_fill_price=from_dec(m["average_fill_price"]),
            reject_reason=m["reject_reason"],
            last_error=m["last_error"],
            attempts=m["attempts"],
            origin=m["origin"],
            parent_id=m["parent_id"],
            sent_at=m["sent_at"],
            resolved_at=m["resolved_at"],
            status_at=m["status_at"],
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One applied event in an order's history.

    ``status_applied`` is False when the event's status was not taken (a late acknowledgement after a
    fill, an update to a terminal order); its fill quantity is still applied when it is higher.
    """

    seq: int
    order_id: str
    system: str
    at: datetime
    source: str
    event: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    filled_quantity: Decimal
    status_applied: bool
    event_id: str | None = None
    event_at: datetime | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        out["event_at"] = None if self.event_at is None else self.event_at.isoformat()
        out["filled_quantity"] = str(self.filled_quantity)
        out["from_status"] = None if self.from_status is None else self.from_status.value
        out["to_status"] = self.to_status.value
        return out


@dataclass(frozen=True)
class OrderUpdate:
    """What callbacks and event iterators receive: the order after an applied event.

    Attributes:
        record: the order as now stored.
        previous_status: its status before the event.
        event: the canonical event name (``submitted``, ``unknown``, ``new``, ``fill``...).
        source: where the news came from (``submit``, ``stream``, ``poll``, ``lookup``, ``recovery``).
        execution_id: the execution recorded with the event, if any.
    """

    record: OrderRecord
    previous_status: OrderStatus | None
    event: str
    source: str
    at: datetime
    execution_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return self.record.system

    @property
    def status(self) -> OrderStatus:
        return self.record.status


@functools.lru_cache(maxsize=2048)
def _request_of(request_json: str) -> OrderRequest:
    """The stored request, parsed once per distinct text: an order's request never changes after it is
    stored, and the order path reads the same row several times (nothing mutates a record's request;
    changes go through ``model_copy``)."""
    return OrderRequest.model_validate(json.loads(request_json))
