"""``portico run --instance NAME``: one worker of deployment NAME (its jobs are stored under that name)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from portico.cli._run import command


def test_a_bad_instance_name_is_refused_with_the_rule() -> None:
    result = CliRunner().invoke(command, ["--config", "x.yaml", "--instance", "-bad name"])
    assert result.exit_code == 2
    assert "--instance" in result.output and "starting with a letter or digit" in result.output


def test_workers_started_with_one_instance_name_store_their_jobs_under_it(tmp_path: Path) -> None:
    prices = tmp_path / "prices_20260105.csv"
    prices.write_text("symbol,date,close,currency\nAAPL,2026-01-05,190.5,USD\n")
    config = tmp_path / "deployment.json"
    store = tmp_path / "store.db"
    config.write_text(
        json.dumps(
            {
                "database_url": f"sqlite:///{store}",
                "data_import": {
                    "scheduled_imports": [
                        {"id": "tick", "source": str(prices), "data_type": "prices", "interval_seconds": 3600}
                    ]
                },
            }
        )
    )
    env = {**os.environ, "PORTICO_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portico.cli",
            "run",
            "--config",
            str(config),
            "--instance",
            "worker-pool",
            "--no-http",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            if b"portico is running" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT job_id, instance FROM portico_jobs")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("tick", "worker-pool")]
