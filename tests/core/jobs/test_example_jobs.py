"""The example config's scheduled jobs (examples/config/portico.yaml) on its mocks: ``portico jobs run``
runs the Alpha Vantage import the way ``run_job_now`` does, and the portfolio summary export holds the
brokers' positions after trading, next to the imported ones, each marked by its source."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from portico.cli import cli
from portico.models import OrderStatus
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async
from tests.core.jobs.conftest import write

pytest.importorskip("ib_async")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "config" / "portico.yaml"


def _example_config(tmp_path: Path) -> Path:
    """The example config, with Alpha Vantage's mock on a paid tier.

    The free tier allows 5 calls a minute; the import makes six (a series and a listing per symbol), so
    on the real clock these tests would wait a minute for the quota. Nothing else is changed.
    """
    document = yaml.safe_load(EXAMPLE.read_text())
    vantage = document["external_integration_config"]["systems"]["alpha_vantage"]
    vantage["mock_options"] = {"default_tier": "premium_75"}
    vantage.setdefault("connection", {})["tier"] = "premium_75"
    path = tmp_path / "portico.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _job_id(listing: str, what: str) -> str:
    """The id of the one job of ``portico jobs list --json`` whose ``source data_type -> destination`` is ``what``."""
    (job,) = [
        j for j in json.loads(listing)
        if f"{j['config'].get('source', '')} {j['config']['data_type']} -> {j['config']['destination']}" == what
    ]
    return str(job["job_id"])


def test_jobs_run_runs_the_examples_alpha_vantage_import(tmp_path: Path, portico_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = _example_config(tmp_path)
    runner = CliRunner()
    listing = runner.invoke(cli, ["jobs", "list", "--config", str(config), "--json"], catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    job_id = _job_id(listing.output, "alpha_vantage daily_prices -> market_data_service")
    run = runner.invoke(cli, ["jobs", "run", job_id, "--config", str(config)], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert f"{job_id}: loaded loaded 3 rejected 0 quarantined 0" in run.output
    assert "cannot tell the format" not in run.output
    history = runner.invoke(cli, ["jobs", "history", job_id, "--json", "--config", str(config)], catch_exceptions=False)
    (last,) = json.loads(history.output)
    assert (last["status"], last["loaded"], last["manifest"]["source"]) == ("loaded", 3, "alpha_vantage")


async def test_the_examples_summary_export_holds_broker_positions_after_trading(tmp_path: Path, portico_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    imported = write(
        tmp_path / "custodian.psv",
        "account|isin|symbol|quantity|price|currency|date",
        "CUST-1|US0378331005|AAPL|10|190.5|USD|2026-01-05",
        "CUST-1|US5949181045|MSFT|2|400|USD|2026-01-05",
    )
    async with AsyncIntegration.from_config(_example_config(tmp_path)) as integration:
        await integration.start(schedule=True)
        assert (await integration.import_data(str(imported), "positions")).loaded == 2
        for system_id, symbol, quantity in (("alpaca", "AAPL", "3"), ("interactive_brokers", "MSFT", "4")):
            order_id = await integration.place_external_order(system_id, {"symbol": symbol, "side": "buy", "quantity": quantity, "order_type": "market"})

            async def filled(system_id: str = system_id, order_id: str = order_id) -> bool:
                order = await integration.get_external_order_status(system_id, order_id)
                return order.status is OrderStatus.FILLED

            await wait_for_async(filled, timeout=20, message=f"{system_id} order filled")
        held: dict[str, Any] = {}
        for system_id in ("alpaca", "interactive_brokers"):
            (position,) = await integration.get_external_positions(system_id)
            held[system_id] = position
        (job,) = [j for j in await integration.list_jobs() if j["config"]["data_type"] == "portfolio_summary"]
        record = await integration.run_job_now(job["job_id"])
        assert record["status"] == "exported", record

    rows = json.loads((tmp_path / "reports" / "portfolio_summary.json").read_text(), parse_float=Decimal)
    by_source = {row["source"]: row for row in rows}
    assert sorted(by_source) == ["alpaca", "import", "interactive_brokers"]
    assert by_source["import"] == {
        "source": "import",
        "account": "CUST-1",
        "currency": "USD",
        "as_of": "2026-01-05",
        "positions": 2,
        "market_value": Decimal("2705.0"),
    }
    for system_id, quantity in (("alpaca", Decimal(3)), ("interactive_brokers", Decimal(4))):
        row, position = by_source[system_id], held[system_id]
        assert position.quantity == quantity
        assert (row["account"], row["currency"], row["positions"]) == (position.account_id, "USD", 1)
        assert row["market_value"] == position.market_value or row["market_value"] == quantity * position.market_price
        assert row["market_value"] > 0
