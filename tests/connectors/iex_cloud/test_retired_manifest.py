"""Retirement lives in the connector's manifest: ``iex_cloud`` and ``td_ameritrade`` are installed as
retired connectors with no capabilities, their classes refuse to build, a retired manifest that declares
capabilities is refused, and ``portico plugins`` and the conformance suite mark them."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from portico.cli import cli
from portico.config import load_config
from portico.errors import ConfigurationError
from portico.plugins import PluginManager
from portico.sdk import (
    Capability,
    CapabilitySet,
    ConnectorContext,
    ConnectorKind,
    ConnectorSpec,
    Environment,
    Retirement,
    StreamKind,
    Support,
)

pytest_plugins = ["pytester"]

GONE = Retirement(
    retired_on=date(2023, 3, 1),
    message="Acme's API is gone; configure 'polygon' or 'alpaca' instead.",
    replacements=("polygon", "alpaca"),
    migration=(("/v1/quote", "get_latest_quotes([symbol])"), ("/v1/bars", "get_bars(symbol)")),
    migration_heading="Acme endpoint -> portico call",
)


def _spec(**overrides: object) -> ConnectorSpec:
    fields: dict[str, object] = {
        "name": "acme_data",
        "display_name": "Acme",
        "kinds": (ConnectorKind.MARKET_DATA,),
        "environments": (Environment(name="production", urls={"base": "https://api.acme.example"}),),
        "retired": GONE,
    }
    return ConnectorSpec(**{**fields, **overrides})


def test_both_are_installed_as_retired_manifests_without_capabilities() -> None:
    plugins = PluginManager()
    iex, tda = plugins.spec("iex_cloud"), plugins.spec("td_ameritrade")
    assert iex.retired is not None and tda.retired is not None
    assert iex.retired.retired_on == date(2024, 8, 31)
    assert iex.retired.replacements == ("polygon", "alpaca", "alpha_vantage")
    assert tda.retired.replacements == ("schwab",)
    for spec in (iex, tda):
        assert spec.capabilities.declared == [] and spec.streams == ()
    assert plugins.plugin_of("iex_cloud") == "iex_cloud"
    assert plugins.plugin_of("td_ameritrade") == "td_ameritrade"


def test_the_iex_cloud_class_refuses_to_build() -> None:
    cls = PluginManager().connector("iex_cloud")
    with pytest.raises(ConfigurationError) as caught:
        cls(ConnectorContext.for_testing(cls, system_id="prices"))
    message = caught.value.message
    assert message.startswith(
        "connector 'iex_cloud' is retired (2024-08-31): IEX Cloud shut down on 31 August 2024"
    )
    assert "IEX endpoint -> portico call: /stock/{symbol}/quote and" in message
    assert message.endswith("/fx/latest -> get_fx_rate(base, quote)")
    assert caught.value.system == "prices"


def test_the_td_ameritrade_class_refuses_to_build() -> None:
    cls = PluginManager().connector("td_ameritrade")
    with pytest.raises(
        ConfigurationError, match=r"^connector 'td_ameritrade' is retired \(2024-05-13\): TD Ameritrade's"
    ):
        cls(ConnectorContext.for_testing(cls))


def test_a_retired_manifest_that_declares_capabilities_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"a retired connector declares no capabilities .*\['get_bars'\]"
    ):
        _spec(capabilities=CapabilitySet(operations={Capability.GET_BARS: Support.SUPPORTED}))


def test_a_retired_manifest_that_declares_a_stream_is_refused() -> None:
    caps = CapabilitySet(operations={Capability.SUBSCRIBE_QUOTES: Support.SUPPORTED})
    with pytest.raises(
        ValidationError, match=r"a retired connector declares no capabilities .*'subscribe_quotes', 'quotes'"
    ):
        _spec(capabilities=caps, streams=(StreamKind.QUOTES,))


def test_a_retirement_without_a_message_is_refused() -> None:
    with pytest.raises(ValidationError, match="say what happened to the API"):
        Retirement(retired_on=date(2023, 3, 1), message="  ")


def test_the_text_is_the_message_then_the_migration_table() -> None:
    assert GONE.text() == (
        "Acme's API is gone; configure 'polygon' or 'alpaca' instead. Acme endpoint -> portico call: "
        "/v1/quote -> get_latest_quotes([symbol]); /v1/bars -> get_bars(symbol)"
    )
    assert Retirement(retired_on=date(2023, 3, 1), message="Gone.").text() == "Gone."


def test_the_explanation_names_the_replacements_not_installed() -> None:
    assert GONE.explain(["polygon", "alpaca"]) == GONE.text()
    assert GONE.explain(["polygon"]) == GONE.text() + " (not installed in this portico yet: alpaca)"
    assert (
        GONE.explain([]) == GONE.text() + " (no polygon or alpaca connector is installed in this portico yet)"
    )


def test_a_retired_system_gets_only_the_retirement_problem() -> None:
    # a wrong type and an unknown auth scheme would each be a problem for a connector that still works
    system = {"type": "brokerage", "authentication": {"type": "oauth9"}, "connection": {"nonsense": 1}}
    with pytest.raises(ConfigurationError) as caught:
        load_config({"systems": {"iex_cloud": system}}, plugins=PluginManager())
    assert [key for key, _ in caught.value.problems] == ["systems.iex_cloud"]


def test_the_manifest_summary_says_retired() -> None:
    summary = PluginManager().spec("td_ameritrade").summary()
    assert summary["retired"]["retired_on"] == "2024-05-13"
    assert summary["retired"]["replacements"] == ["schwab"]
    assert PluginManager().spec("polygon").summary()["retired"] is None


def _portico(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_portico_plugins_marks_them_retired() -> None:
    table = _portico("plugins")
    assert "capabilities: retired 2024-08-31; replacements: polygon, alpaca," in table
    assert "capabilities: retired 2024-05-13; replacements: schwab" in table
    listed = {c["name"]: c for c in json.loads(_portico("plugins", "--json"))["connectors"]}
    assert listed["iex_cloud"]["retired"]["retired_on"] == "2024-08-31"
    assert listed["iex_cloud"]["capabilities"] == {}


def test_the_capability_matrix_lists_them_under_it_not_as_columns() -> None:
    matrix = _portico("plugins", "--matrix")
    header = next(line for line in matrix.splitlines() if line.lstrip().startswith("capability "))
    assert "iex_cloud" not in header and "td_ameritrade" not in header
    assert matrix.rstrip().splitlines()[-2:] == [
        "retired: iex_cloud (2024-08-31), use polygon, alpaca, alpha_vantage",
        "retired: td_ameritrade (2024-05-13), use schwab",
    ]
    data = json.loads(_portico("plugins", "--matrix", "--json"))
    assert set(data["iex_cloud"].values()) == {"unsupported"} and data["polygon"]["get_bars"] == "supported"


def test_the_conformance_suite_skips_a_retired_connector_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_retired=textwrap.dedent(
            """
            from portico.connectors.iex_cloud.connector import IexCloudConnector
            from portico.testing.conformance import ConnectorConformance

            class TestIexCloud(ConnectorConformance):
                connector_class = IexCloudConnector
            """
        )
    )
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess("-rs", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 2 and "passed" not in outcomes and "failed" not in outcomes
    result.stdout.fnmatch_lines(
        [
            "*iex_cloud is retired (2024-08-31): its API no longer answers; replacements: polygon, alpaca, alpha_vantage*"
        ]
    )


def test_the_sdk_reference_documents_the_field() -> None:
    docs = Path(__file__).resolve().parents[3] / "sdk-docs"
    assert "::: portico.sdk.Retirement" in (docs / "reference" / "sdk.md").read_text(encoding="utf-8")
    manifest = (docs / "concepts" / "manifest.md").read_text(encoding="utf-8")
    assert (
        "| `retired` |" in manifest and "Retirement(retired_on, message, replacements, migration)" in manifest
    )
    assert "retired:" in (ConnectorSpec.__doc__ or "")


def test_an_unknown_connector_is_not_offered_the_retired_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(
            {"systems": {"prices": {"type": "market_data", "connector": "nosuch"}}}, plugins=PluginManager()
        )
    (message,) = [text for key, text in caught.value.problems if key == "systems.prices.connector"]
    assert "installed connectors: alpaca, alpha_vantage," in message and "polygon" in message
    assert "iex_cloud" not in message and "td_ameritrade" not in message


def test_the_packages_export_their_manifest_and_class_without_importing_the_class() -> None:
    import subprocess
    import sys

    code = (
        "import sys, portico.connectors.iex_cloud as iex, portico.connectors.td_ameritrade as tda\n"
        "assert iex.__all__ == ['RETIREMENT', 'SPEC', 'IexCloudConnector'], iex.__all__\n"
        "assert tda.__all__ == ['RETIREMENT', 'SPEC', 'TdAmeritradeConnector'], tda.__all__\n"
        "assert iex.SPEC.retired is iex.RETIREMENT and tda.SPEC.retired is tda.RETIREMENT\n"
        "assert 'portico.connectors.iex_cloud.connector' not in sys.modules\n"
        "assert iex.IexCloudConnector.spec is iex.SPEC\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
