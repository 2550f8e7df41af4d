"""``portico dlq list|show|replay|discard``: the quarantined records of imports."""

from __future__ import annotations

import json
import sys

import click

from portico.cli._complete import complete_record_types
from portico.cli._table import Column, json_option, local_time, print_table, wide_option

__all__ = ["command"]

_config_option = click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False), help="Configuration file (mappings used by replay).")


def _queue(config_file: str | None):  # type: ignore[no-untyped-def]
    from portico.cli._services import jobs_service  # lazy: cold start
    from portico.jobs import DeadLetterQueue  # lazy: cold start

    return DeadLetterQueue(jobs_service(config_file).importer)


@click.group("dlq")
def command() -> None:
    """Quarantined records: list, show, replay, discard."""


_STATUSES = ("open", "replayed", "discarded", "superseded", "all")


@command.command("list")
@click.option("--status", default="open", show_default=True, type=click.Choice(_STATUSES), help="Which entries.")
@click.option("--type", "data_type", default=None, shell_complete=complete_record_types, help="Only records of this type (positions, transactions...).")
@json_option
@wide_option
@_config_option
def list_entries(status: str, data_type: str | None, as_json: bool, wide: bool, config_file: str | None) -> None:
    """Quarantined records, oldest first."""
    entries = _queue(config_file).list(status=None if status == "all" else status, data_type=data_type)
    if as_json:
        click.echo(json.dumps(entries, indent=2, default=str))
        return
    columns = [
        Column("id", justify="right"), Column("when", wide_only=True, nowrap=True), Column("status"), Column("type"),
        Column("where"), Column("reason", truncate=True),
    ]
    rows = [
        [
            str(e["id"]), local_time(e.get("created_at")), e["status"], e["data_type"],
            f"{e['source_key']}:{e['line']}" if e.get("line") is not None else str(e["source_key"]), e["reason"],
        ]
        for e in entries
    ]
    empty = "the dead-letter queue is empty" if status == "open" else f"no {status} entries"
    print_table(columns, rows, title="dead-letter queue", wide=wide, empty=empty)


@command.command("show")
@click.argument("entry_id", type=int)
@_config_option
def show(entry_id: int, config_file: str | None) -> None:
    """One entry with its raw record."""
    click.echo(json.dumps(_queue(config_file).show(entry_id), indent=2, default=str))


@command.command("replay")
@click.argument("entry_ids", type=int, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every open entry.")
@_config_option
def replay(entry_ids: tuple[int, ...], replay_all: bool, config_file: str | None) -> None:
    """Re-map and load entries with the current mappings; exit 3 when some still fail."""
    if not entry_ids and not replay_all:
        raise click.UsageError("give entry ids or --all")
    outcome = _queue(config_file).replay(None if replay_all else list(entry_ids))
    replayed = outcome["replayed"]
    if replayed:
        ids = ", ".join(str(i) for i in replayed)
        click.echo(f"replayed {len(replayed)} {'entry' if len(replayed) == 1 else 'entries'}: {ids}")
    else:
        click.echo("nothing was replayed" + ("" if outcome["still_failing"] else ": no open entries"))
    for entry_id, reason in outcome["still_failing"].items():
        click.echo(f"  {entry_id} still failing: {reason}")
    sys.exit(3 if outcome["still_failing"] else 0)


@command.command("discard")
@click.argument("entry_ids", type=int, nargs=-1, required=True)
@click.option("--reason", default="discarded by operator", show_default=True)
@_config_option
def discard(entry_ids: tuple[int, ...], reason: str, config_file: str | None) -> None:
    """Mark entries discarded (kept on record, never loaded)."""
    count = _queue(config_file).discard(entry_ids, reason=reason)
    click.echo(f"discarded {count} of {len(entry_ids)}")
