"""``portico new connector NAME``: scaffold a connector plugin package."""

from __future__ import annotations

import click

from portico.scaffold import AUTH_CHOICES, KIND_CHOICES

__all__ = ["command"]


@click.group("new")
def command() -> None:
    """Create new things from templates."""


@command.command("connector")
@click.argument("name")
@click.option("--kind", type=click.Choice(KIND_CHOICES), default="market_data", show_default=True)
@click.option("--auth", type=click.Choice(AUTH_CHOICES), default="api_key", show_default=True)
@click.option("--output", type=click.Path(file_okay=False), default=".", show_default=True, help="Folder to create the package in.")
@click.option("--display-name", help="Human name of the venue (default: from NAME).")
def connector(name: str, kind: str, auth: str, output: str, display_name: str | None) -> None:
    """Generate a pip-installable connector plugin NAME that passes the conformance suite as generated."""
    from portico.scaffold import generate_connector  # lazy: cold start

    plugin = generate_connector(name, kind=kind, auth=auth, output=output, display_name=display_name)
    click.secho(f"created {plugin.root} ({len(plugin.files)} files)", fg="green")
    click.echo(f"  connector {plugin.name!r}, package {plugin.package}, distribution {plugin.distribution}")
    click.echo("next:")
    click.echo(f"  pip install -e '{plugin.root}[test]'")
    click.echo(f"  portico plugins            # lists {plugin.name}")
    click.echo(f"  portico mock {plugin.name}      # serves its mock")
    click.echo(f"  pytest {plugin.root}/tests")
