"""``portico audit``: verify and read the hash-chained audit log."""

from __future__ import annotations

import json
import sys

import click

__all__ = ["command"]


@click.group("audit")
def command() -> None:
    """Verify the audit log's hash chain and show recent events."""


@command.command("verify")
def verify() -> None:
    """Check every entry's hash chain; exit 1 naming the first broken or altered entry."""
    from portico.auth import AuditLog
    from portico.store import Database

    log = AuditLog(Database())
    broken = log.verify()
    if broken is not None:
        click.secho(f"audit log BROKEN at entry #{broken.seq}: {broken.reason}", fg="red", err=True)
        sys.exit(1)
    entries = log.tail(1)
    count = entries[0].seq if entries else 0
    click.echo(f"audit log intact: {count} entries, head {log.head()[:16]}")


@command.command("tail")
@click.option("-n", "count", default=20, show_default=True, help="How many recent entries.")
@click.option("--system", default=None, help="Only entries about this system.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON lines.")
def tail(count: int, system: str | None, as_json: bool) -> None:
    """Show the most recent audit entries."""
    from portico.auth import AuditLog
    from portico.store import Database

    entries = AuditLog(Database()).tail(count if system is None else max(count * 20, 1000))
    if system is not None:
        entries = [e for e in entries if e.system == system][-count:]
    if as_json:
        for e in entries:
            click.echo(json.dumps(e.__dict__, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="audit log")
    for column in ("#", "time", "system", "actor", "action", "outcome", "correlation", "detail"):
        table.add_column(column, overflow="fold")
    for e in entries:
        style = None if e.outcome in {"success", "started"} else "yellow"
        table.add_row(
            str(e.seq), e.ts, e.system or "", e.actor, e.action, e.outcome, (e.correlation_id or "")[:12],
            json.dumps(e.detail, sort_keys=True), style=style,
        )
    Console().print(table)
