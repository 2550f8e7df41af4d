"""What the API client reports about every attempt: :class:`CallRecord` and the observer protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from portico.errors import PorticoError

__all__ = ["CallObserver", "CallOutcome", "CallRecord"]

CallOutcome = Literal["ok", "rejected", "retry", "failed", "unknown", "circuit_open", "throttled"]
"""How an attempt ended.

``ok``: a 2xx/3xx answer. ``rejected``: a definitive 4xx refusal. ``retry``: it failed and will be tried
again. ``failed``: it failed and will not be. ``unknown``: a state-changing request whose result is not
known (``OutcomeUnknown``). ``circuit_open``: the breaker refused it before sending. ``throttled``: the rate
limiter's bounded wait ran out before sending.
"""


@dataclass(slots=True)
class CallRecord:
    """One attempt of one API call, as observers see it.

    Attributes:
        system: the system id the client serves.
        method: the HTTP method (``GET``), or ``WS``/``GRAPHQL`` for those clients.
        endpoint: the templated endpoint (``GET /v2/orders/{id}``) or the path without query string.
        status: the HTTP status, ``None`` when no response came.
        outcome: how the attempt ended (see :data:`CallOutcome`).
        latency: seconds from sending to the answer (or the failure), on the client's clock.
        attempt: 1 for the first try, 2 for the first retry...
        rate_limit_wait: seconds this attempt waited for the rate limiter before sending.
        correlation_id: the business operation's id, when one was in scope.
        error: the error this attempt produced, if any.
    """

    system: str
    method: str
    endpoint: str
    status: int | None
    outcome: CallOutcome
    latency: float
    attempt: int
    rate_limit_wait: float = 0.0
    correlation_id: str | None = None
    error: PorticoError | None = None


class CallObserver(Protocol):
    """Anything called with a :class:`CallRecord` after each attempt. Keep it cheap: it runs on the hot path."""

    def __call__(self, record: CallRecord, /) -> None: ...
