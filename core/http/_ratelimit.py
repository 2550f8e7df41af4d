"""Client-side rate limiting: several windows at once, a cost per endpoint, a bounded wait.

Each window (``5/second``, ``200/minute``, ``25/day``) is a token bucket whose tokens come back exactly one
period after they were spent. Unlike a bucket that refills continuously, that never lets any interval of
``period`` seconds hold more than ``limit`` cost units, which is how venues count. A call takes tokens
from every window at once, or waits (on the injected clock) until all of them have enough; if that wait
would exceed ``max_wait`` it fails with :class:`~portico.errors.RateLimited` instead.

Budgets live in a backend: in memory (one process) or in Redis (every process that uses the same API key
shares one budget; see :mod:`portico.http._ratelimit_redis`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from portico.clock import Clock, SystemClock, system_clock
from portico.errors import ConfigurationError, RateLimited
from portico.policy import RateLimitPolicy, RateWindow

__all__ = [
    "MemoryRateLimitBackend",
    "RateLimitBackend",
    "RateLimiter",
    "RateLimiterRegistry",
    "credential_fingerprint",
]

_EPS = 1e-9


@runtime_checkable
class RateLimitBackend(Protocol):
    """Where a limiter keeps its budgets.

    ``now`` is in the backend's time base: the clock's monotonic seconds for a process-local backend,
    wall-clock epoch seconds for a shared one (``uses_wall_clock``).
    """

    uses_wall_clock: bool

    async def reserve(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> float:
        """Take ``cost`` from every window and return 0, or take nothing and return seconds to wait."""
        ...

    def remaining(self, windows: tuple[RateWindow, ...], now: float) -> list[float]:
        """The budget left in each window (possibly last known, for a shared backend)."""
        ...

    async def block(self, now: float, seconds: float) -> None:
        """Admit nothing for ``seconds`` from ``now`` (a venue's ``Retry-After``)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class _WindowLog:
    """The spends of one window still inside it: ``(time, cost)`` oldest first."""

    __slots__ = ("entries", "used")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, float]] = deque()
        self.used = 0.0

    def expire(self, period: float, now: float) -> None:
        horizon = now - period + _EPS
        entries = self.entries
        while entries and entries[0][0] <= horizon:
            self.used -= entries.popleft()[1]
        if not entries:
            self.used = 0.0  # drop accumulated float error

    def wait_for(self, window: RateWindow, cost: float, now: float) -> float:
        excess = self.used + cost - window.limit
        if excess <= _EPS:
            return 0.0
        freed = 0.0
        for when, spent in self.entries:
            freed += spent
            if freed >= excess - _EPS:
                return max(when + window.period - now, _EPS)
        return window.period  # unreachable when cost <= limit; kept for safety


class MemoryRateLimitBackend:
    """Budgets in this process's memory. Safe for any number of asyncio tasks in one loop."""

    uses_wall_clock = False

    def __init__(self) -> None:
        self._logs: dict[float, _WindowLog] = {}
        self._blocked_until = -math.inf

    def reserve_now(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> float:
        """The synchronous form of :meth:`reserve` (the limiter's fast path)."""
        wait = self._blocked_until - now
        logs = self._logs
        for window in windows:
            period = window.period
            log = logs.get(period)
            if log is None:
                log = logs[period] = _WindowLog()
            # _WindowLog.expire and the no-wait case of wait_for, inlined: this runs on every call
            entries = log.entries
            horizon = now - period + _EPS
            while entries and entries[0][0] <= horizon:
                log.used -= entries.popleft()[1]
            if not entries:
                log.used = 0.0
            if log.used + cost - window.limit > _EPS:
                needed = log.wait_for(window, cost, now)
                if needed > wait:
                    wait = needed
        if wait > 0:
            return wait
        for window in windows:
            log = logs[window.period]
            log.entries.append((now, cost))
            log.used += cost
        return 0.0

    async def reserve(self, windows: tuple[RateWindow, ...], cost: float, now: float) -> float:
        return self.reserve_now(windows, cost, now)

    def remaining(self, windows: tuple[RateWindow, ...], now: float) -> list[float]:
        out = []
        for window in windows:
            log = self._logs.get(window.period)
            if log is None:
                out.append(window.limit)
                continue
            log.expire(window.period, now)
            out.append(max(0.0, window.limit - log.used))
        return out

    async def block(self, now: float, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, now + seconds)

    async def aclose(self) -> None:
        return None


def _checked(policy: RateLimitPolicy) -> RateLimitPolicy:
    periods = [w.period for w in policy.windows]
    if len(set(periods)) != len(periods):
        # Budgets are kept per period; two limits on one period mean the stricter one is meant.
        raise ConfigurationError(f"two rate windows share a period: {', '.join(str(w) for w in policy.windows)}")
    return policy


class RateLimiter:
    """A multi-window rate limiter that waits instead of failing, up to a bound.

    Args:
        policy: the windows, endpoint costs and ``max_wait`` (a connector's ``spec.throttling``, with
            config overrides applied).
        clock: the time source waits run on.
        backend: where budgets live; in memory by default.
        name: a label for errors and metrics (the system id or connector name).

    Waiters are served first come, first served: the first waiter holds the queue while it sleeps, so a
    burst drains in order and nobody starves.
    """

    def __init__(
        self,
        policy: RateLimitPolicy | None = None,
        *,
        clock: Clock | None = None,
        backend: RateLimitBackend | None = None,
        name: str = "",
    ) -> None:
        self._policy = _checked(policy or RateLimitPolicy())
        self._windows = self._policy.windows
        self._clock = clock or system_clock
        # the real clock read directly on the fast path (a wrapper call fewer per call)
        self._monotonic = time.monotonic if type(self._clock) is SystemClock else self._clock.monotonic
        self._backend: RateLimitBackend = backend or MemoryRateLimitBackend()
        self._memory = self._backend if isinstance(self._backend, MemoryRateLimitBackend) else None
        self._queue = asyncio.Lock()
        self.name = name
        self.admitted = 0
        """Calls admitted so far (for metrics)."""
        self.throttled = 0
        """Calls refused after the bounded wait (for metrics)."""
        self.total_wait = 0.0
        """Seconds spent waiting, summed over calls (for metrics)."""

    def __repr__(self) -> str:
        windows = ", ".join(str(w) for w in self._windows) or "unlimited"
        return f"RateLimiter(name={self.name!r}, windows=[{windows}], backend={type(self._backend).__name__})"

    @property
    def policy(self) -> RateLimitPolicy:
        """The policy in force."""
        return self._policy

    @property
    def windows(self) -> tuple[RateWindow, ...]:
        """The windows in force."""
        return self._windows

    @property
    def backend(self) -> RateLimitBackend:
        """Where the budgets live."""
        return self._backend

    def cost_of(self, endpoint: str | None) -> float:
        """The cost of one call to ``endpoint`` under the policy (1 unless the policy says otherwise)."""
        # RateLimitPolicy.cost_of, inlined: asked on every call
        return 1.0 if endpoint is None else self._policy.endpoint_costs.get(endpoint, 1.0)

    def update_windows(
        self,
        windows: Iterable[RateWindow] | None = None,
        *,
        max_wait: float | None = None,
        endpoint_costs: Mapping[str, float] | None = None,
    ) -> None:
        """Change the limits at run time (``set_throttling_parameters``). Spends so far still count."""
        update: dict[str, Any] = {}
        if windows is not None:
            # As plain data, so every window is validated again (instances would be trusted as they are).
            update["windows"] = [w.model_dump() if isinstance(w, RateWindow) else w for w in windows]
        if max_wait is not None:
            update["max_wait"] = max_wait
        if endpoint_costs is not None:
            update["endpoint_costs"] = dict(endpoint_costs)
        # Validate, so a bad run-time change fails here and not inside the next call.
        self._policy = _checked(RateLimitPolicy.model_validate({**self._policy.model_dump(), **update}))
        self._windows = self._policy.windows

    def remaining(self) -> dict[str, float]:
        """The budget left in each window, keyed like ``"5/second"`` (for metrics)."""
        windows = self._windows
        return {str(w): left for w, left in zip(windows, self._backend.remaining(windows, self._now()), strict=True)}

    async def block_for(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (the venue said ``Retry-After``); shared with the backend."""
        if seconds > 0:
            await self._backend.block(self._now(), seconds)

    def try_acquire(self, cost: float = 1.0) -> bool:
        """Take ``cost`` now if every window has room and nobody is queued ahead; never waits.

        Always ``False`` for a shared (Redis) backend, which needs a round trip: use :meth:`acquire`.
        """
        memory = self._memory
        if (
            memory is not None
            and not self._queue.locked()
            and memory.reserve_now(self._windows, cost, self._monotonic()) == 0.0
        ):
            self.admitted += 1
            return True
        return False

    async def acquire(self, cost: float = 1.0, *, max_wait: float | None = None) -> float:
        """Take ``cost`` from every window, waiting if needed. Returns the seconds waited.

        Raises:
            RateLimited: the wait would exceed ``max_wait`` (the policy's unless given); ``retry_after``
                says how long until the budget allows the call.
            ConfigurationError: ``cost`` exceeds a window's whole limit, so it could never be admitted.
        """
        if self.try_acquire(cost):
            return 0.0
        windows = self._windows
        for window in windows:
            if cost > window.limit + _EPS:
                raise ConfigurationError(
                    f"a call costing {cost:g} can never fit the {window} window of {self.name or 'this limiter'}"
                )
        return await self._acquire_slow(cost, self._policy.max_wait if max_wait is None else max_wait)

    async def _acquire_slow(self, cost: float, max_wait: float) -> float:
        clock = self._clock
        started = clock.monotonic()
        async with self._queue:
            while True:
                windows = self._windows
                wait = await self._backend.reserve(windows, cost, self._now())
                waited = clock.monotonic() - started
                if wait <= 0:
                    self.admitted += 1
                    self.total_wait += waited
                    return waited
                if waited + wait > max_wait + _EPS:
                    self.throttled += 1
                    self.total_wait += waited
                    raise RateLimited(
                        f"rate limit of {self.name or 'this limiter'} "
                        f"({', '.join(str(w) for w in windows)}) leaves no room within {max_wait:g}s",
                        retry_after=wait,
                        system=self.name or None,
                    )
                await clock.sleep(wait)

    def _now(self) -> float:
        if self._backend.uses_wall_clock:
            return self._clock.now().timestamp()
        return self._clock.monotonic()

    async def aclose(self) -> None:
        """Release the backend's connections."""
        await self._backend.aclose()


def credential_fingerprint(connector: str, credentials: Mapping[str, SecretStr | str | None]) -> str:
    """A stable, non-reversible id for a set of credentials, to key shared budgets by.

    An HMAC keyed by the connector name over the sorted name/value pairs: equal credentials give equal
    fingerprints, and the raw key never leaves the process (it is not in Redis keys, logs or metrics).
    """
    digest = hmac.new(connector.encode(), digestmod=hashlib.sha256)
    for name in sorted(credentials):
        value = credentials[name]
        raw = value.get_secret_value() if isinstance(value, SecretStr) else ("" if value is None else str(value))
        digest.update(name.encode() + b"\x00" + raw.encode() + b"\x00")
    return digest.hexdigest()[:24]


class RateLimiterRegistry:
    """One limiter per (connector, credentials): every connector instance with the same key shares it.

    Args:
        clock: the time source for the limiters it creates.
        redis_url: when given, limiters keep their budgets in Redis so other processes share them too.
        workers: the processes sharing each budget (Redis unreachable: each takes ``limit / workers``).
        on_mode: ``on_mode(connector, mode, error)`` when a budget turns ``"local"`` or ``"shared"`` again.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        redis_url: str | None = None,
        workers: int = 1,
        on_mode: Callable[[str, str, str | None], None] | None = None,
    ) -> None:
        self._clock = clock or system_clock
        self._redis_url = redis_url
        self._workers = workers
        self._on_mode = on_mode
        self._limiters: dict[tuple[str, str], RateLimiter] = {}

    def get(
        self,
        connector: str,
        policy: RateLimitPolicy,
        *,
        credentials: Mapping[str, SecretStr | str | None] | None = None,
        fingerprint: str | None = None,
    ) -> RateLimiter:
        """The shared limiter for ``connector`` used with these credentials, created on first use.

        The first caller's policy creates the limiter; later callers get the same object (change its
        limits with :meth:`RateLimiter.update_windows`).
        """
        if fingerprint is None:
            fingerprint = credential_fingerprint(connector, credentials or {})
        key = (connector, fingerprint)
        limiter = self._limiters.get(key)
        if limiter is None:
            backend: RateLimitBackend | None = None
            if self._redis_url:
                from portico.http._ratelimit_redis import RedisRateLimitBackend

                notify = self._on_mode
                backend = RedisRateLimitBackend(
                    self._redis_url,
                    key_prefix=f"{connector}:{fingerprint}",
                    workers=self._workers,
                    on_mode=(lambda mode, error: notify(connector, mode, error)) if notify is not None else None,
                )
            limiter = RateLimiter(policy, clock=self._clock, backend=backend, name=connector)
            self._limiters[key] = limiter
        return limiter

    def __len__(self) -> int:
        return len(self._limiters)

    async def aclose(self) -> None:
        """Close every limiter's backend."""
        for limiter in self._limiters.values():
            await limiter.aclose()
