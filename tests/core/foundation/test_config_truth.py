"""``portico config validate`` tells the whole truth: every problem, in one pass, sorted by line.

Each test runs the real ``portico config validate FILE`` command (click's runner, in process) and states
the exact problem lines it expects.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from portico.cli import cli
from portico.config import IntegrationConfig, load_config
from portico.errors import ConfigurationError
from portico.runtime import AsyncIntegration

BUILT_INS = "alpaca,alpha_vantage,interactive_brokers,oauth_mock"
"""Only the built-in plugins load, so the "installed connectors" a message lists is known (another test
may have installed the example third-party plugin into this environment)."""


def validate(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    """Run ``portico config validate``; the exit code, the problem lines (indent stripped), stdout."""
    env = {"PORTICO_PLUGINS": BUILT_INS, **(env or {})}
    result = CliRunner().invoke(cli, ["config", "validate", str(path), *args], env=env, catch_exceptions=False)
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert "Traceback" not in result.output
    return result.exit_code, lines, result.stdout


def write(tmp_path: Path, text: str, name: str = "portico.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- 14.24: every bad system id, each at its own key path ------------------------------------------


def test_every_bad_system_id_is_reported_at_its_own_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "systems:\n"
        "  1bad:\n"
        "    type: brokerage\n"
        "  good:\n"
        "    type: brokerage\n"
        "  also bad:\n"
        "    type: brokerage\n",
    )
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [
        f"{path}:2: systems.1bad: system id '1bad' must start with a letter and use letters, digits, _ or -",
        f"{path}:6: systems.also bad: system id 'also bad' must start with a letter and use letters, digits, _ or -",
    ]


# -- 14.23: nested defaults resolve ----------------------------------------------------------------


def test_nested_default_resolves_to_the_inner_variable() -> None:
    raw = {"systems": {}, "database_url": "${PORTICO_DB:-${FALLBACK_DB}}"}
    config = load_config(raw, env={"FALLBACK_DB": "sqlite:///inner.db"})
    assert config.database_url == "sqlite:///inner.db"
    config = load_config(raw, env={"PORTICO_DB": "sqlite:///outer.db", "FALLBACK_DB": "sqlite:///inner.db"})
    assert config.database_url == "sqlite:///outer.db"
    deeper = {"database_url": "${A:-${B:-sqlite:///deepest.db}}"}
    assert load_config(deeper, env={}).database_url == "sqlite:///deepest.db"
    text = {"database_url": "pre-${A:-x${B:-y}z}-post"}
    assert load_config(text, env={}).database_url == "pre-xyz-post"


def test_nested_default_naming_an_unset_variable_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "systems: {}\ndatabase_url: ${PORTICO_TEST_UNSET_A:-${PORTICO_TEST_UNSET_B}}\n")
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [
        f"{path}:2: database_url: environment variable PORTICO_TEST_UNSET_B is not set "
        "(referenced as ${PORTICO_TEST_UNSET_B})"
    ]


def test_unclosed_reference_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "systems: {}\ndatabase_url: ${PORTICO_TEST_UNSET_A:-${B}\n")
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [f"{path}:2: database_url: unclosed reference '${{PORTICO_TEST_UNSET_A:-${{B}}' (a '}}' is missing)"]


# -- 14.10: alias bombs and huge files are refused, in bounded memory ------------------------------

BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    + ["systems: {}", "monitoring:", "  alert_destinations: *a8", ""]
)


def test_yaml_alias_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    tracemalloc.start()
    try:
        code, lines, _ = validate(path, "--no-plugins")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1
    # 73 aliases standing for 9**9 values: refused on the expanded size, measured without expanding
    assert lines == [f"{path}: YAML aliases expand this configuration past 100000 values; write the values out"]
    # today's walks expand 9**9 nodes (GBs); the refusal happens before any of them: well under 40 MB
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_few_aliases_that_expand_too_far_are_refused(tmp_path: Path) -> None:
    # 16 aliases only, but each level doubles a list: 2**8 * 600 values, past the 100,000-value bound
    wide = "[" + ", ".join(["x"] * 600) + "]"
    text = "\n".join(
        [f"b0: &b0 {wide}"] + [f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]" for i in range(1, 9)] + ["systems: {}", ""]
    )
    path = write(tmp_path, text)
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [f"{path}: YAML aliases expand this configuration past 100000 values; write the values out"]


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    # 101 references to one small value expand to little, but no configuration needs that many
    text = "x: &x 1\nmany: [" + ", ".join(["*x"] * 101) + "]\nsystems: {}\n"
    path = write(tmp_path, text)
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [
        f"{path}: too many YAML aliases: more than 100 (*name references); write the values out"
    ]


def test_oversized_config_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "portico.yaml"
    path.write_text("systems: {}\n" + "# padding\n" * (420 * 1024))
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [f"{path}: configuration file is {path.stat().st_size} bytes; the limit is 4 MiB (4194304 bytes)"]


def test_a_few_honest_aliases_still_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "limits: &limits {max_requests_per_second: 5}\n"
        "systems:\n"
        "  a:\n    type: brokerage\n    throttling: *limits\n"
        "  b:\n    type: brokerage\n    throttling: *limits\n",
        name="aliases.yaml",
    )
    # ``limits`` is not a config key: the aliases themselves are fine, the unknown key is the only problem
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [f"{path}:1: limits: unknown key"]


# -- 14.25: data_import.formats are typed ----------------------------------------------------------


def test_import_format_options_are_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "systems: {}\n"
        "data_import:\n"
        "  chunk_rows: lots\n"
        "  formats:\n"
        "    csv:\n"
        "      delimiter: \",,\"\n"
        "      encoding: no-such-encoding\n"
        "      quotechar: \"\\\"\"\n"
        "    json:\n"
        "      encodnig: utf-8\n",
    )
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [
        f"{path}:3: data_import.chunk_rows: Input should be a valid integer, unable to parse string as an integer "
        "(got 'lots')",
        f"{path}:6: data_import.formats.csv.delimiter: must be one character (got ',,')",
        f"{path}:7: data_import.formats.csv.encoding: unknown text encoding 'no-such-encoding'",
        f"{path}:10: data_import.formats.json.encodnig: unknown key (did you mean 'encoding'?)",
    ]


def test_import_size_limits_are_format_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "systems: {}\n"
        "data_import:\n"
        "  formats:\n"
        "    csv: {max_record_chars: 4096, max_decompressed_bytes: 1048576, max_compression_ratio: 50}\n"
        "    xlsx: {max_part_bytes: 1048576, max_shared_strings: 1000, max_shared_strings_bytes: 65536}\n"
        "    xml: {max_xml_token_bytes: 0}\n",
    )
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [f"{path}:6: data_import.formats.xml.max_xml_token_bytes: Input should be greater than or equal to 1 (got 0)"]


# -- 14.14: secrets of the service sections never show in repr, str or a JSON dump -----------------


def test_section_secrets_never_show_in_repr_str_or_json_dump() -> None:
    config = load_config(
        {
            "systems": {},
            "monitoring": {
                "http": {"token": "dash-canary-1"},
                "channels": {
                    "ops_mail": {"type": "email", "host": "smtp.example.com", "password": "smtp-canary-2"},
                    "slack": {"type": "slack", "webhook_url": "https://hooks.slack.example/slack-canary-3"},
                    "pager": {"type": "webhook", "url": "https://pager.example/x", "secret": "hmac-canary-4"},
                },
            },
            "data_export": {"smtp": {"host": "smtp.example.com", "password": "export-canary-5"}},
        }
    )
    shown = [repr(config), str(config), config.model_dump_json(), str(config.model_dump(mode="json"))]
    for text in shown:
        for canary in ("dash-canary-1", "smtp-canary-2", "slack-canary-3", "hmac-canary-4", "export-canary-5"):
            assert canary not in text, (canary, text[:200])
    assert "smtp.example.com" in shown[0]  # what is not secret still shows
    # the services still read the real values from the sections they own
    assert config.monitoring["http"]["token"] == "dash-canary-1"
    assert config.data_export["smtp"]["password"] == "export-canary-5"


# -- 13.7: every problem in one pass, sorted by line, with "did you mean" --------------------------

ALL_WRONG = """\
systems:
  alpaca:
    type: brokerage
    enviroment: paper
    mock: true
    mock_options: {seed: 1}
    authentication:
      type: api_key_pair
      credentials:
        api_key_id: PKTEST
  ghost:
    type: brokerage
  alpha_vantage:
    type: market_data
    authentication:
      type: api_kee
data_import:
  scheduled_imports:
    - source: alpha_vantge
      data_type: daily_prizes
      schedule: "0 18 * * 1-5"
data_export:
  scheduled_exports:
    - data_type: portfolio_summary
      format: jsonn
      schedule: "0 20 * * *"
      destination: file://reports/summary.json
monitoring:
  alert_destinations: [email]
"""


def test_every_problem_is_reported_in_one_pass_sorted_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, ALL_WRONG)
    code, lines, _ = validate(path)
    assert code == 1
    assert lines == [
        f"{path}:4: systems.alpaca.enviroment: unknown key (did you mean 'environment'?)",
        f"{path}:6: systems.alpaca.mock_options.seed: the runtime passes the seed itself: set mock_seed on the "
        "system instead",
        f"{path}:9: systems.alpaca.authentication.credentials.api_secret_key: required credential of api_key_pair "
        "is missing (API secret key); give it, e.g. api_secret_key: ${ALPACA_API_SECRET_KEY}",
        f"{path}:11: systems.ghost: unknown connector 'ghost'; installed connectors: alpaca, alpha_vantage, "
        "interactive_brokers",
        f"{path}:16: systems.alpha_vantage.authentication.type: alpha_vantage does not accept 'api_kee' "
        "(did you mean 'api_key'?); expected one of ['api_key']",
        f"{path}:19: data_import.scheduled_imports[0].source: unknown source 'alpha_vantge' (did you mean "
        "'alpha_vantage'?): neither a configured system (alpaca, ghost, alpha_vantage) nor a file path or glob",
        f"{path}:20: data_import.scheduled_imports[0].data_type: unknown data type 'daily_prizes' (did you mean "
        "'daily_prices'?); expected one of ['alternative_data', 'attribution_results', 'benchmark_returns', "
        "'benchmarks', 'calendars', 'cash_balances', 'cash_flows', 'cash_movements', 'corporate_actions', "
        "'counterparties', 'countries', 'covariances', 'currencies', 'daily_prices', 'factor_exposures', "
        "'fundamentals', 'fx_rates', 'holidays', 'market_data', 'news', 'positions', 'prices', 'scenarios', "
        "'time_series', 'transactions']",
        f"{path}:25: data_export.scheduled_exports[0].format: unknown format 'jsonn' (did you mean 'json'?); "
        "formats: camt053, camt054, csv, fixed_width, json, jsonl, parquet, pdf, psv, semt002, xlsx, xml",
        f"{path}:29: monitoring.alert_destinations[0]: 'email' names no configured alert channel; channels: none "
        "are configured (define it under monitoring.channels, or remove it and set alert_on_failure: false to "
        "turn alerts off)",
    ]


def test_unknown_connector_is_reported_beside_a_type_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "systems:\n  ghost:\n    type: brokerage\n  alpaca:\n    type: brokerage\n    mock: maybe\n"
        "    authentication:\n      credentials: {api_key_id: PK, api_secret_key: SK}\n",
    )
    code, lines, _ = validate(path)
    assert code == 1
    assert lines == [
        f"{path}:2: systems.ghost: unknown connector 'ghost'; installed connectors: alpaca, alpha_vantage, "
        "interactive_brokers",
        f"{path}:6: systems.alpaca.mock: Input should be a valid boolean, unable to interpret input (got 'maybe')",
    ]


def test_empty_file_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    code, lines, _ = validate(path)
    assert code == 1
    assert lines == [f"{path}: the file is empty; a configuration needs at least a 'systems' section"]
    path = write(tmp_path, "# only a comment\n", name="comment.yaml")
    code, lines, _ = validate(path)
    assert lines == [f"{path}: the file is empty; a configuration needs at least a 'systems' section"]


def test_mock_options_unknown_to_the_mock_factory_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "systems:\n  alpha_vantage:\n    type: market_data\n    mock: true\n    mock_options:\n      default_teir: premium_75\n"
        "    authentication:\n      credentials:\n        api_key: demo\n",
    )
    code, lines, _ = validate(path)
    assert code == 1
    assert lines == [
        f"{path}:6: systems.alpha_vantage.mock_options.default_teir: the alpha_vantage mock refuses it: "
        "AlphaVantageMock.__init__() got an unexpected keyword argument 'default_teir'"
    ]


def test_the_example_config_validates_and_says_alerts_are_off() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "config" / "portico.yaml"
    # every installed plugin: the example configures connectors beyond the three the messages above list
    code, lines, out = validate(example, env={"PORTICO_PLUGINS": ""})
    assert code == 0, lines
    assert out.startswith(f"{example}: valid")
    text = example.read_text()
    assert "ALERTS ARE OFF" in text and "alert_on_failure: false" in text


# -- 13.6: typed connection settings -------------------------------------------------------------


def test_connection_settings_are_typed_per_connector(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "systems:\n"
        "  interactive_brokers:\n"
        "    type: brokerage\n"
        "    mock: true\n"
        "    connection:\n"
        "      host: 127.0.0.1\n"
        "      port: not-a-port\n"
        "      client_id: 1\n"
        "      transport: carrier-pigeon\n"
        "      clientid: 2\n"
        "  ib_two:\n"
        "    type: brokerage\n"
        "    connector: interactive_brokers\n"
        "    mock: true\n"
        "    connection: {port: 70000}\n"
        "  alpaca:\n"
        "    type: brokerage\n"
        "    mock: true\n"
        "    connection:\n"
        "      feed: premium\n"
        "      backfill_limit: lots\n"
        "    authentication:\n"
        "      credentials: {api_key_id: PK, api_secret_key: SK}\n"
        "  alpha_vantage:\n"
        "    type: market_data\n"
        "    mock: true\n"
        "    connection:\n"
        "      tier: gold\n"
        "    authentication:\n"
        "      credentials: {api_key: demo}\n",
    )
    code, lines, _ = validate(path)
    assert code == 1
    assert lines == [
        f"{path}:7: systems.interactive_brokers.connection.port: Input should be a valid integer, unable to parse "
        "string as an integer (got 'not-a-port')",
        f"{path}:9: systems.interactive_brokers.connection.transport: Input should be 'web' or 'tws' "
        "(got 'carrier-pigeon')",
        f"{path}:10: systems.interactive_brokers.connection.clientid: unknown key (did you mean 'client_id'?)",
        f"{path}:15: systems.ib_two.connection.port: Input should be less than or equal to 65535 (got 70000)",
        f"{path}:20: systems.alpaca.connection.feed: Input should be 'iex', 'sip', 'delayed_sip', 'boats' or "
        "'overnight' (got 'premium')",
        f"{path}:21: systems.alpaca.connection.backfill_limit: Input should be a valid integer, unable to parse "
        "string as an integer (got 'lots')",
        f"{path}:28: systems.alpha_vantage.connection.tier: unknown Alpha Vantage tier 'gold'; use one of "
        "['free', 'premium_1200', 'premium_150', 'premium_300', 'premium_600', 'premium_75']",
    ]


def test_connectors_receive_typed_settings() -> None:
    from portico.connectors.alpaca.connector import AlpacaConnector
    from portico.connectors.alpaca.spec import AlpacaConnection
    from portico.connectors.interactive_brokers.spec import InteractiveBrokersConnection
    from portico.connectors.interactive_brokers.tws import tws_address
    from portico.sdk import ConnectorContext

    ctx = ConnectorContext.for_testing(
        AlpacaConnector, connection={"feed": "sip", "backfill_limit": "250"}, credentials={"api_key_id": "x"}
    )
    settings = ctx.settings_as(AlpacaConnection)
    assert settings.feed == "sip" and settings.backfill_limit == 250  # "250" became the int 250
    assert AlpacaConnector(ctx).backfill_limit == 250

    from portico.connectors.interactive_brokers.connector import InteractiveBrokersConnector

    ib = ConnectorContext.for_testing(InteractiveBrokersConnector, connection={"host": "10.1.2.3", "port": "4002"})
    assert ib.settings_as(InteractiveBrokersConnection).port == 4002
    assert tws_address(ib) == ("10.1.2.3", 4002)
    with pytest.raises(ConfigurationError, match=r"systems\.interactive_brokers\.connection\.port: "):
        ConnectorContext.for_testing(InteractiveBrokersConnector, connection={"port": 0})
    with pytest.raises(ConfigurationError, match=r"systems\.alpaca\.connection\.fed: unknown key"):
        ConnectorContext.for_testing(AlpacaConnector, connection={"fed": "sip"})


def test_every_built_in_declares_its_connection_settings() -> None:
    from portico.plugins import PluginManager

    connectors = PluginManager().connectors
    fields = {name: set(cls.spec.connection_settings.model_fields) for name, cls in connectors.items()}
    assert {"host", "port", "client_id", "transport", "account", "base_url"} <= fields["interactive_brokers"]
    assert {"feed", "backfill_limit", "base_url"} <= fields["alpaca"]
    assert {"tier", "entitlement", "base_url"} <= fields["alpha_vantage"]
    for name, cls in connectors.items():
        for row in cls.spec.connection_settings.describe():
            assert row["description"], f"{name}.connection.{row['name']} has no description"


# -- 13.4: live systems speak TLS ----------------------------------------------------------------

INSECURE = """\
systems:
  alpha_vantage:
    type: market_data
    connection:
      base_url: http://www.alphavantage.co/query
    authentication:
      credentials: {api_key: k}
  av_lab:
    type: market_data
    connector: alpha_vantage
    allow_insecure: true
    connection:
      base_url: http://lab.internal/query
    authentication:
      credentials: {api_key: k}
  av_mock:
    type: market_data
    connector: alpha_vantage
    mock: true
    connection:
      base_url: http://127.0.0.1:9/query
    authentication:
      credentials: {api_key: k}
  ib_remote:
    type: brokerage
    connector: interactive_brokers
    connection:
      host: 10.20.30.40
      port: 7496
  ib_local:
    type: brokerage
    connector: interactive_brokers
    connection:
      host: 127.0.0.1
      port: 7496
"""


def test_plain_transport_on_a_live_system_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, INSECURE)
    code, lines, _ = validate(path)
    assert code == 1
    assert lines == [
        f"{path}:5: systems.alpha_vantage.connection.base_url: connection.base_url is not encrypted "
        "(http://www.alphavantage.co) on a system that is not a mock; use https://, or set allow_insecure: true "
        "on this system",
        f"{path}:28: systems.ib_remote.connection.host: connection.host is not encrypted (tcp://10.20.30.40) on a "
        "system that is not a mock; connect through a TLS tunnel on this machine (host 127.0.0.1), or set "
        "allow_insecure: true on this system",
    ]


def test_runtime_refuses_to_connect_a_plain_http_live_system() -> None:
    config = IntegrationConfig.model_validate(
        {
            "systems": {
                "alpha_vantage": {
                    "type": "market_data",
                    "connection": {"base_url": "http://127.0.0.1:9/query"},
                    "authentication": {"credentials": {"api_key": "k"}},
                }
            }
        }
    )

    async def connect() -> None:
        # built from a model, so load-time validation never ran: the connect path itself must refuse
        integration = AsyncIntegration(config)
        try:
            await integration.connect_external_system("alpha_vantage")
        finally:
            await integration.stop()

    with pytest.raises(
        ConfigurationError,
        match=r"^refusing to connect alpha_vantage: systems\.alpha_vantage\.connection\.base_url: connection\.base_url "
        r"is not encrypted \(http://127\.0\.0\.1\)",
    ):
        asyncio.run(connect())


def test_docs_list_every_connectors_connection_settings() -> None:
    import importlib.util

    hooks = Path(__file__).resolve().parents[3] / "sdk-docs" / "_hooks" / "generate.py"
    spec = importlib.util.spec_from_file_location("portico_docs_hooks", hooks)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = module.on_page_markdown("<!-- portico:connection-settings -->")
    assert "### `interactive_brokers`" in page and "### `alpaca`" in page and "### `alpha_vantage`" in page
    assert "| `port` | int \\| None (>= 1, <= 65535) | none | TWS / IB Gateway API port" in page
    assert "| `backfill_limit` | int (>= 1, <= 10000) | 500 |" in page
    assert "| `tier` | str | 'free' |" in page
    reference = (hooks.parents[1] / "reference" / "config.md").read_text()
    assert "<!-- portico:connection-settings -->" in reference
    manifest = (hooks.parents[1] / "concepts" / "manifest.md").read_text()
    assert "connection_options" not in manifest and "connection_settings" in manifest


def test_scaffold_declares_connection_settings(tmp_path: Path) -> None:
    from portico.scaffold import generate_connector

    root = generate_connector("zeta_venue", kind="market_data", auth="api_key", output=tmp_path, capture=False).root
    spec_py = (root / "src" / "portico_zeta_venue" / "spec.py").read_text()
    assert "class ZetaVenueConnection(ConnectionSettings):" in spec_py
    assert "connection_settings=ZetaVenueConnection," in spec_py
    client_py = (root / "src" / "portico_zeta_venue" / "client.py").read_text()
    assert "settings_as(ZetaVenueConnection)" in client_py


def test_portico_check_refuses_a_plain_http_live_system(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from portico.cli import main

    path = write(
        tmp_path,
        "systems:\n  alpha_vantage:\n    type: market_data\n    connection:\n      base_url: http://127.0.0.1:9/query\n"
        "    authentication:\n      credentials: {api_key: k}\n",
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "alpha_vantage", "--config", str(path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert (
        f"{path}:5: systems.alpha_vantage.connection.base_url: connection.base_url is not encrypted (http://127.0.0.1)"
        in err
    )
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_deeply_nested_config_is_a_clear_error(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, '{"systems": ' + "[" * 50_000 + "]" * 50_000 + "}", name=name)
    code, lines, _ = validate(path, "--no-plugins")
    assert code == 1
    assert lines == [f"{path}: nested too deeply to be a configuration (more than Python's recursion limit)"]


def test_a_plain_http_environment_url_is_reported_at_the_environment() -> None:
    from portico.plugins import PluginManager
    from portico.sdk import Environment
    from tests.core.foundation.fakes import FAKE_SPEC, FakeBroker, plugin_with

    class PlainBroker(FakeBroker):
        spec = FAKE_SPEC.model_copy(
            update={
                "name": "plainbroker",
                "environments": (Environment(name="live", urls={"base": "http://api.plain.test"}, live_money=True),),
            }
        )

    plugins = PluginManager(autoload=False)
    plugins.register(plugin_with(PlainBroker), name="plain")
    system = {"type": "brokerage", "connector": "plainbroker", "environment": "live"}
    with pytest.raises(ConfigurationError) as info:
        load_config({"systems": {"plain": system}}, plugins=plugins)
    assert info.value.problems == [
        (
            "systems.plain.environment",
            "systems.plain.environment: environment 'live' URL 'base' is not encrypted (http://api.plain.test) on a "
            "system that is not a mock; use https://, or set allow_insecure: true on this system",
        )
    ]
    assert load_config({"systems": {"plain": {**system, "allow_insecure": True}}}, plugins=plugins)
