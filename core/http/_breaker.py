"""A circuit breaker per system: stop calling a venue that keeps failing, probe it now and then."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from portico.clock import Clock, system_clock
from portico.errors import CircuitOpen

__all__ = ["BreakerListener", "BreakerState", "CircuitBreaker"]

_log = logging.getLogger("portico.http")


class BreakerState(StrEnum):
    """Where a breaker is: passing calls, failing them fast, or letting one probe through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


BreakerListener = Callable[["CircuitBreaker", BreakerState, BreakerState], None]
"""Called as ``listener(breaker, old_state, new_state)`` on every state change."""


class CircuitBreaker:
    """Closed / open / half-open circuit breaker on an injected clock.

    * **closed**: calls pass. ``failure_threshold`` failures within ``window`` seconds, with no success in
      between, open it.
    * **open**: calls fail at once with :class:`~portico.errors.CircuitOpen` (``retry_after`` = time left)
      until ``recovery_timeout`` seconds have passed since it opened.
    * **half-open**: exactly one call (the probe) goes through at a time; everyone else still gets
      ``CircuitOpen``. The probe's success closes the breaker; its failure opens it for another
      ``recovery_timeout``.

    Only transport failures, timeouts and 5xx answers should be recorded as failures: a 4xx is the venue
    answering, which proves it is up (the API client follows that rule).

    Use: ``probe = breaker.before_call()``, then exactly one of ``record_success(probe)``,
    ``record_failure(probe)`` or ``release(probe)`` (the call ended without a verdict, e.g. cancelled).

    Args:
        system: the system id, named in ``CircuitOpen`` errors.
        failure_threshold: failures within ``window`` that open the breaker.
        window: seconds over which failures are counted.
        recovery_timeout: seconds the breaker stays open before a probe is allowed.
        clock: the time source.
    """

    def __init__(
        self,
        system: str,
        *,
        failure_threshold: int = 5,
        window: float = 60.0,
        recovery_timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if window <= 0 or recovery_timeout < 0:
            raise ValueError("window must be positive and recovery_timeout not negative")
        self.system = system
        self.failure_threshold = failure_threshold
        self.window = window
        self.recovery_timeout = recovery_timeout
        self._clock = clock or system_clock
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._listeners: list[BreakerListener] = []
        self.opened_count = 0
        """How many times the breaker has opened (for metrics)."""

    def __repr__(self) -> str:
        return f"CircuitBreaker(system={self.system!r}, state={self._state.value})"

    @property
    def state(self) -> BreakerState:
        """The current state."""
        return self._state

    @property
    def retry_after(self) -> float | None:
        """Seconds until a probe is allowed, while open; ``None`` otherwise."""
        if self._state is not BreakerState.OPEN:
            return None
        return max(0.0, self._opened_at + self.recovery_timeout - self._clock.monotonic())

    def add_listener(self, listener: BreakerListener) -> None:
        """Call ``listener(breaker, old, new)`` on every state change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: BreakerListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def before_call(self) -> bool:
        """Ask to make a call. Returns whether this call is the half-open probe.

        Raises:
            CircuitOpen: the breaker is open, or half-open with its probe already in flight.
        """
        state = self._state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.OPEN:
            left = self._opened_at + self.recovery_timeout - self._clock.monotonic()
            if left > 0:
                raise CircuitOpen(f"circuit open for {self.system}", retry_after=left, system=self.system)
            self._set(BreakerState.HALF_OPEN)
        if self._probe_in_flight:
            raise CircuitOpen(
                f"circuit half-open for {self.system}: a probe is in flight", retry_after=None, system=self.system
            )
        self._probe_in_flight = True
        return True

    def record_success(self, probe: bool = False) -> None:
        """The call reached the venue and got an answer that proves it works."""
        if probe:
            self._probe_in_flight = False
            if self._state is BreakerState.HALF_OPEN:
                self._failures.clear()
                self._set(BreakerState.CLOSED)
            return
        if self._state is BreakerState.CLOSED and self._failures:
            self._failures.clear()

    def record_failure(self, probe: bool = False) -> None:
        """The call failed in a way that counts against the venue (transport error, timeout, 5xx)."""
        now = self._clock.monotonic()
        if probe:
            self._probe_in_flight = False
            if self._state is BreakerState.HALF_OPEN:
                self._open(now)
            return
        if self._state is not BreakerState.CLOSED:
            return  # a call that started before the breaker opened; the verdict is already in
        failures = self._failures
        failures.append(now)
        horizon = now - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if len(failures) >= self.failure_threshold:
            self._open(now)

    def release(self, probe: bool = False) -> None:
        """The call ended without a verdict (cancelled, or refused locally before sending)."""
        if probe:
            self._probe_in_flight = False

    def reset(self) -> None:
        """Close the breaker and forget past failures."""
        self._failures.clear()
        self._probe_in_flight = False
        self._set(BreakerState.CLOSED)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe view for metrics and health checks."""
        return {
            "state": self._state.value,
            "recent_failures": len(self._failures),
            "opened_count": self.opened_count,
            "retry_after": self.retry_after,
        }

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._failures.clear()
        self.opened_count += 1
        self._set(BreakerState.OPEN)

    def _set(self, new: BreakerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        for listener in list(self._listeners):
            try:
                listener(self, old, new)
            except Exception:
                _log.exception("circuit breaker listener failed for %s", self.system)
