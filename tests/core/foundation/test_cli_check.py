"""``portico check SYSTEM --config FILE`` connects as configured and runs the connector's check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "config" / "portico.yaml"


def check(system: str, config: Path = EXAMPLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico.cli", "check", system, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_check_passes_against_the_mock() -> None:
    result = check("alpaca")
    assert result.returncode == 0, result.stderr
    assert "alpaca: OK" in result.stdout and "authenticated ok" in result.stdout
    assert "connected to its mock server" in result.stdout and "production" not in result.stdout
    assert '{"' not in result.stderr, "a check prints for people, not JSON log lines"


def test_unknown_system_is_a_clear_error() -> None:
    result = check("nosuch")
    assert result.returncode == 1
    assert (
        "unknown system 'nosuch'; configured systems: alpaca, alpha_vantage, bloomberg, etrade, factset, "
        "interactive_brokers, morningstar, polygon, refinitiv, schwab, yahoo_finance"
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_refused_credentials_fail_the_check(tmp_path: Path) -> None:
    config = tmp_path / "refused.yaml"
    config.write_text(
        "systems:\n  alpaca:\n    type: brokerage\n    mock: true\n"
        "    mock_options: {keys: {good-key: good-secret}}\n"
        "    authentication:\n      type: api_key_pair\n"
        "      credentials: {api_key_id: bad-id-zq9, api_secret_key: bad-secret-zq9}\n"
    )
    result = check("alpaca", config)
    assert result.returncode == 1, result.stdout
    assert "FAILED" in result.stderr
    assert "bad-secret-zq9" not in result.stdout + result.stderr
