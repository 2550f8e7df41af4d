"""Imports by upload, quarantine, exports by download, market data and jobs through the gateway."""

from __future__ import annotations

import time

from portico.home import portico_home
from tests.gateway.stack import Stack

POSITIONS = (
    "account|isin|symbol|quantity|price|currency|date\n"
    "A1|US0378331005|AAPL|100|190.5|USD|2026-01-05\n"
    "A1|US5949181045|MSFT|-5|400|USD|2026-01-05\n"
    "A2|US0378331005|AAPL|lots|190.5|EUR|2026-01-05\n"
)


def test_upload_accounts_for_every_record_and_export_downloads_them(stack: Stack) -> None:
    with stack.client("carol") as http:
        answer = http.post("/v1/imports/positions", files={"file": ("eod.psv", POSITIONS.encode())})
        assert answer.status_code == 201, answer.text
        result = answer.json()
        assert (result["records"], result["loaded"], result["rejected"], result["quarantined"]) == (
            3,
            2,
            1,
            0,
        )
        assert result["rejects"] == [
            {"line": 4, "field": "quantity", "reason": "quantity: is not a number (value 'lots')"}
        ]
        assert result["source"] == "eod.psv" and "gateway-uploads" not in answer.text
        export = http.get("/v1/exports/positions", params={"format": "csv"})
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        assert "A1,US0378331005,AAPL,100,190.5,USD,2026-01-05" in export.text
        unknown = http.post("/v1/imports/colours", files={"file": ("x.csv", b"a\n1\n")})
        assert unknown.status_code == 422 and unknown.json()["field"] == "data_type"
    with stack.client("bob") as http:  # no jobs grant: uploads and downloads are not there for him
        assert (
            http.post("/v1/imports/positions", files={"file": ("eod.psv", POSITIONS.encode())}).status_code
            == 404
        )
        assert http.get("/v1/exports/positions").status_code == 404
    entries = [e for e in stack.integration.audit.tail(100) if e.action == "gateway.imports.upload"]
    mine = [e for e in entries if e.detail.get("file") == "eod.psv" and e.outcome == "success"]
    assert mine and mine[-1].actor.startswith("user:carol")


def test_market_data_history_and_latest(stack: Stack) -> None:
    with stack.client("alice") as http:
        bars = http.get(
            "/v1/systems/alpaca_a/market-data/history", params={"symbols": ["AAPL", "MSFT"], "limit": 3}
        )
        assert bars.status_code == 200, bars.text
        body = bars.json()
        assert body["data_type"] == "bars" and set(body["data"]) == {"AAPL", "MSFT"}
        assert len(body["data"]["AAPL"]) == 3 and {"open", "close"} <= set(body["data"]["AAPL"][0])
        latest = http.get("/v1/systems/alpaca_a/market-data/latest", params={"symbols": "AAPL"})
        assert latest.status_code == 200 and "AAPL" in latest.json()["data"]
        bad = http.get(
            "/v1/systems/alpaca_a/market-data/history", params={"symbols": "AAPL", "interval": "2d"}
        )
        assert bad.status_code == 422 and bad.json()["field"] == "query.interval"
    with stack.client("bob") as http:
        assert (
            http.get("/v1/systems/alpaca_b/market-data/latest", params={"symbols": "AAPL"}).status_code == 404
        )


def test_job_run_now_answers_202_with_a_status_url(stack: Stack) -> None:
    job_id = stack.run(stack.integration.schedule_export({
        "id": "gw-export", "data_type": "positions", "format": "csv", "schedule": "0 20 * * *",
        "destination": (portico_home() / "exports" / "gw.csv").as_uri(),
    }))  # fmt: skip
    with stack.client("carol") as http:
        assert job_id in {j["job_id"] for j in http.get("/v1/jobs").json()}
        started = http.post(f"/v1/jobs/{job_id}/runs")
        assert started.status_code == 202, started.text
        url = started.headers["Location"]
        assert url == started.json()["status_url"]
        deadline = time.monotonic() + 20
        status = started.json()
        while status["status"] == "running" and time.monotonic() < deadline:
            status = http.get(url).json()
        assert status["status"] == "succeeded", status
        history = http.get(f"/v1/jobs/{job_id}/history").json()
        assert history and history[0]["status"] == status["result"]["status"]
        assert (portico_home() / "exports" / "gw.csv").read_text().startswith("account,")
    with stack.client("alice") as http:  # READ on jobs: may look, may not run
        assert http.post(f"/v1/jobs/{job_id}/runs").status_code == 403
        assert http.get("/v1/jobs/no-such-job/history").status_code == 404


def test_job_listings_mask_url_passwords(stack: Stack) -> None:
    stack.run(stack.integration.schedule_export({
        "id": "gw-sftp", "data_type": "positions", "format": "csv", "schedule": "0 21 * * *",
        "destination": "sftp://ops:hunter2-sftp@files.example/out/positions.csv",
    }))  # fmt: skip
    with stack.client("carol") as http:
        listed = http.get("/v1/jobs")
    assert "hunter2-sftp" not in listed.text
    job = next(j for j in listed.json() if j["job_id"] == "gw-sftp")
    assert "sftp://ops:***@files.example/out/positions.csv" in str(job["config"])


def test_a_failed_job_run_is_reported_failed(stack: Stack) -> None:
    job_id = stack.run(stack.integration.schedule_export({
        "id": "gw-outside", "data_type": "positions", "format": "csv", "schedule": "0 22 * * *",
        "destination": "file:///outside-the-allowed-roots/gw.csv",
    }))  # fmt: skip
    with stack.client("carol") as http:
        url = http.post(f"/v1/jobs/{job_id}/runs").headers["Location"]
        deadline = time.monotonic() + 20
        status = http.get(url).json()
        while status["status"] == "running" and time.monotonic() < deadline:
            status = http.get(url).json()
    assert status["status"] == "failed" and "allowed export roots" in status["error"]
