"""``portico credentials``: the encrypted credential vault from the command line.

Values are read from standard input (or a hidden prompt on a terminal), never from arguments, so
they stay out of shell history and process listings. The master passphrase comes from
``PORTICO_VAULT_PASSPHRASE`` or the OS keyring.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from portico.cli._complete import complete_system_ids
from portico.cli._table import Column, json_option, local_time, print_table, wide_option

if TYPE_CHECKING:
    from portico.auth import CredentialVault

__all__ = ["command"]


def _open(path: str | None) -> CredentialVault:
    import getpass

    from portico.auth import AuditLog, CredentialVault  # lazy: cold start
    from portico.store import Database  # lazy: cold start

    try:
        actor = f"cli:{getpass.getuser()}"
    except Exception:
        actor = "cli"
    return CredentialVault(Path(path) if path else None, audit=AuditLog(Database()), actor=actor)


def _read_value(prompt: str) -> str:
    """One secret from stdin (trailing newline stripped) or, on a terminal, a hidden prompt."""
    if sys.stdin.isatty():
        value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
    if not value:
        raise click.UsageError("no value given on standard input")
    return value


vault_option = click.option(
    "--vault", "vault_path", type=click.Path(dir_okay=False), default=None,
    help="Vault file (default: $PORTICO_HOME/vault.bin).",
)


@click.group("credentials")
def command() -> None:
    """Store, show and rotate secrets in the encrypted vault (passphrase: PORTICO_VAULT_PASSPHRASE)."""


@command.command("set")
@click.argument("name")
@vault_option
def set_(name: str, vault_path: str | None) -> None:
    """Store NAME (e.g. alpaca/api_key) with the value read from standard input."""
    vault = _open(vault_path)
    vault.set(name, _read_value(f"value for {name}"))
    click.echo(f"stored {name}")


@command.command("get")
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Print the value itself (otherwise only that it exists).")
@vault_option
def get(name: str, reveal: bool, vault_path: str | None) -> None:
    """Show NAME's metadata; with --reveal, print its value."""
    vault = _open(vault_path)
    value = vault.get(name)
    if reveal:
        click.echo(value.get_secret_value())
        return
    info = next(i for i in vault.list() if i.name == name)
    click.echo(f"{name}: version {info.version}, updated {info.updated_at} (value hidden; use --reveal to print it)")


@command.command("list")
@json_option
@wide_option
@vault_option
def list_(as_json: bool, wide: bool, vault_path: str | None) -> None:
    """List stored secrets (names and metadata, never values)."""
    vault = _open(vault_path)
    infos = vault.list() if vault.exists() else []
    if as_json:
        click.echo(json.dumps([info.__dict__ for info in infos], indent=2))
        return
    columns = [Column("name"), Column("version", justify="right"), Column("created", wide_only=True, nowrap=True), Column("updated", nowrap=True), Column("state")]
    rows = [
        [
            info.name, str(info.version), local_time(info.created_at), local_time(info.updated_at),
            "revoked" if info.revoked else "rotation staged" if info.staged else "active",
        ]
        for info in infos
    ]
    print_table(columns, rows, title=f"credentials in {vault.path}", wide=wide, empty=f"the vault {vault.path} is empty")


@command.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@vault_option
def delete(name: str, yes: bool, vault_path: str | None) -> None:
    """Remove NAME and every value kept for it."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"delete {name}?", abort=True)
    _open(vault_path).delete(name)
    click.echo(f"deleted {name}")


@command.command("rotate")
@click.argument("name", required=False)
@click.option("--promote", is_flag=True, help="Make NAME's staged value current (after verifying it works).")
@click.option("--discard", is_flag=True, help="Drop NAME's staged value, keeping the current one.")
@vault_option
def rotate(name: str | None, promote: bool, discard: bool, vault_path: str | None) -> None:
    """Without NAME: re-encrypt the vault under a new passphrase read from standard input.

    With NAME: stage a new value (from standard input) beside the current one, which stays in use
    until `portico credentials rotate NAME --promote`.
    """
    vault = _open(vault_path)
    if name is None:
        if promote or discard:
            raise click.UsageError("--promote/--discard need a NAME")
        vault.rotate_passphrase(_read_value("new vault passphrase"))
        click.echo("vault re-encrypted under the new passphrase; update PORTICO_VAULT_PASSPHRASE (or the keyring)")
        return
    if promote and discard:
        raise click.UsageError("choose --promote or --discard")
    if promote:
        vault.promote(name)
        click.echo(f"{name}: staged value is now current (previous value kept until the next rotation)")
    elif discard:
        vault.discard_staged(name)
        click.echo(f"{name}: staged value discarded; the current value is unchanged")
    else:
        vault.stage(name, _read_value(f"new value for {name}"))
        click.echo(f"{name}: new value staged; verify it, then run `portico credentials rotate {name} --promote`")


@command.command("revoke")
@click.argument("name")
@click.option("--reason", default="", help="Why, for the audit log.")
@vault_option
def revoke(name: str, reason: str, vault_path: str | None) -> None:
    """Revoke NAME: its values are wiped and any use fails until a new value is stored."""
    _open(vault_path).revoke(name, reason=reason)
    click.echo(f"revoked {name}")


@command.command("login")
@click.argument("system", shell_complete=complete_system_ids)
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("--no-browser", is_flag=True, help="Print the authorization URL instead of opening a browser.")
@vault_option
def login(system: str, config_file: str, no_browser: bool, vault_path: str | None) -> None:
    """Sign SYSTEM in through its browser flow (OAuth 2 code + PKCE, or OAuth 1.0a) and keep the token.

    The authorization URL opens in the browser; the redirect is caught on 127.0.0.1. The resulting
    token (with its refresh token) is stored encrypted in the vault, where the runtime finds it.
    """
    import asyncio
    import getpass
    import webbrowser

    from portico.auth import AuditLog, AuthenticationManager  # lazy: cold start
    from portico.config import load_config  # lazy: cold start
    from portico.errors import ConfigurationError  # lazy: cold start
    from portico.store import Database  # lazy: cold start

    config = load_config(config_file)
    if system not in config.systems:
        known = ", ".join(sorted(config.systems)) or "none"
        raise ConfigurationError(f"no system {system!r} in {config_file}; configured: {known}", path=f"systems.{system}")
    auth_config = config.systems[system].authentication
    options: dict[str, object] = {}
    from portico.plugins import PluginManager  # lazy: cold start
    from portico.sdk import resolve_url_templates  # lazy: cold start

    plugins = PluginManager()
    # the connector's own auth schemes (a plugin's, like etrade_oauth1) and its URL templates ({auth})
    cls = plugins.find_connector(config.systems[system].connector or system)
    if cls is not None:
        scheme_spec = cls.spec.auth_scheme(auth_config.type or "")
        if scheme_spec is not None:
            options.update(scheme_spec.options)
        try:
            urls = dict(cls.spec.environment(config.systems[system].environment).urls)
        except ConfigurationError:
            urls = {}
        options = resolve_url_templates(options, urls)
    options.update(auth_config.options)
    vault = _open(vault_path)
    manager = AuthenticationManager(vault=vault, audit=AuditLog(Database()), actor=f"cli:{getpass.getuser()}",
                                    interactive=lambda _system, prompt: click.prompt(prompt), plugins=plugins)
    auth = manager.build(system, auth_config.type or "none", dict(auth_config.credentials), options)
    start = getattr(auth, "login", None)
    if start is None:
        raise click.UsageError(f"{system} uses auth scheme {auth_config.type!r}, which has no interactive login")

    def opener(url: str) -> None:
        click.echo(f"authorize portico at:\n  {url}")
        if not no_browser:
            webbrowser.open(url)

    asyncio.run(start(opener))
    click.echo(f"{system}: signed in; the token is stored in {vault.path}")
