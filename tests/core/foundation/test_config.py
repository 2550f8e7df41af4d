from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from portico.config import load_config
from portico.errors import ConfigurationError
from portico.plugins import PluginManager
from portico.sdk import RateLimitPolicy, RateWindow, RetryPolicy
from tests.core.foundation.fakes import FakeBroker, plugin_with

# The original plan's configuration, verbatim (Python literals as the plan writes them).
PLAN_CONFIG = {
    "systems": {
        "interactive_brokers": {
            "type": "brokerage",
            "enabled": True,
            "api_version": "v1",
            "connection": {"host": "127.0.0.1", "port": 7496, "client_id": 1},
            "authentication": {
                "type": "tws",
                "credentials": {"username": "${IB_USERNAME}", "password": "${IB_PASSWORD}"},
            },
            "features": {
                "market_data": True,
                "order_execution": True,
                "position_reporting": True,
                "account_updates": True,
            },
            "throttling": {"max_requests_per_second": 5, "retry_attempts": 3, "retry_delay": 1.0},
        },
        "alpha_vantage": {
            "type": "market_data",
            "enabled": True,
            "api_version": "v1",
            "connection": {"base_url": "https://www.alphavantage.co/query"},
            "authentication": {"type": "api_key", "credentials": {"api_key": "${ALPHA_VANTAGE_API_KEY}"}},
            "features": {"intraday_data": True, "daily_data": True, "fundamental_data": True},
            "throttling": {"max_requests_per_minute": 5, "retry_attempts": 3, "retry_delay": 12.0},
        },
    },
    "data_import": {
        "scheduled_imports": [
            {
                "source": "alpha_vantage",
                "data_type": "daily_prices",
                "symbols": ["AAPL", "MSFT", "GOOGL"],
                "schedule": "0 18 * * 1-5",
                "destination": "market_data_service",
            }
        ],
        "formats": {
            "csv": {"delimiter": ",", "quotechar": '"', "encoding": "utf-8"},
            "json": {"indent": None, "encoding": "utf-8"},
        },
    },
    "data_export": {
        "scheduled_exports": [
            {
                "data_type": "portfolio_summary",
                "format": "json",
                "schedule": "0 20 * * *",
                "destination": "file://reports/portfolio_summary.json",
            }
        ]
    },
    "monitoring": {
        "log_level": "INFO",
        "performance_tracking": True,
        "health_check_interval": 300,
        "alert_on_failure": True,
        "alert_destinations": ["email", "slack"],
        # the plan names these destinations without defining them; validation now requires the channels
        "channels": {
            "email": {"type": "email", "host": "smtp.example.com", "recipients": ["ops@example.com"]},
            "slack": {"type": "slack", "webhook_url": "https://hooks.slack.example/T000/B000"},
        },
    },
}
ENV = {"IB_USERNAME": "trader", "IB_PASSWORD": "pw-canary-1", "ALPHA_VANTAGE_API_KEY": "av-canary-2"}
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "config" / "portico.yaml"


def test_plan_config_loads_verbatim_and_wrapped() -> None:
    for source in (PLAN_CONFIG, {"external_integration_config": PLAN_CONFIG}):
        config = load_config(source, env=ENV)
        ib = config.systems["interactive_brokers"]
        assert ib.connection["port"] == 7496
        assert ib.authentication.credentials["password"].get_secret_value() == "pw-canary-1"
        assert "pw-canary-1" not in repr(config) and "pw-canary-1" not in str(config.model_dump())
        assert config.connector_name("alpha_vantage") == "alpha_vantage"


def test_missing_variable_names_variable_and_key_path() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(PLAN_CONFIG, env={"IB_USERNAME": "x", "ALPHA_VANTAGE_API_KEY": "k"})
    assert info.value.path == "systems.interactive_brokers.authentication.credentials.password"
    assert "IB_PASSWORD" in str(info.value)


def test_defaults_and_literal_dollar() -> None:
    config = load_config(
        {"systems": {"fakebroker": {"type": "brokerage", "connection": {"a": "${NOPE:-fallback}", "b": "$${LITERAL}"}}}},
        env={},
    )
    assert config.systems["fakebroker"].connection == {"a": "fallback", "b": "${LITERAL}"}


def test_custom_resolver_scheme() -> None:
    vault = {"alpaca/api_key": "from-vault"}
    config = load_config(
        {"systems": {"x": {"type": "brokerage", "authentication": {"credentials": {"k": "${vault:alpaca/api_key}"}}}}},
        env={},
        resolvers={"vault": vault.get},
    )
    assert config.systems["x"].authentication.credentials["k"].get_secret_value() == "from-vault"
    with pytest.raises(ConfigurationError, match=r"\$\{vault:missing\} is not set"):
        load_config(
            {"systems": {"x": {"type": "brokerage", "connection": {"k": "${vault:missing}"}}}},
            env={},
            resolvers={"vault": vault.get},
        )


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_every_file_format(tmp_path: Path, suffix: str) -> None:
    data = {"systems": {"fakebroker": {"type": "brokerage", "throttling": {"max_requests_per_second": 2}}}}
    path = tmp_path / f"portico{suffix}"
    if suffix == ".yaml":
        import yaml

        path.write_text(yaml.safe_dump(data))
    elif suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text('[systems.fakebroker]\ntype = "brokerage"\n[systems.fakebroker.throttling]\nmax_requests_per_second = 2\n')
    config = load_config(path)
    assert config.systems["fakebroker"].throttling.max_requests_per_second == 2
    assert config.source == str(path)


def test_wrong_type_names_file_line_and_key_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("systems:\n  fakebroker:\n    type: brokerage\n    throttling:\n      max_requests_per_second: fast\n")
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}:5:" in message
    assert "systems.fakebroker.throttling.max_requests_per_second" in message
    assert "'fast'" in message


def test_every_problem_is_collected() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config({"systems": {"a": {"type": "nonsense", "unknown": 1}, "b": {"enabled": "maybe"}}}, env={})
    paths = {p for p, _ in info.value.problems}
    assert {"systems.a.type", "systems.a.unknown", "systems.b.type", "systems.b.enabled"} <= paths


def test_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("systems:\n  a: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"broken.yaml: line \d+"):
        load_config(path)
    ini = tmp_path / "x.ini"
    ini.write_text("")
    with pytest.raises(ConfigurationError, match="unknown configuration format"):
        load_config(ini)


def test_checks_against_installed_connectors() -> None:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker), name="fakes")
    with pytest.raises(ConfigurationError) as info:
        load_config(
            {
                "systems": {
                    "nope": {"type": "brokerage"},
                    "fake_live": {"type": "analytics", "connector": "fakebroker", "environment": "moon"},
                    "fake_paper": {"type": "brokerage", "connector": "fakebroker", "features": {"teleport": True}},
                }
            },
            plugins=pm,
        )
    problems = dict(info.value.problems)
    assert "installed connectors: fakebroker" in problems["systems.nope"]
    assert "does not match connector 'fakebroker'" in problems["systems.fake_live.type"]
    assert "unknown environment 'moon'" in problems["systems.fake_live.environment"]
    assert "unknown feature" in problems["systems.fake_paper.features.teleport"]


def test_throttling_overrides_replace_windows_by_period() -> None:
    from portico.config import ThrottlingConfig

    base = RateLimitPolicy(
        windows=(RateWindow(limit=5, period=60), RateWindow(limit=25, period=86400)),
        retry=RetryPolicy(attempts=2, base_delay=0.5, max_delay=5),
    )
    policy = ThrottlingConfig(max_requests_per_minute=75, retry_attempts=3, retry_delay=12.0).apply(base)
    assert [(w.limit, w.period) for w in policy.windows] == [(75, 60), (25, 86400)]
    assert policy.retry.attempts == 4 and policy.retry.base_delay == 12.0 and policy.retry.max_delay == 12.0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portico.cli", *args], capture_output=True, text=True)


def test_cli_validates_the_example_config() -> None:
    result = run_cli("config", "validate", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("systems:\n  alpaca:\n    type: brokerage\n    authentication:\n      credentials:\n        api_key_id: ${PORTICO_TEST_UNSET_VAR}\n",
         "systems.alpaca.authentication.credentials.api_key_id: environment variable PORTICO_TEST_UNSET_VAR is not set"),
        ("systems:\n  nosuch:\n    type: brokerage\n", "systems.nosuch: unknown connector 'nosuch'; installed connectors: "),
        ("systems:\n  alpaca:\n    type: brokerage\n    throttling:\n      retry_attempts: lots\n",
         "systems.alpaca.throttling.retry_attempts: Input should be a valid integer"),
    ],
)
def test_cli_validate_fails_with_key_path(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = run_cli("config", "validate", str(path))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
