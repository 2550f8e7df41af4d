"""Fixtures for the Interactive Brokers connector tests: the IB mock served over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from portico.connectors.interactive_brokers import SPEC


class RunningIbMock:
    """A started IB mock with every URL the connector needs: ``web``, ``ws`` and ``tws``."""

    def __init__(self, running: Any) -> None:
        self.running = running
        self.app = running.app
        # the TWS socket server runs beside the HTTP app and publishes its URL on the app
        self.urls: dict[str, str] = {**running.urls, **getattr(running.app, "extra_urls", {})}

    async def stop(self) -> None:
        await self.running.stop()


async def start_ib_mock(**options: Any) -> RunningIbMock:
    """Serve the IB mock (Client Portal + TWS) on ephemeral ports."""
    from portico.mocks import start_mock

    assert SPEC.mock is not None
    running = await asyncio.to_thread(start_mock, SPEC.mock, **options)
    return RunningIbMock(running)


@pytest.fixture
def ib_mock_factory() -> Callable[..., Any]:
    """``await ib_mock_factory(seed=.., faults=.., pacing=..)``; every mock started is stopped after the test."""
    started: list[RunningIbMock] = []

    async def factory(**options: Any) -> RunningIbMock:
        mock = await start_ib_mock(**options)
        started.append(mock)
        return mock

    yield factory
    for mock in started:
        mock.running.stop_sync()


@pytest.fixture
async def ib_mock() -> AsyncIterator[RunningIbMock]:
    mock = await start_ib_mock(seed=7)
    try:
        yield mock
    finally:
        await mock.stop()
