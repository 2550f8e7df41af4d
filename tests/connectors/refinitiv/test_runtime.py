"""The connector as the runtime loads it: a ``mock: true`` system whose ``refinitiv_password`` auth the
AuthenticationManager builds from the plugin's hook, with the manifest's URL templates pointed at the mock."""

from __future__ import annotations

from typing import Any

from portico.models import Bar, FxRate, Quote
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

CREDENTIALS = {"app_key": "portico-app-key", "username": "portico-user", "password": "portico-password"}


def _config() -> dict[str, Any]:
    return {
        "systems": {
            "lseg": {
                "type": "data_service",
                "connector": "refinitiv",
                "mock": True,
                "mock_seed": 3,
                "authentication": {"type": "refinitiv_password", "credentials": dict(CREDENTIALS)},
            }
        }
    }


async def test_market_data_through_the_runtime_against_the_mock() -> None:
    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        bars = await integration.get_market_data("lseg", "IBM.N", "bars", {"limit": 5})
        quote = await integration.get_market_data("lseg", ["EUR="], "latest_quote")
        rate = await integration.get_market_data("lseg", "USD/JPY", "fx_rate")
        status = await integration.get_external_system_status("lseg")
        mock = integration.systems["lseg"].mock.app.state.mock
    assert not bars.errors and not bars.quality.issues
    assert len(bars.data["IBM.N"]) == 5 and all(isinstance(b, Bar) for b in bars.data["IBM.N"])
    assert isinstance(quote.data["EUR="], Quote)
    usd_jpy = next(iter(rate.data.values()))
    assert isinstance(usd_jpy, FxRate) and (usd_jpy.base, usd_jpy.quote) == ("USD", "JPY")
    assert status.system_id == "lseg"
    # one login for the whole run; the session was revoked at the end so the user's quota is free
    assert mock.tokens.grants == ["password"]
    assert mock.tokens.sessions == []
