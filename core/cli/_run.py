"""``portico run --config FILE [--http-port N] [--instance NAME]``: the long-running runtime with its HTTP server.

Connects every enabled system, runs health checks and scheduled jobs, and serves ``/metrics``,
``/health`` and ``/dashboard`` on 127.0.0.1 until SIGINT or SIGTERM; with ``gateway.enabled`` also the
``/v1`` REST and WebSocket API, the dashboard then behind the gateway's login. The dashboard token (configured
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

from portico.cli._token import dashboard_box, forget_token, keep_token, kept_token

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
    from portico.monitor import RuntimeServer  # lazy: cold start

    monitor = integration.monitor
    # Every SecretStr of the whole configuration (credentials, channel passwords...) is masked everywhere.
    monitor.redactor.add_secrets_from(getattr(integration, "config", None))
    settings = monitor.config.http
    server: RuntimeServer | None = None
    gateway: Any = None
    sock: socket.socket | None = None
    gateway_config = _gateway_config(integration)
    if http and settings.enabled and gateway_config is not None:
        # a public bind without TLS and users is refused before anything is bound or connected
        from portico.gateway import Gateway, is_loopback  # lazy: cold start

        bind_host = host or settings.host
        secured = gateway_config.tls_certfile and gateway_config.tls_keyfile and gateway_config.users
        if not is_loopback(bind_host) and not secured:
            error(
                f"error: refusing to serve the gateway on {bind_host}, beyond this machine, without TLS "
                "(gateway.tls_certfile, gateway.tls_keyfile) and users (gateway.users)"
            )
            return 2
    token_kept: str | None = None
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
            if gateway_config is not None:
                # the gateway serves /v1 and puts the monitor's pages behind its login
                gateway = Gateway(
                    integration,
                    gateway_config,
                    monitor_server=server,
                    host=host or settings.host,
                    port=settings.port if port is None else port,
                    allowed_hosts=settings.allowed_hosts,
                )
                await gateway.start(sock)
                sock = None
                echo(f"api:       {gateway.url}/v1 (OpenAPI at {gateway.url}/v1/openapi.json)")
                echo(f"dashboard: {gateway.url}/dashboard (sign in at {gateway.url}/login)")
                echo("portico is running; Ctrl-C stops it")
                await stop.wait()
                return 0
            exposed = server.exposure_warning()
            if exposed is not None:
                warn(exposed)
            await server.start(sock)
            sock = None  # the server owns it now
            echo(f"metrics:   {server.url}/metrics")
            echo(f"health:    {server.url}/health")
            if server.generated_token:
                try:
                    kept: str | None = str(keep_token(server.token))
                except OSError:
                    kept = None
                notes = ["The token is generated for this run."]
                if kept is not None:
                    token_kept = server.token
                    notes.append(
                        "Show it again with `portico run --print-token` (it is kept in "
                        "$PORTICO_HOME/dashboard.token while this runs)."
                    )
                echo(dashboard_box(server.dashboard_url, notes))
            else:
                echo(
                    dashboard_box(
                        f"{server.url}/dashboard?token=<token>",
                        ["The token is monitoring.http.token; `portico run --config FILE --print-token` prints it."],
                    )
                )
        echo("portico is running; Ctrl-C stops it")
        await stop.wait()
        return 0
    finally:
        if sock is not None:
            sock.close()
        if gateway is not None:
            await gateway.stop()
        if server is not None:
            await server.stop()
        if token_kept is not None:
            forget_token(token_kept)
        await integration.stop()


def _gateway_config(integration: Any) -> Any:
    """The ``gateway`` section when it is enabled, else None."""
    section = getattr(getattr(integration, "config", None), "gateway", None)
    if not section or not section.get("enabled"):
        return None
    from portico.gateway import GatewayConfig  # lazy: cold start

    return GatewayConfig.model_validate(section)


@click.command("run")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Configuration file (required unless --print-token).")
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
    help="JSON lines or coloured console lines; default monitoring.log_format, else console on a terminal, JSON otherwise.",
)
@click.option(
    "--print-token",
    is_flag=True,
    help="Print the dashboard token (monitoring.http.token, or the one a running portico run generated) and exit.",
)
def command(
    config_file: str | None,
    http_port: int | None,
    http_host: str | None,
    no_http: bool,
    instance: str | None,
    log_format: str | None,
    print_token: bool,
) -> None:
    """Run the runtime until interrupted: systems, health checks, jobs, and the HTTP server."""
    if print_token:
        click.echo(_token_to_print(config_file))
        return
    if config_file is None:
        raise click.UsageError("Missing option '--config'.")

    from portico.monitor import configure_logging  # lazy: cold start
    from portico.runtime import AsyncIntegration  # lazy: cold start

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
        configure_logging(
            json=_log_as_json(log_format, monitor.config), level=monitor.config.log_level, redactor=monitor.redactor
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await serve(integration, stop=stop, host=http_host, port=http_port, http=not no_http)

    sys.exit(asyncio.run(main()))


def _log_as_json(requested: str | None, config: Any) -> bool:
    """JSON lines unless asked for console lines: by ``--log-format``, by config, or by a terminal on stderr."""
    if requested is not None:
        return requested == "json"
    if "log_format" in config.model_fields_set:
        return bool(config.log_format == "json")
    return not sys.stderr.isatty()


def _token_to_print(config_file: str | None) -> str:
    if config_file is not None:
        from portico.config import load_config  # lazy: cold start
        from portico.monitor import MonitoringConfig  # lazy: cold start

        configured = MonitoringConfig.model_validate(load_config(config_file).monitoring).http.token
        if configured is not None:
            return configured.get_secret_value()
    kept = kept_token()
    if kept is None:
        where = "" if config_file is None else " and monitoring.http.token is not set"
        raise click.ClickException(f"no portico run is serving a dashboard here{where} (looked for its token in PORTICO_HOME)")
    return kept
