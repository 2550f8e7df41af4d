"""``connection.mock_sign_in``: a mock system takes its token from the mock's token route, and the
setting is refused anywhere but a loopback address."""

from __future__ import annotations

import pytest

from portico.connectors.morningstar import MorningstarConnector
from portico.errors import ConfigurationError
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.sdk import ConnectorContext

CONFIG = {
    "systems": {
        "ms": {
            "type": "data_service",
            "connector": "morningstar",
            "mock": True,
            "connection": {"mock_sign_in": True},
            "authentication": {"type": "api_key", "credentials": {"token": "not-a-jwt"}},
        }
    }
}


async def test_a_mock_system_signs_in_on_its_mock() -> None:
    async with AsyncIntegration(CONFIG, plugins=PluginManager()) as integration:
        status = await integration.get_external_system_status("ms")
        report = await integration.run_health_check("ms")
    assert status.state == "connected"
    assert "token valid until" in str(report)


async def test_mock_sign_in_is_refused_for_the_real_service() -> None:
    context = ConnectorContext.for_testing(
        MorningstarConnector,
        urls={"base": "https://www.us-api.morningstar.com/md-api/", "jwks": "https://example.test/jwks"},
        credentials={"token": "x"},
        connection={"mock_sign_in": True},
    )
    with pytest.raises(ConfigurationError, match="mock_sign_in is only for a mock on a loopback address"):
        await MorningstarConnector(context).open()
