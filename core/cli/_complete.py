"""Shell completion: what ``portico`` completes beyond commands and options.

Click completes commands, options and choices itself; these callbacks add the names only portico
knows: configured system ids (from the ``--config`` file on the line), installed mocks, record types
and job ids. Each reads as little as it can and never fails: a completion that raises would print a
traceback into the user's shell, so any error completes nothing.

``portico completion bash|zsh|fish`` prints the script to source (see the README).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import click
from click.shell_completion import CompletionItem

__all__ = [
    "command",
    "complete_job_ids",
    "complete_mock_names",
    "complete_record_types",
    "complete_system_ids",
]

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def _items(names: Iterable[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name) for name in sorted(set(names)) if name.startswith(incomplete)]


def _config_file(ctx: click.Context) -> str | None:
    value = ctx.params.get("config_file")
    if value:
        return str(value)
    default = Path("examples/config/portico.yaml")
    return str(default) if default.is_file() else None


def complete_system_ids(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The system ids of the ``--config`` file (read as YAML only: no plugins, no validation)."""
    path = _config_file(ctx)
    if path is None:
        return []
    try:
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("external_integration_config"), dict):
            data = data["external_integration_config"]  # the plan's wrapping key, as load_config accepts
        systems = data.get("systems") if isinstance(data, dict) else None
        return _items((str(k) for k in systems), incomplete) if isinstance(systems, dict) else []
    except Exception:
        return []


def complete_mock_names(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The installed mock servers."""
    try:
        from portico.plugins import PluginManager  # lazy: cold start

        return _items(PluginManager().mocks, incomplete)
    except Exception:
        return []


def complete_record_types(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The import record types (positions, transactions, prices...) and those installed plugins add."""
    try:
        from portico.jobs._plugin_records import record_types_for  # lazy: cold start
        from portico.plugins import PluginManager  # lazy: cold start

        return _items(record_types_for(PluginManager()), incomplete)
    except Exception:
        return []


def complete_job_ids(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The persisted and configured job ids."""
    try:
        from portico.cli._services import jobs_service  # lazy: cold start

        service = jobs_service(ctx.params.get("config_file"))
        for spec in service.import_config.scheduled_imports:
            service._schedule("import", spec)
        for export_spec in service.export_config.scheduled_exports:
            service._schedule("export", export_spec)
        return _items((job["job_id"] for job in service.list_jobs()), incomplete)
    except Exception:
        return []


_SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(_SHELLS), required=False)
def command(shell: str | None) -> None:
    """Print the completion script of SHELL (default: from $SHELL); source it from your shell's startup file.

    \b
    bash:  eval "$(portico completion bash)"        in ~/.bashrc
    zsh:   eval "$(portico completion zsh)"         in ~/.zshrc
    fish:  portico completion fish | source         in ~/.config/fish/config.fish
    """
    from click.shell_completion import get_completion_class

    from portico.cli import cli

    if shell is None:
        shell = Path(os.environ.get("SHELL", "bash")).name
        if shell not in _SHELLS:
            raise click.UsageError(
                f"cannot tell the shell from $SHELL={shell!r}; name it: {', '.join(_SHELLS)}"
            )
    completion = get_completion_class(shell)
    assert completion is not None  # every name in _SHELLS is one of click's
    click.echo(completion(cli, {}, "portico", "_PORTICO_COMPLETE").source())
