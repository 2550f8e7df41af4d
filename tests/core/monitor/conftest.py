"""Fixtures for the monitor tests: captured log lines, a canary secret, call records."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from portico.http import CallRecord
from portico.monitor import Redactor, configure_logging

CANARY = "canary-S3cr3t-9f8e7d6c"


class LogCapture:
    """JSON log lines written by the configured pipeline."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]


@pytest.fixture
def redactor() -> Redactor:
    """A fresh redactor knowing the canary."""
    r = Redactor()
    r.add_secret(CANARY)
    return r


@pytest.fixture
def logs(redactor: Redactor) -> Iterator[LogCapture]:
    """JSON logging into a buffer through ``redactor``; restored afterwards."""
    stream = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=stream, redactor=redactor)
    yield LogCapture(stream)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "portico":
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    structlog.reset_defaults()


def call(
    system: str = "alpaca_paper",
    *,
    endpoint: str = "GET /v2/account",
    status: int | None = 200,
    outcome: str = "ok",
    latency: float = 0.010,
    attempt: int = 1,
    rate_limit_wait: float = 0.0,
    correlation_id: str | None = None,
    error: Any = None,
) -> CallRecord:
    """A call record as the ApiClient reports it."""
    return CallRecord(
        system=system,
        method=endpoint.split(" ", 1)[0],
        endpoint=endpoint,
        status=status,
        outcome=outcome,  # type: ignore[arg-type]
        latency=latency,
        attempt=attempt,
        rate_limit_wait=rate_limit_wait,
        correlation_id=correlation_id,
        error=error,
    )
