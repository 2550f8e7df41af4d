"""The ``portico`` command.

Each command lives in its own private module and is imported only when it runs, so ``portico --help``
and every command start fast. To add a command, add its module to :data:`COMMANDS`; the module
exposes a click command or group named ``command``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help)
    "plugins": ("portico.cli._plugins", "List installed plugins with their auth, throttling and capabilities."),
    "config": ("portico.cli._config", "Validate configuration files."),
    "check": ("portico.cli._check", "Check connectivity and authentication of a configured system."),
    "new": ("portico.cli._new", "Scaffold a new connector plugin package that passes its tests as generated."),
    "demo": ("portico.cli._demo", "Run the end-to-end demo on embedded defaults (mocks, SQLite, no accounts)."),
    "mock": ("portico.cli._mock", "Serve an installed plugin's mock server (vendor wire format, faults, journal)."),
    "credentials": ("portico.cli._credentials", "Store, show and rotate secrets in the encrypted vault."),
    "audit": ("portico.cli._audit", "Verify the hash-chained audit log and show recent events."),
    "import": ("portico.cli._import", "Import a file (validated, mapped, loaded; every record accounted for)."),
    "export": ("portico.cli._export", "Export positions, transactions, orders, summaries or market data."),
    "jobs": ("portico.cli._jobs", "Scheduled imports and exports: list, run now, history."),
    "dlq": ("portico.cli._dlq", "Quarantined import records: list, show, replay, discard."),
    "gateway": ("portico.cli._gateway", "The REST/WebSocket gateway: hash a user's password for its configuration."),
    "completion": ("portico.cli._complete", "Print the shell completion script (bash, zsh, fish)."),
    "run": ("portico.cli._run", "Run the runtime: systems, health checks, jobs, and the /metrics /health /dashboard server."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="portico")
def cli() -> None:
    """portico: connect portfolio systems to brokers, market data and financial data services."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script. User mistakes print a message, never a traceback."""
    from portico.errors import PorticoError  # lazy: cold start

    try:
        return cli.main(args=argv, prog_name="portico", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except PorticoError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        problems = getattr(exc, "problems", None) or []
        for path, message in problems[1:]:
            # a message that already names its key path (file:line: path: ...) is shown as it is
            click.echo(f"  {message}" if path and path in message else f"  {path}: {message}", err=True)
        sys.exit(1)
