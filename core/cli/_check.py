"""``portico check SYSTEM --config FILE``: a connectivity and authentication check."""

from __future__ import annotations

import asyncio
import sys

import click

__all__ = ["command"]


@click.command("check")
@click.argument("system")
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False), help="Configuration file.")
def command(system: str, config_file: str) -> None:
    """Connect SYSTEM as configured and run its check (reachability and auth); exit 1 on failure."""
    from portico.errors import PorticoError
    from portico.monitor import configure_logging
    from portico.runtime import AsyncIntegration

    # a check is read by a person: warnings and errors only, readable, on stderr
    configure_logging(json=False, level="WARNING")

    async def run() -> int:
        integration = AsyncIntegration.from_config(config_file)
        try:
            status = await integration.connect_external_system(system)
            click.echo(f"{system}: connected to {status.environment} ({', '.join(status.urls.values())})")
            connector = integration.systems[system].connector
            assert connector is not None
            result = await connector.check()
        except PorticoError as exc:
            click.secho(f"{system}: FAILED: {exc}", fg="red", err=True)
            return 1
        finally:
            await integration.stop()
        latency = f" in {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
        checks = ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in result.checks.items())
        colour = "green" if result.ok else "red"
        click.secho(f"{system}: {'OK' if result.ok else 'FAILED'}{latency}: {result.detail}", fg=colour)
        if checks:
            click.echo(f"  {checks}")
        return 0 if result.ok else 1

    sys.exit(asyncio.run(run()))
