"""The conformance suite over the TWS transport, against the TWS mock (ib_async on a real socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

pytest.importorskip("ib_async")

from portico.connectors.interactive_brokers import InteractiveBrokersConnector, transport_spec
from portico.mocks.interactive_brokers.tws import TwsMockServer
from portico.sdk import ConnectorSpec
from portico.testing.conformance import ConnectorConformance
from tests.connectors.interactive_brokers.conftest import start_ib_mock


class TwsOnlyConnector(InteractiveBrokersConnector):
    """The connector as the TWS transport offers it (the manifest narrowed to that transport)."""

    spec: ClassVar[ConnectorSpec] = transport_spec("tws")


@dataclass
class _RunningTws:
    server: TwsMockServer
    flex: Any
    """The IB mock's HTTP side, for its Flex Web Service (cash movements and corporate actions)."""

    @property
    def urls(self) -> dict[str, str]:
        return {"tws": self.server.url, "flex": self.flex.urls["flex"]}

    async def stop(self) -> None:
        await self.server.stop()
        await self.flex.stop()


class TestTwsConformance(ConnectorConformance):
    connector_class = TwsOnlyConnector
    connection: ClassVar[dict[str, Any]] = {
        "transport": "tws",
        "client_id": 1,
        "ack_timeout": 3,
        "flex_query_id": "123456",
    }
    credentials: ClassVar[dict[str, str]] = {"flex_token": "flex-token-1"}

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[_RunningTws]:
        server = await TwsMockServer(seed=self.mock_seed, tick_interval=0.05).start()
        running = _RunningTws(server, await start_ib_mock(seed=self.mock_seed, tws_port=None))
        try:
            yield running
        finally:
            await running.stop()
