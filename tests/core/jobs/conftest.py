"""Fixtures for the jobs tests: a service on a fresh store, a recording monitor, file writers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.jobs import JobService
from portico.store import Database

HEADER = "account|isin|symbol|quantity|price|currency|date"
GOOD = [
    "A1|US0378331005|AAPL|100|190.5|USD|2026-01-05",
    "A1|US5949181045|MSFT|-5|400|USD|2026-01-05",
    "A2|US0378331005|AAPL|250.25|190.5|EUR|2026-01-05",
]


class RecordingMonitor:
    """Records every emitted event (the IntegrationMonitor's ``emit`` signature)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        self.events.append((event, severity, data))

    def names(self) -> list[str]:
        return [e[0] for e in self.events if e[0] != "jobs.chunk_loaded"]


@pytest.fixture
def monitor() -> RecordingMonitor:
    return RecordingMonitor()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(portico_home: Path) -> Iterator[Database]:
    database = Database()
    yield database
    database.dispose()


@pytest.fixture
def service(db: Database, clock: FakeClock, monitor: RecordingMonitor) -> Iterator[JobService]:
    svc = JobService(db=db, clock=clock, monitor=monitor, config={})
    yield svc
    svc.shutdown()


def write(path: Path, *lines: str) -> Path:
    """Write a text file of ``lines`` (newline-terminated)."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def stored(db: Database, table: str = "portico_import_positions") -> list[dict[str, Any]]:
    """Every row of a data table, without the load number, in a stable order."""
    import sqlalchemy as sa

    with db.begin() as conn:
        if not sa.inspect(conn).has_table(table):
            return []
        rows = conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
    return sorted(({k: v for k, v in r.items() if k != "load_no"} for r in rows), key=lambda r: (r["line"], str(r)))
