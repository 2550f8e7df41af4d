"""The ``portico`` command.

Each command lives in its own private module and is imported only when it runs, so ``portico --help``
and every command start fast. :data:`COMMANDS` holds the command line's own commands (plugins,
config, run...); a service or a third-party plugin adds its commands through ``portico_cli_commands``
(:class:`portico.contributions.CliCommand`): ``import``, ``export``, ``jobs`` and ``dlq`` are the jobs
service's. Contributions are only asked for when a name is not one of :data:`COMMANDS` or when the
commands are listed, so ``portico plugins`` loads no service plugin.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from portico.contributions import CliCommand  # lazy: cold start
    from portico.plugins import PluginManager

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
    "gateway": ("portico.cli._gateway", "The REST/WebSocket gateway: hash a user's password for its configuration."),
    "completion": ("portico.cli._complete", "Print the shell completion script (bash, zsh, fish)."),
    "run": ("portico.cli._run", "Run the runtime: systems, health checks, jobs, and the /metrics /health /dashboard server."),
}


def _contributed(plugins: PluginManager) -> dict[str, CliCommand]:
    """The commands ``plugins`` contribute, by name; none replaces one of :data:`COMMANDS`."""
    # imported here, not at the top: ``portico plugins`` and the other commands of COMMANDS never need it
    from portico.contributions import CliCommand  # lazy: cold start

    found: dict[str, CliCommand] = {}
    for item in plugins.contributions("portico_cli_commands"):
        if isinstance(item, CliCommand) and item.name not in COMMANDS:
            found.setdefault(item.name, item)
    return found


def _plugin_manager(*, autoload: bool) -> PluginManager:
    """The built-in service plugins only, or (``autoload``) every installed plugin as configured."""
    # imported here, not at the top: ``portico plugins`` and the other commands of COMMANDS never need it
    from portico.plugins import PluginManager  # lazy: cold start

    return PluginManager(autoload=None if autoload else False)


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self._plugin_commands()})

    def _plugin_commands(self, name: str | None = None) -> dict[str, CliCommand]:
        """Contributed commands: the built-in services' first; every plugin's when listing or not found."""
        cache: dict[bool, dict[str, CliCommand]] = self.__dict__.setdefault("_contributions", {})
        if name is not None:
            if False not in cache:
                cache[False] = _contributed(_plugin_manager(autoload=False))
            if name in cache[False]:
                return cache[False]
        if True not in cache:
            cache[True] = _contributed(_plugin_manager(autoload=True))
        return cache[True]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is not None:
            module = importlib.import_module(entry[0])
            command: click.Command = module.command
            return command
        contributed = self._plugin_commands(cmd_name).get(cmd_name)
        if contributed is None:
            return None
        from portico.contributions import resolve_ref  # lazy: cold start (see _contributed)

        resolved: click.Command = resolve_ref(contributed.command)
        return resolved

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        plugin_commands = self._plugin_commands()
        rows = [
            (name, COMMANDS[name][1] if name in COMMANDS else plugin_commands[name].help)
            for name in self.list_commands(ctx)
        ]
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
