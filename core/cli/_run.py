"""``portico run --config FILE [--http-port N] [--instance NAME]``: the long-running runtime with its HTTP server.

Connects every enabled system, runs health checks and scheduled jobs, and serves ``/metrics``,
``/health`` and ``/dashboard`` on 127.0.0.1 until SIGINT or SIGTERM. The dashboard token (configured
as ``monitoring.http.token``, or generated) is printed once on standard output, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import click

__all__ = ["command", "serve"]

# the same rule as the configuration's instance:
_INSTANCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _echo_error(line: str) -> None:
    click.echo(line, err=True)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, bound before anything is connected.

    Raises:
        OSError: the port is in use, or the interface is not this machine's.
    """
    sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.set_inheritable(False)
    return sock


async def serve(
    integration: Any,
    *,
    stop: asyncio.Event,
    host: str | None = None,
    port: int | None = None,
    http: bool = True,
    echo: Callable[[str], None] = click.echo,
    error: Callable[[str], None] = _echo_error,
    warn: Callable[[str], None] = lambda line: click.echo(line, err=True),
) -> int:
    """Start ``integration`` (an :class:`~portico.runtime.AsyncIntegration`) and its server; run until ``stop``.

    Args:
        integration: the runtime.
        stop: set it to shut down cleanly.
        host: interface for the HTTP server; default ``monitoring.http.host`` (127.0.0.1).
        port: port for the HTTP server; default ``monitoring.http.port`` (8787); 0 picks a free one.
        http: serve the HTTP server at all.
        echo: where the start-up lines go (the token is printed here, once).
        error: where a start-up failure's one line goes (standard error).
        warn: where the warning about a bind beyond loopback goes (standard error).

    Returns:
        The exit code: 0 after a clean stop, 2 when the HTTP port cannot be bound.
    """
    from portico.monitor import RuntimeServer

    monitor = integration.monitor
    # Every SecretStr of the whole configuration (credentials, channel passwords...) is masked everywhere.
    monitor.redactor.add_secrets_from(getattr(integration, "config", None))
    settings = monitor.config.http
    server: RuntimeServer | None = None
    sock: socket.socket | None = None
    if http and settings.enabled:
        # bind before connecting anything: a port in use must cost one line, not a connected fleet torn
        # down by uvicorn's sys.exit in the middle of the start-up
        bind_host, bind_port = host or settings.host, settings.port if port is None else port
        try:
            sock = _bind(bind_host, bind_port)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            hint = " (choose another --http-port, or 0 for any free port)" if exc.errno == errno.EADDRINUSE else ""
            error(f"error: cannot serve HTTP on {bind_host}:{bind_port}: {reason}{hint}")
            return 2
    try:
        try:
            # systems that are down are served as down (health, dashboard), not a reason to stop
            await integration.start(schedule=True, require_connected=False)
        except TypeError:  # a runtime without the schedule switch: start the monitor loop ourselves
            await integration.start()
            await monitor.start()
        for system_id, system in integration.systems.items():
            state = getattr(system, "state", "?")
            detail = f": {system.last_error}" if getattr(system, "last_error", None) else ""
            echo(f"system {system_id}: {state}{monitor.redactor.redact_text(detail)}")
        if http and settings.enabled:
            token = settings.token.get_secret_value() if settings.token is not None else None
            server = RuntimeServer(
                monitor,
                integration,
                host=host or settings.host,
                port=settings.port if port is None else port,
                token=token,
                protect_metrics=settings.protect_metrics,
                refresh_seconds=settings.refresh_seconds,
                allowed_hosts=settings.allowed_hosts,
            )
            exposed = server.exposure_warning()
            if exposed is not None:
                warn(exposed)
            await server.start(sock)
            sock = None  # the server owns it now
            echo(f"metrics:   {server.url}/metrics")
            echo(f"health:    {server.url}/health")
            if server.generated_token:
                echo(f"dashboard: {server.dashboard_url}")
                echo("           (the token above is generated for this run and shown only once)")
            else:
                echo(f"dashboard: {server.url}/dashboard?token=<monitoring.http.token>")
        echo("portico is running; Ctrl-C stops it")
        await stop.wait()
        return 0
    finally:
        if sock is not None:
            sock.close()
        if server is not None:
            await server.stop()
        await integration.stop()


@click.command("run")
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("--http-port", type=click.IntRange(0, 65535), default=None, help="Port of the HTTP server (0: any free).")
@click.option("--http-host", default=None, help="Interface of the HTTP server (default 127.0.0.1; anything else is warned about: plain HTTP).")
@click.option("--no-http", is_flag=True, help="Do not serve /metrics, /health and /dashboard.")
@click.option(
    "--instance",
    default=None,
    metavar="NAME",
    help="Run as one worker of deployment NAME (overrides instance:): every process started with the same "
    "NAME on one PostgreSQL store shares its schedules, jobs and order intents; each fire time runs once.",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    default=None,
    help="JSON lines (production) or console (development); default monitoring.log_format.",
)
def command(
    config_file: str, http_port: int | None, http_host: str | None, no_http: bool, instance: str | None, log_format: str | None
) -> None:
    """Run the runtime until interrupted: systems, health checks, jobs, and the HTTP server."""
    from portico.monitor import configure_logging
    from portico.runtime import AsyncIntegration

    if instance is not None and not _INSTANCE.match(instance):
        raise click.BadParameter(
            f"{instance!r}: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", param_hint="--instance"
        )

    async def main() -> int:
        integration = AsyncIntegration.from_config(config_file)
        if instance is not None:
            # before any service is built: they all take the instance from the configuration
            integration.config = integration.config.model_copy(update={"instance": instance})
        monitor = integration.monitor
        fmt = log_format or monitor.config.log_format
        configure_logging(json=fmt == "json", level=monitor.config.log_level, redactor=monitor.redactor)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await serve(integration, stop=stop, host=http_host, port=http_port, http=not no_http)

    sys.exit(asyncio.run(main()))
