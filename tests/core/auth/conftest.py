"""Fixtures for the auth tests: the mock authorization server on a real port, a manager wired to a vault
and an audit log, and a fake clock that starts at the real time (the mock checks timestamps)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico.auth import AuditLog, AuthenticationManager, CredentialVault
from portico.clock import FakeClock
from portico.mocks import RunningMock, start_mock
from portico.mocks.oauth import create_app
from portico.store import Database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def oauth_mock() -> Iterator[RunningMock]:
    running = start_mock(create_app, seed=7)
    try:
        yield running
    finally:
        running.stop_sync()


@pytest.fixture
async def admin(oauth_mock: RunningMock) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=oauth_mock.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def vault(tmp_path: Path) -> CredentialVault:
    return CredentialVault(tmp_path / "vault.bin", "test-passphrase", log2_n=10)


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(Database())


@pytest.fixture
def events() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def manager(
    vault: CredentialVault, audit: AuditLog, clock: FakeClock, events: list[tuple[str, dict[str, Any]]]
) -> AuthenticationManager:
    def emit(event: str, **data: Any) -> None:
        events.append((event, data))

    return AuthenticationManager(vault=vault, audit=audit, clock=clock, emit=emit)


async def grants(admin: httpx.AsyncClient) -> dict[str, int]:
    """Token requests the mock has served, by grant type."""
    response = await admin.get("/__mock__/oauth/state")
    result: dict[str, int] = response.json()["grants"]
    return result
