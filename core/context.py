"""Correlation ids: one per business operation, carried through requests, logs, audit and events.

Every external call runs inside a scope, so this is on the per-call path: the scope is a small class
rather than a generator-based ``contextlib.contextmanager`` (which builds a generator and a wrapper
object and resumes the generator twice, several times the cost of the context-variable work itself),
and ids are cut from a batch of OS randomness rather than one ``os.urandom`` system call each.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["CorrelationScope", "correlation_scope", "current_correlation_id", "new_correlation_id"]

_F = TypeVar("_F", bound=Callable[..., Any])

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("portico_correlation_id", default=None)
_get = _correlation_id.get
_set = _correlation_id.set
_reset = _correlation_id.reset

_ID_BYTES = 16
_BATCH = 64  # ids per system call: 1 KiB of randomness
_pool: list[str] = []
_refill_lock = threading.Lock()


def _refill() -> None:
    with _refill_lock:
        if _pool:  # another thread refilled while this one waited
            return
        text = os.urandom(_ID_BYTES * _BATCH).hex()
        step = _ID_BYTES * 2
        _pool.extend([text[i : i + step] for i in range(0, len(text), step)])


def _forget_pool() -> None:
    # A forked child must not hand out ids its parent already holds (or will hand out).
    _pool.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def new_correlation_id() -> str:
    """A fresh random correlation id: 128 random bits from ``os.urandom`` as 32 hex digits.

    Ids are cut from a batch of OS randomness; each id is handed out once (``list.pop`` is atomic),
    and a forked process discards the batch it inherited.
    """
    while True:
        try:
            return _pool.pop()
        except IndexError:
            _refill()


def current_correlation_id() -> str | None:
    """The correlation id of the operation in progress, if any."""
    return _get()


class CorrelationScope:
    """Runs a block as one business operation: ``with correlation_scope() as cid: ...``.

    Reuses the enclosing operation's id when there is one and none is given, so nested calls share it.
    Also usable as a decorator (on plain and ``async`` functions): each call then runs in a scope of its
    own. A scope object may be entered once at a time.

    Args:
        correlation_id: the id to use; by default the enclosing one, or a new one.
    """

    __slots__ = ("_given", "_token")

    def __init__(self, correlation_id: str | None = None) -> None:
        self._given = correlation_id
        self._token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> str:
        if self._token is not None:
            raise RuntimeError("this correlation scope is already entered; open a new one")
        cid = self._given or _get() or new_correlation_id()
        self._token = _set(cid)
        return cid

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        self._token = None
        if token is not None:
            _reset(token)

    def __call__(self, func: _F) -> _F:
        """Decorate ``func`` so each call runs in a scope of its own (with this scope's given id)."""
        given = self._given
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with CorrelationScope(given):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with CorrelationScope(given):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


correlation_scope = CorrelationScope
"""``correlation_scope(correlation_id=None)``: the scope as a context manager (see :class:`CorrelationScope`)."""
