"""``portico gateway hash-password``: the scrypt hash to put in ``gateway.users.NAME.password_hash``."""

from __future__ import annotations

import sys

import click

__all__ = ["command"]


@click.group("gateway")
def command() -> None:
    """The REST/WebSocket gateway's users."""


@command.command("hash-password")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line) instead of a prompt.",
)
def hash_password_command(password_stdin: bool) -> None:
    """Print the scrypt hash of a password (asked twice, never echoed) for gateway.users.NAME.password_hash."""
    from portico.gateway import hash_password  # lazy: cold start

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.UsageError("the password must not be empty")
    click.echo(hash_password(password))
