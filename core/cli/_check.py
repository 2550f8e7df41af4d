"""``portico check SYSTEM --config FILE``: a connectivity and authentication check."""

from __future__ import annotations

import asyncio
import sys

import click

from portico.cli._complete import complete_system_ids

__all__ = ["command"]


@click.command("check")
@click.argument("system", shell_complete=complete_system_ids)
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False), help="Configuration file.")
def command(system: str, config_file: str) -> None:
    """Connect SYSTEM as configured and run its check (reachability and auth); exit 1 on failure."""
    from portico.errors import PorticoError  # lazy: cold start
    from portico.monitor import configure_logging  # lazy: cold start
    from portico.runtime import AsyncIntegration  # lazy: cold start

    # a check is read by a person: warnings and errors only, readable, on stderr
    configure_logging(json=False, level="WARNING")

    async def run() -> int:
        integration = AsyncIntegration.from_config(config_file)
        try:
            status = await integration.connect_external_system(system)
            connector = integration.systems[system].connector
            assert connector is not None
            result = await connector.check()
        except PorticoError as exc:
            click.secho(f"{system}: FAILED: {exc}", fg="red", err=True)
            return 1
        finally:
            await integration.stop()
        configured = integration.config.systems.get(system)
        # a mock is no production, whatever environment the connector names its URLs after
        where = "its mock server" if configured is not None and configured.mock else status.environment
        urls = ", ".join(status.urls.values())
        latency = f" in {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
        checks = ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in result.checks.items())
        if result.ok:
            click.secho(f"{system}: OK{latency}: {result.detail}", fg="green")
            click.echo(f"  connected to {where} ({urls})")
        else:
            click.secho(f"{system}: FAILED{latency}: {result.detail}", fg="red", err=True)
            click.echo(f"  reached {where} ({urls})", err=True)
        if checks:
            click.echo(f"  {checks}", err=not result.ok)
        return 0 if result.ok else 1

    sys.exit(asyncio.run(run()))
