"""Measuring transports that are not HTTP: :class:`CallMeter` turns one request into one CallRecord."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from portico.clock import Clock, system_clock
from portico.context import current_correlation_id
from portico.errors import (
    ConnectionFailed,
    OutcomeUnknown,
    PorticoError,
    RateLimited,
    ReadTimeout,
    VenueRejected,
)
from portico.http._records import CallObserver, CallOutcome, CallRecord

__all__ = ["CallMeter"]

_log = logging.getLogger("portico.http")


class CallMeter:
    """Reports the requests of a socket transport (TWS, FIX...) to the observers ApiClient reports to.

    ``async with meter("reqPositions", method="TWS"):`` around one request sends one
    :class:`CallRecord` when it ends: ``ok``, or the outcome its error means (``rejected`` for a venue
    refusal, ``unknown`` for an unknown outcome, ``throttled`` for a spent budget, else ``failed``), with
    the latency on the clock and the correlation id in scope. The monitor measures it exactly as an
    HTTP call (same metric names, same observer interface). Connectors reach it through
    :meth:`portico.sdk.ConnectorContext.measure`.

    Args:
        system: the system id the records name.
        observers: called with each record (``monitor.call_observer()``).
        clock: the time source of the latency.
    """

    def __init__(self, system: str, *, observers: Iterable[CallObserver] = (), clock: Clock = system_clock) -> None:
        self.system = system
        self.observers: tuple[CallObserver, ...] = tuple(observers)
        self.clock = clock

    def __repr__(self) -> str:
        return f"CallMeter(system={self.system!r}, observers={len(self.observers)})"

    @contextlib.asynccontextmanager
    async def __call__(self, endpoint: str, *, method: str = "SOCKET") -> AsyncIterator[None]:
        """Measure one request named ``endpoint`` (``reqPositions``); errors pass through unchanged."""
        started = self.clock.monotonic()
        correlation_id = current_correlation_id()
        try:
            yield
        except Exception as exc:
            outcome, error = _outcome_of(exc, self.system, endpoint)
            latency = self.clock.monotonic() - started
            self._observe(CallRecord(self.system, method, endpoint, None, outcome, latency, 1, 0.0, correlation_id, error))
            raise
        latency = self.clock.monotonic() - started
        self._observe(CallRecord(self.system, method, endpoint, None, "ok", latency, 1, 0.0, correlation_id))

    def _observe(self, record: CallRecord) -> None:
        for observer in self.observers:
            try:
                observer(record)
            except Exception:  # a broken observer must not fail the call it measures
                _log.exception("call observer %r failed", observer)


def _outcome_of(exc: Exception, system: str, endpoint: str) -> tuple[CallOutcome, PorticoError]:
    if isinstance(exc, PorticoError):
        if isinstance(exc, VenueRejected):
            return "rejected", exc
        if isinstance(exc, OutcomeUnknown):
            return "unknown", exc
        if isinstance(exc, RateLimited):
            return "throttled", exc
        return "failed", exc
    # the socket library's own errors, named as portico names them for HTTP
    if isinstance(exc, TimeoutError):
        return "failed", ReadTimeout(f"{endpoint} got no answer in time", system=system, request=endpoint)
    return "failed", ConnectionFailed(f"{endpoint} failed: {type(exc).__name__}: {exc}", system=system, request=endpoint)
