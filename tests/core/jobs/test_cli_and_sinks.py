"""The CLI (import exit codes, export, jobs, dlq) and the non-store sinks (file://, http(s)://)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from portico.cli import cli
from tests.core.jobs.conftest import GOOD, HEADER, stored, write


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_import_exit_codes_summary_and_json(tmp_path: Path) -> None:
    clean = write(tmp_path / "a.psv", HEADER, *GOOD)
    result = _run("import", str(clean), "--type", "positions")
    assert result.exit_code == 0, result.output
    assert "loaded 3  rejected 0  quarantined 0" in result.output
    some_bad = write(tmp_path / "b.psv", HEADER, GOOD[0], "A9|US0378331005|AAPL|x|1|USD|2026-01-05")
    result = _run("import", str(some_bad), "--type", "positions")
    assert result.exit_code == 3 and "rejected line 3: quantity: is not a number" in result.output
    broken = tmp_path / "c.xml"
    broken.write_text("<records><record>")
    result = _run("import", str(broken), "--type", "positions")
    assert result.exit_code == 1 and "malformed or truncated XML" in result.output
    result = _run("import", str(clean), "--type", "positions", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["status"] == "duplicate"
    dry = write(tmp_path / "d.psv", HEADER, *GOOD)
    result = _run("import", str(dry), "--type", "positions", "--dry-run")
    assert result.exit_code == 0 and "dry_run" in result.output


def test_import_with_a_mapping_file(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("name: custodian\nversion: 2\ndata_type: positions\nfields:\n  account: ACCT\n")
    path = write(tmp_path / "a.psv", HEADER.replace("account", "ACCT"), *GOOD)
    result = _run("import", str(path), "--type", "positions", "--mapping", str(mapping))
    assert result.exit_code == 0, result.output


def test_dlq_commands(tmp_path: Path) -> None:
    path = write(tmp_path / "a.psv", HEADER, GOOD[0], "A9|US0378331005|AAPL|1|1|XXY|2026-01-05")
    assert _run("import", str(path), "--type", "positions").exit_code == 3
    listing = _run("dlq", "list")
    assert "unmapped code 'XXY'" in listing.output
    entry_id = str(json.loads(_run("dlq", "list", "--json").output)[0]["id"])
    shown = _run("dlq", "show", entry_id)
    assert json.loads(shown.output)["raw"]["currency"] == "XXY"
    assert _run("dlq", "replay", entry_id).exit_code == 3
    assert "discarded 1 of 1" in _run("dlq", "discard", entry_id).output
    assert "empty" in _run("dlq", "list").output
    assert _run("dlq", "replay").exit_code == 2  # usage: ids or --all


def test_export_and_jobs_commands(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # exports are confined to the working directory by default
    write(tmp_path / "a.psv", HEADER, *GOOD)
    _run("import", str(tmp_path / "a.psv"), "--type", "positions")
    out = tmp_path / "out.csv"
    result = _run("export", "--type", "positions", "--format", "csv", "--destination", f"file://{out}", "--columns", "account:Account,symbol", "--filter", "currency=USD")
    assert result.exit_code == 0 and out.read_text() == "Account,symbol\nA1,AAPL\nA1,MSFT\n"
    config = tmp_path / "portico.yaml"
    config.write_text(
        "data_import:\n  scheduled_imports:\n    - {id: custodian, source: "
        + json.dumps(str(tmp_path / "a.psv"))
        + ", data_type: positions, schedule: '0 2 * * 1-5'}\n"
    )
    # with --config the commands build the runtime from the file, as `portico run` does
    listing = _run("jobs", "list", "--config", str(config))
    assert "custodian" in listing.output and "0 2 * * 1-5" in listing.output
    run = _run("jobs", "run", "custodian", "--config", str(config))
    assert run.exit_code == 0 and "custodian: duplicate" in run.output
    history = _run("jobs", "history", "custodian")
    assert "duplicate" in history.output


def test_file_sink_writes_the_load_atomically_and_redelivery_replaces_it(service, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "positions.jsonl"
    path = write(tmp_path / "a.psv", HEADER, *GOOD)
    result = service.importer.import_file(path, "positions", destination=f"file://{dest}")
    assert result.status == "loaded" and len(dest.read_text().splitlines()) == 3
    write(path, HEADER, GOOD[0])
    again = service.importer.import_file(path, "positions", destination=f"file://{dest}")
    assert again.supersedes == result.load_id and len(dest.read_text().splitlines()) == 1
    assert [p.name for p in dest.parent.iterdir()] == ["positions.jsonl"]


def test_http_sink_posts_batches_with_idempotency_keys(service, tmp_path: Path) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    service.importer.http_transport = httpx.MockTransport(handler)
    path = write(tmp_path / "a.psv", HEADER, *GOOD)
    result = service.importer.import_file(path, "positions", destination="https://warehouse.example.com/positions")
    assert result.status == "loaded"
    bodies = [json.loads(r.content) for r in requests]
    assert [len(b.get("records", [])) for b in bodies[:-1]] == [3] and bodies[-1]["commit"] is True
    assert requests[0].headers["Idempotency-Key"] == f"{result.load_id}:0"
    write(path, HEADER, GOOD[0])
    service.importer.import_file(path, "positions", destination="https://warehouse.example.com/positions")
    assert requests[-1].headers["X-Portico-Supersedes"] == result.load_id


def test_http_sink_failure_fails_the_file_and_the_store_keeps_nothing(service, db, tmp_path: Path) -> None:
    service.importer.http_transport = httpx.MockTransport(lambda r: httpx.Response(503))
    result = service.importer.import_file(write(tmp_path / "a.psv", HEADER, *GOOD), "positions", destination="https://warehouse.example.com/p")
    assert result.status == "failed" and "HTTP 503" in result.error
    again = service.importer.import_file(tmp_path / "a.psv", "positions", destination="https://warehouse.example.com/p")
    assert again.status == "failed"  # not mistaken for an already-loaded delivery
    assert stored(db) == []


def test_sftp_destination_needs_a_plugin(service, tmp_path: Path) -> None:
    result = service.importer.import_file(write(tmp_path / "a.psv", HEADER, *GOOD), "positions", destination="sftp://host/path")
    assert result.status == "failed" and "sftp:// destinations need a sink plugin" in result.error
