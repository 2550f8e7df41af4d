"""``massive``, Polygon.io's new name, is an alias: a config may name the connector either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico.errors import ConfigurationError
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration


def test_the_alias_finds_the_polygon_connector() -> None:
    plugins = PluginManager()
    assert plugins.connector("massive") is plugins.connector("polygon")
    assert plugins.spec("massive").name == "polygon"
    with pytest.raises(ConfigurationError, match="unknown connector 'massiv'"):
        plugins.connector("massiv")


async def test_a_system_configured_as_massive_runs_on_the_polygon_mock() -> None:
    config = {
        "systems": {
            "md": {
                "type": "market_data",
                "connector": "massive",
                "mock": True,
                "authentication": {"type": "api_key", "credentials": {"api_key": "k"}},
                "connection": {"plan": "advanced"},
            }
        }
    }
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        assert type(integration.connectors["md"]).spec.name == "polygon"
        result = await integration.get_market_data("md", ["AAPL"], "bars", {"limit": 3})
    bars = getattr(result, "data", result)["AAPL"]
    assert len(bars) == 3


def test_the_scaffold_refuses_the_alias_of_an_installed_connector(tmp_path: Path) -> None:
    from portico.scaffold import generate_connector

    with pytest.raises(ConfigurationError, match="polygon"):
        generate_connector("massive", kind="market_data", auth="api_key", output=tmp_path, capture=False)
