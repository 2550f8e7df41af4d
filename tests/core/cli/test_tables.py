"""Every CLI table reads at 80 columns: no line longer, no word split across lines, nothing lost.

A word is split when a table folds it (``get_order_by_cl`` / ``ient_id``): each run of the check
takes the words of the command's own ``--json`` output (the data the table shows) and requires that
every word printed is one of them, a header, a local time, or a cut ending in an ellipsis. The words
the issue named as broken are also asserted whole, by name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portico.cli import cli
from tests.core.jobs.conftest import GOOD, HEADER, write

WIDTH = 80
ENV = {"COLUMNS": str(WIDTH), "TZ": "UTC", "PORTICO_VAULT_PASSPHRASE": "table-test-passphrase"}
LONG_SECRET = "interactive_brokers/oauth_consumer_key_of_the_paper_account"
LONG_JOB = "nightly_custodian_positions_from_the_prime_broker"
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|UTC)$")
_EDGE = "│┃|,;:()[]{}'\"="


def run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), env=ENV, input=stdin, catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output
    return result.output


def words_of(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from words_of(k)
            yield from words_of(v)
            if not isinstance(v, (dict, list)):
                yield f"{k}={v}"  # a detail shown as key=value
    elif isinstance(value, list):
        for v in value:
            yield from words_of(v)
    elif value is not None:
        yield from str(value).split()


def tokens(text: str) -> set[str]:
    out = set()
    for raw in text.split():
        word = raw.strip(_EDGE)
        if word and not set(word) <= set("─━┏┓┗┛┡┩╇╋┳┻│┃"):
            out.add(word)
    return out


def assert_reads_at_80(table: str, data: Any, must_show: Iterable[str] = (), labels: str = "") -> None:
    """``labels``: the words the table itself adds (its title, headers, yes/no...)."""
    lines = table.splitlines()
    too_long = [line for line in lines if len(line.rstrip()) > WIDTH]
    assert not too_long, "\n".join(too_long)
    known = {w.strip(_EDGE) for w in words_of(data)} | {w.strip(_EDGE) for w in labels.split()}
    for word in tokens(table):
        if word in known or _TIME.match(word):
            continue
        if word.endswith("…") and any(k.startswith(word[:-1]) for k in known):
            continue  # a one-line column cut at the edge, marked
        if any(word in k.split("/") or word in k.split("=") for k in known):
            continue
        pytest.fail(f"{word!r} is not a whole word of the data: a word was split\n{table}")
    shown = tokens(table)
    for word in must_show:
        assert word in shown, f"{word!r} is split or missing\n{table}"


def test_plugins_table_keeps_capability_names_whole() -> None:
    table = run("plugins")
    data = json.loads(run("plugins", "--json"))
    assert_reads_at_80(
        table,
        data,
        must_show=["get_order_by_client_id", "subscribe_order_updates", "interactive_brokers"],
        labels="portico connectors kinds auth throttling capabilities mock yes no emulated orders other servers",
    )


def test_capability_matrix_at_80_columns() -> None:
    table = run("plugins", "--matrix")
    data = json.loads(run("plugins", "--matrix", "--json"))
    assert data["alpaca"]["place_order"] == "supported"
    assert data["etrade"]["get_order"] == "emulated"
    assert data["alpha_vantage"]["place_order"] == "unsupported"
    assert_reads_at_80(
        table,
        data,
        must_show=["subscribe_order_updates", "interactive_brokers", "yahoo_finance"],
        labels="capability matrix 1 2 3 of ✔ ◐ - supported · emulated by portico from other calls not raises NotSupported "
        "retired use",
    )
    row = next(line for line in table.splitlines() if line.startswith("place_order"))
    assert row.split()[1:6] == ["✔", "-", "-", "✔", "-"]  # alpaca, alpha_vantage, bloomberg, etrade, factset


def test_credentials_and_audit_tables() -> None:
    run("credentials", "set", LONG_SECRET, stdin="s3cret-value\n")
    run("credentials", "set", "alpaca/api_key_id", stdin="key-value\n")
    table = run("credentials", "list")
    assert_reads_at_80(
        table,
        json.loads(run("credentials", "list", "--json")),
        must_show=[LONG_SECRET],
        labels=f"credentials in {Path(os.environ['PORTICO_HOME']) / 'vault.bin'} name version updated state active",
    )
    assert "s3cret-value" not in table
    audit = run("audit", "tail", "-n", "20")
    data = [json.loads(line) for line in run("audit", "tail", "--json").splitlines()]
    assert_reads_at_80(audit, data, labels="audit log (times in UTC) # time system action outcome detail -")
    entries = [line for line in audit.splitlines() if re.match(r"^\s*\d+\s", line)]
    assert len(entries) == len(data) == 2  # one line per entry, not a screenful each


def test_jobs_and_dead_letter_tables(tmp_path: Path) -> None:
    source = write(tmp_path / "a.psv", HEADER, *GOOD, "A9|US0378331005|AAPL|1|1|XXY|2026-01-05")
    config = tmp_path / "portico.yaml"
    config.write_text(
        f"data_import:\n  scheduled_imports:\n    - {{id: {LONG_JOB}, source: {json.dumps(str(source))}, "
        "data_type: positions, schedule: '0 2 * * 1-5'}\n"
    )
    run("jobs", "run", LONG_JOB, "--config", str(config))
    listing = run("jobs", "list", "--config", str(config))
    jobs = json.loads(run("jobs", "list", "--config", str(config), "--json"))
    assert_reads_at_80(listing, jobs, [LONG_JOB], labels="jobs job kind schedule what last run -> -")
    history = run("jobs", "history")
    runs = json.loads(run("jobs", "history", "--json"))
    assert_reads_at_80(
        history, runs, [LONG_JOB], labels="job runs started job status loaded rejected quarantined -"
    )
    dead = run("dlq", "list")
    entries = json.loads(run("dlq", "list", "--json"))
    assert_reads_at_80(dead, entries, labels="dead-letter queue id when status type where reason a.psv:5")
    assert "XXY" in dead and "a.psv:5" in dead  # the bad record is the file's fifth line


def test_installed_mocks_table() -> None:
    table = run("mock")
    assert_reads_at_80(
        table,
        json.loads(run("mock", "--json")),
        must_show=["interactive_brokers", "data_stream"],
        labels="installed mocks name url keys",
    )


def test_the_check_trips_on_a_folded_table() -> None:
    folded = "capability\nget_order_by_cl\nient_id\n"
    with pytest.raises(pytest.fail.Exception, match="is not a whole word of the data"):
        assert_reads_at_80(folded, {"caps": ["get_order_by_client_id"]})


def test_wide_prints_every_column_unwrapped() -> None:
    table = run("plugins", "--wide")
    alpaca = next(line for line in table.splitlines() if line.startswith("alpaca"))
    assert "Alpaca" in alpaca and "get_order_by_client_id" in alpaca and "subscribe_order_updates" in alpaca
