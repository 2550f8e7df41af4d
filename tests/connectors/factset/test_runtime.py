"""The FactSet connector in the runtime, as a user configures it: ``mock: true``, HTTP Basic or the
plugin's private_key_jwt scheme (credentials from config, the mock given the client's public key)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.factset.auth import FactSetPrivateKeyJwtAuth
from portico.models import Bar
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from tests.connectors.factset.keys import API_KEY, CLIENT_ID, USER, private_jwk, public_jwk

PARAMS = {
    "interval": "1day",
    "start": datetime(2024, 3, 4, 5, tzinfo=UTC),
    "end": datetime(2024, 3, 8, 22, tzinfo=UTC),
}


def _system(authentication: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"systems": {"factset": {
        "type": "data_service", "connector": "factset", "mock": True, "mock_seed": 2,
        "authentication": authentication, **extra,
    }}}  # fmt: skip


def _bars(result: Any) -> list[Bar]:
    data = getattr(result, "data", result)
    return list(data["AAPL"])


async def test_basic_auth_from_config_serves_bars_through_the_market_data_service(
    portico_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _system({"type": "basic", "credentials": {"username": USER, "password": API_KEY}},
                     mock_options={"users": {USER: API_KEY}})  # fmt: skip
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        bars = _bars(await integration.get_market_data("factset", ["AAPL"], "bars", PARAMS))
    assert [b.timestamp.day for b in bars] == [4, 5, 6, 7, 8]
    assert {b.source for b in bars} == {"factset"}


async def test_private_key_jwt_from_config_gets_a_token_from_the_mock(
    portico_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _system(
        {
            "type": "factset_private_key_jwt",
            "credentials": {"client_id": CLIENT_ID, "jwk": json.dumps(private_jwk())},
        },
        mock_options={"clients": {CLIENT_ID: public_jwk()}},
    )
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        bars = _bars(await integration.get_market_data("factset", ["AAPL"], "bars", PARAMS))
        system = integration.systems["factset"]
        auth = integration.auth.built["factset"]
        assert isinstance(auth, FactSetPrivateKeyJwtAuth)
        # the well-known URI followed the mock's URL through the manifest's {auth} template
        assert auth.well_known_uri == f"{system.mock.urls['auth']}/.well-known/openid-configuration"
        assert system.mock.app.state.mock.token_requests == 1
    assert len(bars) == 5
