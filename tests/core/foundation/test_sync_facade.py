"""The synchronous facade's hop onto its loop thread: results, errors and cancellation come back to
the caller, the caller's context variables reach the call, and a closed facade refuses calls."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from portico.plugins import PluginManager
from portico.runtime import Integration

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")


@pytest.fixture
def integration() -> Integration:
    runtime = Integration({}, plugins=PluginManager(autoload=False))
    yield runtime
    runtime.close()


def test_a_result_comes_back_from_the_loop_thread(integration: Integration) -> None:
    async def thread_name() -> str:
        return threading.current_thread().name

    assert integration._run(thread_name()) == "portico-runtime"


def test_an_error_is_raised_in_the_caller_as_it_was(integration: Integration) -> None:
    async def fail() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        integration._run(fail())


def test_a_cancelled_call_raises_cancelled_error(integration: Integration) -> None:
    async def cancelled() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    with pytest.raises(asyncio.CancelledError):
        integration._run(cancelled())


def test_the_callers_context_reaches_the_call(integration: Integration) -> None:
    async def seen() -> str:
        return where.get()

    token = where.set("caller")
    try:
        assert integration._run(seen()) == "caller"
    finally:
        where.reset(token)


def test_many_calls_in_a_row_each_get_their_own_answer(integration: Integration) -> None:
    async def echo(i: int) -> int:
        await asyncio.sleep(0)
        return i

    assert [integration._run(echo(i)) for i in range(200)] == list(range(200))


def test_a_closed_facade_refuses_calls() -> None:
    runtime = Integration({}, plugins=PluginManager(autoload=False))
    runtime.close()

    async def never() -> None:  # pragma: no cover - must not run
        raise AssertionError("ran after close")

    with pytest.raises(RuntimeError, match="closed"):
        runtime._run(never())
