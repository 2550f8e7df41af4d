"""Running mock servers in tests: in-process through ``httpx.ASGITransport``, or on an ephemeral port.

Import the fixtures into a ``conftest.py``::

    from portico.testing.mocks import mock_server  # noqa: F401

    async def test_orders(mock_server):
        running = await mock_server("alpaca", seed=3)
        ...  # running.urls["trading"], running.app.venue, running.app.journal

or use the helpers directly: ``async with serve_mock("alpaca") as running`` and ``asgi_client(app)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from portico.mocks import RunningMock, build_mock_app, start_mock

__all__ = ["asgi_client", "mock_app", "mock_server", "serve_mock"]


def mock_app(target: Any, *, seed: int = 0, faults: Any = None, **options: Any) -> Any:
    """The ASGI app of a mock (by installed name, spec, ``module:callable``, factory or app), not served."""
    return build_mock_app(target, seed=seed, faults=faults, **options)


def asgi_client(app: Any, *, base_url: str = "http://mock", **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that talks to ``app`` in-process (no socket)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **kwargs)


@contextlib.asynccontextmanager
async def serve_mock(target: Any, **kwargs: Any) -> AsyncIterator[RunningMock]:
    """Serve a mock on an ephemeral port for the duration of the block (keyword arguments go to
    :func:`portico.mocks.start_mock`)."""
    running = await asyncio.to_thread(start_mock, target, **kwargs)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def mock_server() -> AsyncIterator[Callable[..., Awaitable[RunningMock]]]:
    """A factory fixture: ``await mock_server(target, seed=..., faults=...)`` serves a mock on an
    ephemeral port; every mock it started is stopped at the end of the test."""
    started: list[RunningMock] = []

    async def start(target: Any, **kwargs: Any) -> RunningMock:
        running = await asyncio.to_thread(start_mock, target, **kwargs)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in reversed(started):
            await running.stop()
