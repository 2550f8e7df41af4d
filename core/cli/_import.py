"""``portico import FILE --type T``: import a file with a progress bar; exit 0 / 3 / 1."""

from __future__ import annotations

import sys
from typing import Any

import click

from portico.cli._complete import complete_record_types

__all__ = ["command"]


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--type", "data_type", required=True, shell_complete=complete_record_types, help="Record type: positions, transactions, prices, fx_rates, currencies, countries, calendars, counterparties, corporate_actions, news, fundamentals, cash_movements, time_series.")
@click.option("--format", "fmt", default=None, help="csv, psv, json, jsonl, xml, fixed_width, xlsx, parquet (default: from the extension).")
@click.option("--mapping", default=None, help="A mapping name from config, or a mapping YAML file.")
@click.option("--destination", default="store", show_default=True, help="store, file://..., https://..., market_data_service.")
@click.option("--delivery-key", default=None, help="The delivery's identity for idempotency (default: the file name).")
@click.option("--dry-run", is_flag=True, help="Validate and map every record; load nothing.")
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False), help="Configuration file (formats, mappings).")
@click.option("--json", "as_json", is_flag=True, help="Print the result manifest as JSON.")
def command(file: str, data_type: str, fmt: str | None, mapping: str | None, destination: str, delivery_key: str | None, dry_run: bool, config_file: str | None, as_json: bool) -> None:
    """Import FILE: exit 0 when every record loaded, 3 when some were rejected or quarantined, 1 when the file failed."""
    import json

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from portico.cli._services import jobs_service  # lazy: cold start

    service = jobs_service(config_file)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as bar:
        task = bar.add_task(f"importing {file}", total=None, rate="-")

        def progress(done: int, expected: int | None) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "-"
            bar.update(task, completed=done, total=expected, rate=rate)

        result = service.importer.import_file(
            file, data_type, format=fmt, mapping=mapping, destination=destination, source_key=delivery_key, dry_run=dry_run, progress=progress
        )
    history_error = service.record_import(result) if not dry_run else None
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _summary(result)
    # the load's outcome decides the exit code; failing to write its paperwork is said apart, on stderr
    for problem in (result.manifest_error, history_error):
        if problem:
            click.secho(f"warning: {problem}", fg="yellow", err=True)
    sys.exit(result.exit_code)


def _summary(result: Any) -> None:
    colour = {"loaded": "green", "duplicate": "green", "dry_run": "cyan", "partial": "yellow", "failed": "red"}.get(result.status, "white")
    click.secho(f"{result.source}: {result.status}", fg=colour, bold=True)
    if result.error:
        click.secho(f"  error: {result.error}", fg="red")
    click.echo(f"  records {result.records}  loaded {result.loaded}  rejected {result.rejected}  quarantined {result.quarantined}")
    if result.supersedes:
        click.echo(f"  corrected redelivery: replaced load {result.supersedes}")
    if result.status == "duplicate":
        click.echo(f"  {result.control_totals.get('note')}")
    for r in result.rejects[:10]:
        click.echo(f"  rejected line {r['line']}: {r['reason']}")
    if result.rejected > 10:
        click.echo(f"  ... {result.rejected - 10} more rejects in the manifest")
    for q in result.quarantine[:10]:
        click.echo(f"  quarantined line {q['line']}: {q['reason']}")
    if result.quarantined:
        click.echo("  see: portico dlq list")
    if result.manifest_path:
        click.echo(f"  manifest: {result.manifest_path}")
