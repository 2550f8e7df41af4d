"""Fixtures for the FIX connector tests: the FIX 4.4 data dictionary, the FIX mock and connectors on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("quickfix")

from portico.connectors.fix import FixConnector
from portico.connectors.fix.dictionary import ENV_VAR, fetch_data_dictionary
from portico.errors import ConfigurationError
from portico.mocks.fix import FixMockServer
from portico.sdk import ConnectorContext
from portico.store import Database


@pytest.fixture(scope="session")
def fix_dictionary() -> str:
    """FIX44.xml: ``$PORTICO_FIX_DATA_DICTIONARY``, else fetched once from the quickfix source archive."""
    configured = os.environ.get(ENV_VAR)
    if configured and Path(configured).is_file():
        return configured
    try:
        return str(fetch_data_dictionary())
    except ConfigurationError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no FIX 4.4 data dictionary: {exc}")


@pytest.fixture(autouse=True)
def _dictionary_env(fix_dictionary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, fix_dictionary)


@pytest.fixture
async def fix_mock() -> AsyncIterator[FixMockServer]:
    """A FIX mock (seed 7, no faults) on ephemeral ports."""
    server = await FixMockServer(seed=7).start()
    try:
        yield server
    finally:
        await server.stop()


ConnectorFactory = Callable[..., Awaitable[FixConnector]]

FAST = {"heartbeat_interval": 30, "reconnect_interval": 1, "logon_timeout": 5, "ack_timeout": 2}
"""Session timers for tests: reconnect after a second, answers within two."""


@pytest.fixture
async def fix_connector(tmp_path: Path) -> AsyncIterator[ConnectorFactory]:
    """``await fix_connector(mock, **connection)``: an opened connector on its own store (closed after the test).

    ``db=`` passes a :class:`Database` to share between connectors (a restart on the same store);
    ``events=`` a list that receives every monitor event.
    """
    opened: list[FixConnector] = []
    databases: list[Database] = []

    async def factory(
        mock: FixMockServer,
        *,
        db: Database | None = None,
        events: list[tuple[str, dict[str, Any]]] | None = None,
        credentials: dict[str, str] | None = None,
        open: bool = True,
        **connection: Any,
    ) -> FixConnector:
        if db is None:
            db = Database(f"sqlite:///{tmp_path / f'fix-{len(databases)}.db'}")
            databases.append(db)
        sink = events if events is not None else []
        context = ConnectorContext.for_testing(
            FixConnector,
            urls={"fix": mock.url},
            store=db,
            connection={**FAST, **connection},
            credentials=credentials or {},
            emit=lambda event, **data: sink.append((event, data)),
        )
        connector = FixConnector(context)
        opened.append(connector)
        if open:
            await connector.open()
        return connector

    yield factory
    for connector in opened:
        await connector.close()
    for db in databases:
        db.dispose()
