"""``portico jobs list|run|history``."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from portico.cli._complete import complete_job_ids
from portico.cli._table import Column, json_option, local_time, print_table, wide_option

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
    from portico.runtime import AsyncIntegration  # lazy: cold start

    async with AsyncIntegration.from_config(config_file) as integration:
        _persist_configured_jobs(integration.jobs)
        return await integration.run_job_now(job_id)


@click.group("jobs")
def command() -> None:
    """Scheduled imports and exports: list, run now, history."""


@command.command("list")
@_config_option
@json_option
@wide_option
def list_jobs(config_file: str | None, as_json: bool, wide: bool) -> None:
    """Persisted jobs with their schedule and last run."""
    from portico.cli._services import jobs_service  # lazy: cold start

    service = jobs_service(config_file)
    _persist_configured_jobs(service)
    jobs = service.list_jobs()
    if as_json:
        click.echo(json.dumps(jobs, indent=2, default=str))
        return
    columns = [
        Column("job"), Column("kind"), Column("schedule"), Column("what"), Column("last run", wide_only=True, nowrap=True),
        Column("last"),
    ]
    rows = []
    for job in jobs:
        cfg = job["config"]
        when = cfg.get("schedule") or (
            f"every {cfg['interval_seconds']}s" if cfg.get("interval_seconds") else local_time(cfg.get("run_at"))
        )
        what = f"{cfg.get('source', '')} {cfg['data_type']} -> {cfg['destination']}".strip()
        rows.append(
            [job["job_id"], job["kind"], str(when), what, local_time(job.get("last_run")), job["last_status"] or "-"]
        )
    print_table(columns, rows, title="jobs", wide=wide, empty="no jobs")


@command.command("run")
@click.argument("job_id", shell_complete=complete_job_ids)
@_config_option
def run(job_id: str, config_file: str | None) -> None:
    """Run JOB_ID now; exit 0 on success, 3 with rejects/quarantine, 1 on failure."""
    from portico.cli._services import jobs_service  # lazy: cold start

    if config_file:
        record = asyncio.run(_run_in_runtime(config_file, job_id))
    else:
        service = jobs_service(None)
        record = asyncio.run(service.run_now(job_id))
    click.echo(f"{job_id}: {record['status']} loaded {record['loaded']} rejected {record['rejected']} quarantined {record['quarantined']}")
    if record.get("error"):
        click.secho(f"  error: {record['error']}", fg="red")
    if record["status"] in ("failed", "skipped"):
        sys.exit(1)
    sys.exit(3 if record["rejected"] or record["quarantined"] else 0)


@command.command("history")
@click.argument("job_id", required=False, shell_complete=complete_job_ids)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs.")
@json_option
@wide_option
@_config_option
def history(job_id: str | None, limit: int, as_json: bool, wide: bool, config_file: str | None) -> None:
    """Recent runs (of JOB_ID, or all): start, end, status, counts."""
    from portico.cli._services import jobs_service  # lazy: cold start

    service = jobs_service(config_file)
    runs = service.history(job_id, limit=limit)
    if job_id is not None and not runs:
        _persist_configured_jobs(service)
        known = [job["job_id"] for job in service.list_jobs()]
        if job_id not in known:
            raise click.ClickException(
                f"no job {job_id!r}; known jobs: {', '.join(known) or 'none'} (see portico jobs list)"
            )
    if as_json:
        click.echo(json.dumps(runs, indent=2, default=str))
        return
    columns = [
        Column("started", nowrap=True), Column("finished", wide_only=True, nowrap=True), Column("job"), Column("status"),
        Column("loaded", justify="right"), Column("rejected", justify="right"), Column("quarantined", justify="right"),
    ]
    rows = [
        [
            local_time(r["started_at"]), local_time(r["finished_at"]), r["job_id"] or "(ad hoc)", r["status"],
            str(r["loaded"]), str(r["rejected"]), str(r["quarantined"]),
        ]
        for r in runs
    ]
    print_table(columns, rows, title="job runs", wide=wide, empty=f"{job_id or 'no job'} has not run yet" if job_id else "no job runs yet")
