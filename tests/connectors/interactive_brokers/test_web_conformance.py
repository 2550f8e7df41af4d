"""The conformance suite over the web transport (Client Portal), against the IB mock on TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from portico.connectors.interactive_brokers import InteractiveBrokersConnector, transport_spec
from portico.sdk import ConnectorSpec
from portico.testing.conformance import ConnectorConformance
from tests.connectors.interactive_brokers.conftest import RunningIbMock, start_ib_mock


class WebOnlyConnector(InteractiveBrokersConnector):
    """The connector as the Client Portal transport offers it."""

    spec: ClassVar[ConnectorSpec] = transport_spec("web")


class TestWebConformance(ConnectorConformance):
    connector_class = WebOnlyConnector
    connection: ClassVar[dict[str, Any]] = {"transport": "web", "flex_query_id": "123456"}
    credentials: ClassVar[dict[str, str]] = {"flex_token": "flex-token-1"}

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[RunningIbMock]:
        mock = await start_ib_mock(seed=self.mock_seed)
        try:
            yield mock
        finally:
            await mock.stop()
