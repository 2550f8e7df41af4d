"""Consistent exits and messages: user mistakes are errors with a sentence, never a repr or a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from portico.cli import cli, main
from tests.core.jobs.conftest import GOOD, HEADER, write


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"})


def test_unknown_job_history_is_an_error() -> None:
    result = invoke("jobs", "history", "no_such_job")
    assert result.exit_code == 1
    assert "no job 'no_such_job'; known jobs: none (see portico jobs list)" in result.output


def test_bogus_dlq_status_and_negative_limits_are_refused() -> None:
    bogus = invoke("dlq", "list", "--status", "bogus")
    assert bogus.exit_code == 2 and "'bogus' is not one of 'open', 'replayed', 'discarded'" in bogus.output
    for args in (
        ("audit", "tail", "-n", "-1"),
        ("jobs", "history", "--limit", "-5"),
        ("audit", "tail", "-n", "0"),
    ):
        refused = invoke(*args)
        assert refused.exit_code == 2, (args, refused.output)
        assert "is not in the range x>=1" in refused.output


def test_replaying_nothing_is_a_sentence(tmp_path: Path) -> None:
    result = invoke("dlq", "replay", "--all")
    assert result.exit_code == 0
    assert result.output == "nothing was replayed: no open entries\n"
    write(tmp_path / "a.psv", HEADER, GOOD[0], "A9|US0378331005|AAPL|1|1|XXY|2026-01-05")
    assert invoke("import", str(tmp_path / "a.psv"), "--type", "positions").exit_code == 3
    again = invoke("dlq", "replay", "--all")
    assert again.exit_code == 3
    assert again.output.splitlines()[0] == "nothing was replayed"
    assert "[]" not in again.output


def test_config_errors_name_each_key_path_once(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "systems:\n  alpaca:\n    type: brokerage\n    mock: true\n    mock_options: {nope: 1}\n    environmnt: paper\n"
    )
    try:
        main(["check", "alpaca", "--config", str(bad)])
    except SystemExit as exc:
        assert exc.code == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("error: invalid configuration:")
    for line in lines:
        for path in ("systems.alpaca.mock_options.nope", "systems.alpaca.environmnt"):
            assert line.count(path) <= 1, line
    assert f"  {bad}:6: systems.alpaca.environmnt: unknown key (did you mean 'environment'?)" in lines
    assert "['" not in err, "options are listed as words, not a Python list"


def test_mock_options_are_validated() -> None:
    unknown = invoke("mock", "alpaca", "--option", "startng_cash=5")
    assert unknown.exit_code == 2
    assert "the alpaca mock takes no option 'startng_cash' (did you mean 'starting_cash'?)" in unknown.output
    refused = invoke("mock", "alpha_vantage", "--option", "default_tier=premium_7")
    assert refused.exit_code == 2
    assert "the alpha_vantage mock refuses default_tier=premium_7: tier 'premium_7'" in refused.output
    malformed = invoke("mock", "alpaca", "--option", "starting_cash")
    assert malformed.exit_code == 2 and "'starting_cash' is not key=value" in malformed.output
    kit = invoke("mock", "alpaca", "--option", "port=9")
    assert kit.exit_code == 2 and "port is set with --port, not --option" in kit.output
    seed = invoke("mock", "alpaca", "--option", "seed=x")
    assert seed.exit_code == 2 and "seed must be a whole number, not 'x'" in seed.output


def test_mock_option_reaches_the_served_mock(tmp_path: Path) -> None:
    """``default_tier=premium_75`` is the option ``mock_options`` takes: the served mock answers as premium."""
    import os
    import re
    import signal
    import time

    import httpx

    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portico.cli",
            "mock",
            "alpha_vantage",
            "--option",
            "default_tier=premium_75",
            "--option",
            "seed=7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any("serving" in line for line in lines):
            assert time.monotonic() < deadline, lines
            line = proc.stdout.readline()
            assert line, f"exited early: {lines}"
            lines.append(line)
        text = "".join(lines)
        assert "mock alpha_vantage (seed 7)" in text and "options: default_tier=premium_75" in text
        base = re.search(r"base\s+(http://127\.0\.0\.1:\d+)", text)
        assert base, text
        # a premium-only function answers with data on a premium tier (the free tier answers with a notice)
        answer = httpx.get(
            f"{base.group(1)}/query",
            params={"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "IBM", "apikey": "any"},
        ).json()
        assert "Time Series (Daily)" in answer, answer
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)


def test_a_faults_file_with_unknown_keys_is_an_error(tmp_path: Path) -> None:
    misspelt = tmp_path / "faults.yaml"
    misspelt.write_text("fault:\n  - {route: /v2/clock, kind: error, status: 503}\n")
    result = invoke("mock", "alpaca", "--faults", str(misspelt))
    assert result.exit_code == 2
    assert f"{misspelt}: unknown key 'fault'; a fault file is a list of rules" in result.output


def test_completion_completes_portico_names() -> None:
    def complete(words: str, cword: int) -> list[str]:
        env = {"COMP_WORDS": words, "COMP_CWORD": str(cword), "_PORTICO_COMPLETE": "bash_complete"}
        result = CliRunner().invoke(cli, [], env=env, prog_name="portico")
        return [line.split(",", 1)[1] for line in result.output.splitlines()]

    assert complete("portico mock alp", 2) == ["alpaca", "alpha_vantage"]
    assert complete("portico dlq list --type pos", 4) == ["positions"]
    examples = Path(__file__).resolve().parents[3] / "examples" / "config" / "portico.yaml"
    assert complete(f"portico check --config {examples} inter", 4) == ["interactive_brokers"]
    script = invoke("completion", "bash")
    assert script.exit_code == 0 and "_PORTICO_COMPLETE=bash_complete" in script.output


def test_log_format_follows_the_flag_then_config_then_the_terminal() -> None:
    import io

    from portico.cli import _run
    from portico.monitor import MonitoringConfig

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    default, configured = MonitoringConfig(), MonitoringConfig(log_format="json")
    assert _run._log_as_json("console", configured) is False
    assert _run._log_as_json("json", default) is True
    assert _run._log_as_json(None, configured) is True
    old = sys.stderr
    try:
        sys.stderr = Tty()
        assert _run._log_as_json(None, default) is False  # a person at a terminal reads console lines
        sys.stderr = io.StringIO()
        assert _run._log_as_json(None, default) is True  # a pipe or a log collector gets JSON lines
    finally:
        sys.stderr = old


def test_print_token_reads_the_configured_token(tmp_path: Path) -> None:
    config = tmp_path / "portico.yaml"
    config.write_text("monitoring:\n  http:\n    token: configured-token-0123456789\n")
    result = invoke("run", "--config", str(config), "--print-token")
    assert result.exit_code == 0 and result.output == "configured-token-0123456789\n"
    none = invoke("run", "--print-token")
    assert none.exit_code == 1 and "no portico run is serving a dashboard here" in none.output
