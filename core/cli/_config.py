"""``portico config validate FILE``: print every problem of a configuration file."""

from __future__ import annotations

import sys

import click

__all__ = ["command"]


@click.group("config")
def command() -> None:
    """Work with configuration files."""


@command.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--no-plugins", is_flag=True, help="Check the structure only, not against installed connectors.")
def validate(file: str, no_plugins: bool) -> None:
    """Validate FILE (YAML, TOML or JSON); exit 1 on any problem."""
    from portico.config import load_config  # lazy: cold start
    from portico.errors import ConfigurationError  # lazy: cold start
    from portico.plugins import PluginManager  # lazy: cold start

    plugins = None if no_plugins else PluginManager()
    try:
        config = load_config(file, plugins=plugins)
    except ConfigurationError as exc:
        problems = exc.problems or [(exc.path or "", str(exc))]
        click.secho(f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}", fg="red", err=True)
        for _path, message in problems:
            click.echo(f"  {message}", err=True)
        sys.exit(1)
    systems = ", ".join(
        f"{sid} ({s.connector or sid}{', mock' if s.mock else ''}{'' if s.enabled else ', disabled'})"
        for sid, s in config.systems.items()
    )
    click.secho(f"{file}: valid", fg="green")
    click.echo(f"  systems: {systems or 'none'}")
