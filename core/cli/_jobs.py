"""``portico jobs list|run|history``."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

__all__ = ["command"]

_config_option = click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False), help="Configuration file.")


def _persist_configured_jobs(service: Any) -> None:
    """Store the config's scheduled imports and exports, so they can be listed and run by id."""
    for spec in service.import_config.scheduled_imports:
        service._schedule("import", spec)
    for spec in service.export_config.scheduled_exports:
        service._schedule("export", spec)


async def _run_in_runtime(config_file: str, job_id: str) -> dict[str, Any]:
    """Run ``job_id`` the way ``Integration.run_job_now`` does: with the config's systems connected.

    A job whose source is a system (the plan's Alpha Vantage import) pulls through that system's
    connector, and a portfolio summary asks the brokers for their positions: both need the runtime
    started, not just its job tables.
    """
    from portico.runtime import AsyncIntegration

    async with AsyncIntegration.from_config(config_file) as integration:
        _persist_configured_jobs(integration.jobs)
        return await integration.run_job_now(job_id)


@click.group("jobs")
def command() -> None:
    """Scheduled imports and exports: list, run now, history."""


@command.command("list")
@_config_option
def list_jobs(config_file: str | None) -> None:
    """Persisted jobs with their schedule and last run."""
    from portico.jobs import JobService

    service = JobService.standalone(config_file)
    _persist_configured_jobs(service)
    jobs = service.list_jobs()
    if not jobs:
        click.echo("no jobs")
        return
    for job in jobs:
        cfg = job["config"]
        when = cfg.get("schedule") or (f"every {cfg['interval_seconds']}s" if cfg.get("interval_seconds") else cfg.get("run_at"))
        what = f"{cfg.get('source', '')} {cfg['data_type']} -> {cfg['destination']}".strip()
        click.echo(f"{job['job_id']:<28} {job['kind']:<7} {when!s:<16} {what}  last: {job['last_status'] or '-'}")


@command.command("run")
@click.argument("job_id")
@_config_option
def run(job_id: str, config_file: str | None) -> None:
    """Run JOB_ID now; exit 0 on success, 3 with rejects/quarantine, 1 on failure."""
    from portico.jobs import JobService

    if config_file:
        record = asyncio.run(_run_in_runtime(config_file, job_id))
    else:
        service = JobService.standalone(None)
        record = asyncio.run(service.run_now(job_id))
    click.echo(f"{job_id}: {record['status']} loaded {record['loaded']} rejected {record['rejected']} quarantined {record['quarantined']}")
    if record.get("error"):
        click.secho(f"  error: {record['error']}", fg="red")
    if record["status"] in ("failed", "skipped"):
        sys.exit(1)
    sys.exit(3 if record["rejected"] or record["quarantined"] else 0)


@command.command("history")
@click.argument("job_id", required=False)
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_config_option
def history(job_id: str | None, limit: int, as_json: bool, config_file: str | None) -> None:
    """Recent runs (of JOB_ID, or all): start, end, status, counts."""
    from portico.jobs import JobService

    runs = JobService.standalone(config_file).history(job_id, limit=limit)
    if as_json:
        click.echo(json.dumps(runs, indent=2, default=str))
        return
    for r in runs:
        click.echo(f"{r['started_at']}  {r['finished_at'] or '-':<32} {r['job_id']:<28} {r['status']:<10} loaded {r['loaded']} rejected {r['rejected']} quarantined {r['quarantined']}")
