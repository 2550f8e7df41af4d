"""IEX Cloud is gone (shut down 31 August 2024): a system naming it fails validation with the replacements
portico has and the migration from IEX endpoints to portico calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portico.config import load_config
from portico.errors import ConfigurationError
from portico.plugins import PluginManager


def _problems(systems: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as caught:
        load_config({"systems": systems}, plugins=PluginManager())
    # each problem is (key path, "key path: message")
    return {key: text.removeprefix(f"{key}: ") for key, text in caught.value.problems}


def test_a_system_named_iex_cloud_is_refused_with_the_shutdown_and_the_replacements() -> None:
    message = _problems({"iex_cloud": {"type": "market_data"}})["systems.iex_cloud"]
    assert message.startswith("IEX Cloud shut down on 31 August 2024")
    for replacement in ("'polygon'", "'alpaca'", "'alpha_vantage'"):
        assert replacement in message
    assert "'yahoo_finance' is unofficial, for research only" in message


def test_the_message_maps_iex_endpoints_to_portico_calls() -> None:
    message = _problems({"iex_cloud": {"type": "market_data"}})["systems.iex_cloud"]
    assert (
        "/stock/{symbol}/quote and /stock/market/batch?types=quote -> get_latest_quotes([symbols])" in message
    )
    assert "/stock/{symbol}/chart/{range} -> get_bars(symbol, '1day', start=..., end=...)" in message
    assert "/stock/{symbol}/dividends and /splits -> get_corporate_actions(symbol)" in message
    assert "/search/{text} -> search_instruments(text)" in message


def test_a_system_using_connector_iex_cloud_is_refused_on_the_connector_key() -> None:
    problems = _problems({"prices": {"type": "market_data", "connector": "iex_cloud"}})
    assert problems["systems.prices.connector"].startswith("IEX Cloud shut down on 31 August 2024")


def test_the_message_says_which_replacements_are_not_installed_here() -> None:
    installed = set(PluginManager().connectors)
    message = _problems({"iex_cloud": {"type": "market_data"}})["systems.iex_cloud"]
    absent = [name for name in ("polygon", "alpaca", "alpha_vantage") if name not in installed]
    if absent:
        assert ", ".join(absent) in message
    else:
        assert "not installed" not in message


def test_td_ameritrade_keeps_its_own_message() -> None:
    message = _problems({"td_ameritrade": {"type": "brokerage"}})["systems.td_ameritrade"]
    assert message.startswith("TD Ameritrade's API was retired in May 2024")
    assert "IEX" not in message


def test_config_validate_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "iex.yaml"
    path.write_text("systems:\n  iex_cloud:\n    type: market_data\n")
    result = subprocess.run(
        [sys.executable, "-m", "portico.cli", "config", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "systems.iex_cloud: IEX Cloud shut down on 31 August 2024" in result.stderr
    assert "Traceback" not in result.stderr
