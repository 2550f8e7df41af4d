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


class TwsOnlyConnector(InteractiveBrokersConnector):
    """The connector as the TWS transport offers it (the manifest narrowed to that transport)."""

    spec: ClassVar[ConnectorSpec] = transport_spec("tws")


@dataclass
class _RunningTws:
    server: TwsMockServer

    @property
    def urls(self) -> dict[str, str]:
        return {"tws": self.server.url}

    async def stop(self) -> None:
        await self.server.stop()


class TestTwsConformance(ConnectorConformance):
    connector_class = TwsOnlyConnector
    connection: ClassVar[dict[str, Any]] = {"transport": "tws", "client_id": 1, "ack_timeout": 3}

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[_RunningTws]:
        server = await TwsMockServer(seed=self.mock_seed, tick_interval=0.05).start()
        running = _RunningTws(server)
        try:
            yield running
        finally:
            await running.stop()
