"""``portico audit``: verify and read the hash-chained audit log."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path

import click

from portico.cli._table import Column, local_time, local_zone, print_table, wide_option

__all__ = ["command"]


@click.group("audit")
def command() -> None:
    """Verify the audit log's hash chain and show recent events."""


@command.command("verify")
def verify() -> None:
    """Check every entry's keyed hash chain and the anchor; exit 1 naming the first broken or missing entry.

    Exits 1 too when there is no audit log in PORTICO_HOME, and creates nothing there.
    """
    from portico.auth import AuditLog  # lazy: cold start
    from portico.home import portico_home  # lazy: cold start
    from portico.store import Database  # lazy: cold start

    home = portico_home(create=False)
    db_path = home / "portico.db"
    if not _has_audit_table(db_path):
        click.secho(f"no audit log in {home}: nothing has been audited here yet", fg="red", err=True)
        sys.exit(1)
    log = AuditLog(Database())
    broken = log.verify()
    if broken is not None:
        click.secho(f"audit log BROKEN at entry #{broken.seq}: {broken.reason}", fg="red", err=True)
        sys.exit(1)
    entries = log.tail(1)
    count = entries[0].seq if entries else 0
    click.echo(f"audit log intact: {count} entries, head {log.head()[:16]}")


def _has_audit_table(db_path: Path) -> bool:
    """Whether the SQLite file exists and holds the audit table, read-only (opening it creates nothing)."""
    if not db_path.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'portico_audit_log'"
            ).fetchone()
    except sqlite3.Error:
        return True  # there is a file; let the full check say what is wrong with it
    return row is not None


@command.command("tail")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(min=1), help="How many recent entries.")
@click.option("--system", default=None, help="Only entries about this system.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON lines.")
@wide_option
def tail(count: int, system: str | None, as_json: bool, wide: bool) -> None:
    """Show the most recent audit entries, one line each (--wide: every detail in full)."""
    from portico.auth import AuditLog  # lazy: cold start
    from portico.store import Database  # lazy: cold start

    entries = AuditLog(Database()).tail(count if system is None else max(count * 20, 1000))
    if system is not None:
        entries = [e for e in entries if e.system == system][-count:]
    if as_json:
        for e in entries:
            click.echo(json.dumps(e.__dict__, sort_keys=True))
        return
    columns = [
        Column("#", justify="right"),
        Column("time", nowrap=True),  # the title names the zone
        Column("system"),
        Column("actor", wide_only=True),
        Column("action"),
        Column("outcome"),
        Column("correlation", wide_only=True),
        Column("detail", truncate=True),
    ]
    rows = [
        [
            str(e.seq), local_time(e.ts, short=True), e.system or "-", e.actor, e.action, e.outcome, e.correlation_id or "",
            " ".join(f"{k}={_detail_value(v)}" for k, v in sorted(e.detail.items())),
        ]
        for e in entries
    ]
    empty = f"no audit entries about {system}" if system is not None else "the audit log is empty"
    print_table(columns, rows, title=f"audit log (times in {local_zone()})", wide=wide, empty=empty)


def _detail_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
