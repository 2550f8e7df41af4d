from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.etrade import SPEC, EtradeConnector
from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.etrade import create_app
from portico.plugins import PluginManager
from portico.sdk import ConnectorContext, resolve_url_templates

CONSUMER_KEY = "etrade-mock-consumer-key"
CONSUMER_SECRET = "etrade-mock-consumer-secret"
ACCESS_TOKEN = "etrade-mock-access-token"
ACCESS_SECRET = "etrade-mock-access-token-secret"
CREDENTIALS = {
    "consumer_key": CONSUMER_KEY,
    "consumer_secret": CONSUMER_SECRET,
    "token": ACCESS_TOKEN,
    "token_secret": ACCESS_SECRET,
}


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., RunningMock]]:
    """Start E*TRADE mocks (pinned clock, no rate limit unless asked); stopped after the test."""
    started: list[RunningMock] = []

    def start(**options: Any) -> RunningMock:
        options.setdefault("start", DEFAULT_START)
        faults = options.pop("faults", None)
        running = start_mock(create_app(seed=options.pop("seed", 5), faults=faults, **options))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


FAST_LIMITS = {m: {"per_second": 1000, "per_hour": 1_000_000} for m in ("accounts", "market", "order")}
"""Throttles that never wait (the per-module limiter has its own tests)."""


def make_connector(
    running: RunningMock,
    *,
    clock: FakeClock | None = None,
    credentials: dict[str, str] | None = None,
    connection: dict[str, Any] | None = None,
    events: list[tuple[str, dict[str, Any]]] | None = None,
    interactive: Any = None,
    store: Any = None,
) -> EtradeConnector:
    """A connector on ``running`` whose auth comes from an AuthenticationManager (plugins loaded), as
    the runtime builds it; ``clock`` drives the token lifecycle (keep it level with the mock's)."""
    clock = clock or FakeClock(DEFAULT_START)
    secrets = {k: SecretStr(v) for k, v in (credentials or CREDENTIALS).items()}

    def emit(event: str, **data: Any) -> None:
        if events is not None:
            events.append((event, data))

    manager = AuthenticationManager(
        vault=None, audit=None, clock=clock, plugins=PluginManager(), emit=emit, interactive=interactive
    )
    scheme = SPEC.auth_scheme()
    assert scheme is not None
    options = resolve_url_templates(dict(scheme.options), dict(running.urls))
    auth = manager.build("etrade", scheme.scheme, secrets, options)
    context = ConnectorContext.for_testing(
        EtradeConnector,
        urls=running.urls,
        credentials=secrets,
        connection={"rate_limits": FAST_LIMITS, **(connection or {})},
        auth_scheme=scheme.scheme,
        auth=auth,
        clock=clock,
        emit=emit,
        store=store,
    )
    return EtradeConnector(context)
