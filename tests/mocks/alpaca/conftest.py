from __future__ import annotations

from collections.abc import Iterator

import pytest

from portico.mocks import DEFAULT_START, RunningMock, start_mock
from portico.mocks.alpaca import create_app


@pytest.fixture
def running() -> Iterator[RunningMock]:
    with start_mock(create_app(seed=11, keys={"PKTEST": "secret"}, start=DEFAULT_START)) as served:
        yield served
