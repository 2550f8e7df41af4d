"""``portico mock NAME``: serve an installed plugin's mock server over TCP until interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

import click

__all__ = ["command"]


@click.command("mock")
@click.argument("name", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="Port (0 picks a free one).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the mock's prices, ids and faults.")
@click.option(
    "--protocol",
    default="http",
    show_default=True,
    help="Which of the mock's protocols --host/--port are for (e.g. tws for interactive_brokers); the others get free ports.",
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YAML or JSON file of fault rules (see /__mock__/faults).",
)
def command(name: str | None, host: str, port: int, seed: int, protocol: str, faults_file: Path | None) -> None:
    """Serve the mock of installed plugin NAME (without NAME: list the installed mocks).

    The mock speaks the vendor's wire format, so the vendor's own SDK works against it. Admin
    endpoints: /__mock__/faults, /__mock__/journal, /__mock__/clock, /__mock__/health.
    """
    from rich.console import Console
    from rich.table import Table

    from portico.errors import ConfigurationError
    from portico.mocks import load_faults, start_mock
    from portico.plugins import PluginManager

    console = Console()
    mocks = PluginManager().mocks
    if name is None:
        table = Table(title="installed mocks")
        table.add_column("name")
        table.add_column("app")
        table.add_column("urls")
        for mock_name, mock in sorted(mocks.items()):
            keys = getattr(mock, "url_keys", {}) or {}
            app = getattr(mock, "app", "")
            table.add_row(mock_name, app if isinstance(app, str) else repr(app), ", ".join(keys))
        console.print(table)
        return
    faults = None
    if faults_file is not None:
        try:
            faults = load_faults(faults_file, seed=seed)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from None
    listen: dict[str, object] = {"host": host, "port": port}
    if protocol != "http":
        # a mock serving another protocol beside HTTP takes <protocol>_host/<protocol>_port factory options
        protocols = tuple(getattr(mocks.get(name), "protocols", ("http",)))
        if protocol not in protocols:
            raise click.BadParameter(f"mock {name!r} speaks {', '.join(protocols)}", param_hint="--protocol")
        listen = {"host": host, "port": 0, f"{protocol}_host": host, f"{protocol}_port": port}
    try:
        running = start_mock(name, seed=seed, faults=faults, **listen)  # type: ignore[arg-type]
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None
    table = Table(title=f"mock {running.name} (seed {seed})")
    table.add_column("url key")
    table.add_column("base URL")
    for key, url in running.urls.items():
        table.add_row(key, url)
    for admin in ("faults", "journal", "clock", "health"):
        table.add_row(f"admin: {admin}", f"{running.base_url}/__mock__/{admin}")
    console.print(table)
    if faults is not None:
        console.print(f"{len(faults.rules)} fault rule(s) loaded from {faults_file}")
    console.print("serving; press Ctrl-C to stop")
    stopped = threading.Event()
    try:
        while running.running and not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        running.stop_sync()
