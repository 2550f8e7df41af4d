"""The shared conformance suite, generated from the Morningstar manifest, against its mock over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from portico.connectors.morningstar import MorningstarConnector
from portico.sdk import Connector
from portico.testing.conformance import ConnectorConformance


class TestMorningstarConformance(ConnectorConformance):
    connector_class = MorningstarConnector
    symbol = "SPY"

    @pytest.fixture
    async def connector(self, mock_server: Any) -> AsyncIterator[Connector]:
        # the mock signs tokens with a key it makes at start: the credential is issued by the running mock
        self.credentials = {"token": mock_server.app.state.mock.issue_token()}
        context = await self.make_context(mock_server.urls)
        instance = self.connector_class(context)
        await instance.open()
        try:
            yield instance
        finally:
            await instance.close()
