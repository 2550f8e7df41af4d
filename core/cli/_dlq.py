"""``portico dlq list|show|replay|discard``: the quarantined records of imports."""

from __future__ import annotations

import json
import sys

import click

__all__ = ["command"]

_config_option = click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False), help="Configuration file (mappings used by replay).")


def _queue(config_file: str | None):  # type: ignore[no-untyped-def]
    from portico.jobs import DeadLetterQueue, JobService

    return DeadLetterQueue(JobService.standalone(config_file).importer)


@click.group("dlq")
def command() -> None:
    """Quarantined records: list, show, replay, discard."""


@command.command("list")
@click.option("--status", default="open", show_default=True, help="open, replayed, discarded, superseded, or all.")
@click.option("--type", "data_type", default=None)
@_config_option
def list_entries(status: str, data_type: str | None, config_file: str | None) -> None:
    """Quarantined records, oldest first."""
    entries = _queue(config_file).list(status=None if status == "all" else status, data_type=data_type)
    if not entries:
        click.echo("dead-letter queue is empty" if status == "open" else "no entries")
        return
    for e in entries:
        click.echo(f"{e['id']:>6}  {e['status']:<10} {e['data_type']:<12} {e['source_key']}:{e['line']}  {e['reason']}")


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
    click.echo(f"replayed {len(outcome['replayed'])}: {outcome['replayed']}")
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
