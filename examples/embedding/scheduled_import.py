"""The original plan's scheduled import (daily prices for AAPL, MSFT, GOOGL from Alpha Vantage at 18:00
on weekdays into the market data service), run now; then a custodian position file imported with every
record accounted for."""

from __future__ import annotations

import tempfile
from pathlib import Path

from portico import Integration

CONFIG = {
    "systems": {
        "alpha_vantage": {
            "type": "market_data",
            "mock": True,
            "mock_options": {"default_tier": "premium_75"},
            "connection": {"tier": "premium_75"},
            "authentication": {"type": "api_key", "credentials": {"api_key": "demo"}},
        }
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
        ]
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}

POSITIONS = """account|isin|symbol|quantity|price|currency|date
ACC-1|US0378331005|AAPL|100|189.81|USD|2026-11-20
ACC-1|US5949181045|MSFT|40|403.53|USD|2026-11-20
ACC-2|US0378331005|AAPL|not-a-number|189.81|USD|2026-11-20
ACC-2|US02079K3059|GOOGL|15|170.95|XXY|2026-11-20
"""


def main() -> None:
    with Integration(CONFIG) as integration:
        integration.start(schedule=True)
        jobs = integration.list_jobs()
        # only this configuration's job: another config's jobs in the same PORTICO_HOME are not listed
        assert [(j["kind"], j["config"]["source"]) for j in jobs] == [("import", "alpha_vantage")], jobs
        for job in jobs:
            print(f"job {job['job_id']}: {job['kind']} next run {job['next_run']}")
        run = integration.run_job_now(jobs[0]["job_id"])
        print("run now:", {k: run.get(k) for k in ("status", "loaded", "rejected", "quarantined")})
        last = integration.job_history(jobs[0]["job_id"])[0]
        print("history:", {k: last.get(k) for k in ("status", "started_at", "finished_at", "loaded")})

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "positions_20261120.psv"
            path.write_text(POSITIONS)
            result = integration.import_data(str(path), "positions", {"format": "psv"})
        print(f"positions file: {result.status}: {result.loaded} loaded, {result.rejected} rejected, {result.quarantined} quarantined")
        if result.status == "duplicate":
            # run again in the same PORTICO_HOME: the same file with the same bytes is never loaded twice
            assert result.loaded == result.rejected == result.quarantined == 0
            return
        for reject in result.rejects + result.quarantine:
            print("  ", {k: reject.get(k) for k in ("line", "field", "reason", "value") if reject.get(k) is not None})
        assert result.loaded + result.rejected + result.quarantined == result.records == 4


if __name__ == "__main__":
    main()
