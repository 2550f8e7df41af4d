"""Shared fixtures: the Schwab mock over TCP, and an httpx transport that sends Schwab's real host
to it (schwab-py has no base-URL setting)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.schwab import create_app

APP_KEY = "portico-test-app-key"
APP_SECRET = "portico-test-app-secret"
CALLBACK = "https://127.0.0.1:8182"


class ToMock(httpx.HTTPTransport):
    """Sends every request, whatever its host, to the mock at ``base`` (plain HTTP on 127.0.0.1)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self._target = httpx.URL(base)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._target.scheme, host=self._target.host, port=self._target.port
        )
        request.headers["host"] = f"{self._target.host}:{self._target.port}"
        return super().handle_request(request)


class AsyncToMock(httpx.AsyncHTTPTransport):
    """The async twin of :class:`ToMock`."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self._target = httpx.URL(base)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._target.scheme, host=self._target.host, port=self._target.port
        )
        request.headers["host"] = f"{self._target.host}:{self._target.port}"
        return await super().handle_async_request(request)


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., RunningMock]]:
    """Start Schwab mocks (pinned clock unless asked, the test app registered); stopped after the test."""
    started: list[RunningMock] = []

    def start(**options: Any) -> RunningMock:
        options.setdefault("start", DEFAULT_START)
        options.setdefault("clients", {APP_KEY: APP_SECRET})
        faults = options.pop("faults", None)
        running = start_mock(create_app(seed=options.pop("seed", 5), faults=faults, **options))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()
