"""Errors of the trading services, each a branch of the portico error tree.

- :class:`IdempotencyConflict` (a :class:`~portico.errors.PayloadRejected`): a business idempotency key
  was reused with different order parameters. The caller sent bad input; nothing was stored or sent,
  and retrying the same call fails the same way (Stripe's ``idempotency_error``).
- :class:`OrderValidationError` (a :class:`~portico.errors.PayloadRejected`): the order does not fit the
  connector's declared capabilities or the account (buying power, position). Nothing was stored or sent.
- :class:`RiskCheckFailed` (an :class:`OrderValidationError`): a pre-trade risk check refused the order.
- :class:`OrderRejected` (a :class:`~portico.errors.VenueRejected`): the venue definitively refused an
  order that was stored and sent; ``record`` is its stored intent.
- :class:`RecoveryIncomplete` (retryable): a system still has intents whose outcome is unknown after a
  restart; new orders for it are refused until they are resolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.errors import PayloadRejected, PorticoError, VenueRejected

if TYPE_CHECKING:
    from portico.trading._records import OrderRecord

__all__ = [
    "IdempotencyConflict",
    "OrderRejected",
    "OrderValidationError",
    "RecoveryIncomplete",
    "RiskCheckFailed",
]


class IdempotencyConflict(PayloadRejected):
    """An idempotency key was reused for an order with different parameters.

    Attributes:
        idempotency_key: the reused key.
        existing_id: the stored intent the key belongs to.
        differences: the fields that differ, as ``{field: (stored, given)}``.
    """

    def __init__(
        self,
        message: str,
        *,
        idempotency_key: str,
        existing_id: str,
        differences: dict[str, tuple[Any, Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(message, field=",".join(sorted(differences)) or None, **kwargs)
        self.idempotency_key = idempotency_key
        self.existing_id = existing_id
        self.differences = differences


class OrderValidationError(PayloadRejected):
    """The order does not fit the connector's capabilities or the account; it was neither stored nor sent."""


class RiskCheckFailed(OrderValidationError):
    """A pre-trade risk check refused the order.

    Attributes:
        check: the name of the check that refused it.
    """

    def __init__(self, message: str, *, check: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.check = check


class OrderRejected(VenueRejected):
    """The venue definitively refused a stored order.

    Attributes:
        record: the stored intent, now ``REJECTED`` with the venue's reason.
    """

    def __init__(self, message: str, *, record: OrderRecord, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.record = record


class RecoveryIncomplete(PorticoError):
    """Some intents of a system are still unresolved; new orders for it wait until they are.

    Attributes:
        unresolved: the ids of the intents still unresolved.
    """

    retryable = True

    def __init__(self, message: str, *, unresolved: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.unresolved = unresolved
