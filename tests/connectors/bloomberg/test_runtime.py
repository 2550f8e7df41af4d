"""The runtime loads the Bloomberg plugin by its entry point, starts its mock for ``mock: true``, resolves
the token URL to the mock's and serves FX rates and reference data through the market data service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

CLIENT_SECRET = "portico-mock-secret"  # the mock's default application


def _config() -> dict[str, Any]:
    return {
        "systems": {
            "bloomberg_dl": {
                "type": "data_service",
                "connector": "bloomberg",
                "mock": True,
                "mock_seed": 4,
                "connection": {"poll_interval": 0.05, "output_format": "csv"},
                "authentication": {
                    "type": "oauth2_client_credentials",
                    "credentials": {"client_id": "portico-mock-client", "client_secret": CLIENT_SECRET},
                },
            }
        }
    }


async def test_mock_true_serves_fx_rates_through_the_market_data_service(portico_home: Path) -> None:
    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        assert "bloomberg" in integration.plugins.connectors
        rate = await integration.get_market_data("bloomberg_dl", "EUR/USD", "fx_rate")
        status = await integration.get_external_system_status("bloomberg_dl")
        mock = integration.systems["bloomberg_dl"].mock
        token_calls = mock.app.journal.count("POST", "/ext/api/as/token.oauth2")
        posted = mock.app.journal.entries("POST", "/eap/catalogs/1234/requests/")
    assert rate.system == "bloomberg_dl"
    value = rate.data["EUR/USD"]
    assert (value.base, value.quote) == ("EUR", "USD")
    assert value.bid is not None and value.ask is not None and value.bid <= value.rate <= value.ask
    assert status.mock is True and status.urls["auth"] == status.urls["base"]  # both on the mock
    assert token_calls == 1  # the token endpoint is the mock's, reached through the template
    assert len(posted) == 1
    assert CLIENT_SECRET not in (posted[0].body or "") and CLIENT_SECRET not in posted[0].query
