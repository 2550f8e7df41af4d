"""``portico mock NAME``: serve an installed plugin's mock server over TCP until interrupted."""

from __future__ import annotations

import inspect
import re
import threading
from pathlib import Path
from typing import Any

import click

from portico.cli._complete import complete_mock_names
from portico.cli._table import Column, json_option, print_table

__all__ = ["command"]

_KIT_OPTIONS = frozenset({"seed", "faults", "host", "port", "log_level", "startup_timeout"})
"""Options the kit's ``start_mock`` takes itself; ``--option`` sets the mock factory's own."""


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs as ``mock_options`` (values read as YAML scalars: ``5``, ``true``, ``premium_75``)."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r} is not key=value (e.g. default_tier=premium_75)", param_hint="--option")
        if key in options:
            raise click.BadParameter(f"{key} is given twice", param_hint="--option")
        try:
            options[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            options[key] = raw
    return options


def _check_options(name: str, factory: Any, options: dict[str, Any]) -> None:
    """Refuse options the mock's factory does not take, naming the ones it does (as ``config validate``)."""
    from portico.config._problems import did_you_mean  # lazy: cold start

    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # passed on to the simulated venue: building it tells (see the caller)
    accepted = sorted(
        n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in _KIT_OPTIONS
    )
    for key in options:
        if key not in accepted:
            raise click.BadParameter(
                f"the {name} mock takes no option {key!r}{did_you_mean(key, accepted)}; "
                f"its options: {', '.join(accepted) or 'none'}",
                param_hint="--option",
            )


@click.command("mock")
@click.argument("name", required=False, shell_complete=complete_mock_names)
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
@click.option(
    "--option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the mock, as mock_options takes in config (e.g. default_tier=premium_75); repeatable.",
)
@json_option
def command(
    name: str | None,
    host: str,
    port: int,
    seed: int,
    protocol: str,
    faults_file: Path | None,
    option_pairs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Serve the mock of installed plugin NAME (without NAME: list the installed mocks).

    The mock speaks the vendor's wire format, so the vendor's own SDK works against it. Admin
    endpoints: /__mock__/faults, /__mock__/journal, /__mock__/clock, /__mock__/health.
    """
    from rich.console import Console

    from portico.errors import ConfigurationError  # lazy: cold start
    from portico.mocks import load_faults, start_mock  # lazy: cold start
    from portico.mocks._kit._server import resolve_mock  # lazy: cold start
    from portico.plugins import PluginManager  # lazy: cold start

    console = Console(highlight=False)
    mocks = PluginManager().mocks
    if name is None:
        listed: list[dict[str, Any]] = []
        for mock_name, mock in sorted(mocks.items()):
            app = getattr(mock, "app", "")
            listed.append(
                {
                    "name": mock_name,
                    "app": app if isinstance(app, str) else repr(app),
                    "url_keys": list(getattr(mock, "url_keys", {}) or {}),
                }
            )
        if as_json:
            import json

            click.echo(json.dumps(listed, indent=2))
            return
        rows: list[list[str]] = [[m["name"], ", ".join(m["url_keys"]), m["app"]] for m in listed]
        columns = [Column("name"), Column("url keys"), Column("app", wide_only=True)]
        print_table(columns, rows, title="installed mocks", empty="no mocks are installed")
        return
    options = _parse_options(option_pairs)
    if "seed" in options:
        if not isinstance(options["seed"], int) or isinstance(options["seed"], bool):
            raise click.BadParameter(f"seed must be a whole number, not {options['seed']!r}", param_hint="--option")
        seed = options.pop("seed")
    for key in sorted(_KIT_OPTIONS & set(options)):
        raise click.BadParameter(f"{key} is set with --{key.replace('_', '-')}, not --option", param_hint="--option")
    if options:
        if name not in mocks:
            raise click.ClickException(f"no mock named {name!r}; installed mocks: {', '.join(sorted(mocks)) or 'none'}")
        _check_options(name, resolve_mock(name)[0], options)
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
        running = start_mock(name, seed=seed, faults=faults, **listen, **options)  # type: ignore[arg-type]
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None
    except (TypeError, ValueError) as exc:
        if not options:
            raise
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if unexpected:  # the option reached a constructor that does not take it: say so without Python's words
            raise click.BadParameter(
                f"the {name} mock takes no option {unexpected.group(1)!r} (see mock_options in its docs)",
                param_hint="--option",
            ) from None
        given = ", ".join(f"{k}={v}" for k, v in options.items())
        raise click.BadParameter(f"the {name} mock refuses {given}: {exc}", param_hint="--option") from None
    rows = [[key, url] for key, url in running.urls.items()]
    rows += [[f"admin: {admin}", f"{running.base_url}/__mock__/{admin}"] for admin in ("faults", "journal", "clock", "health")]
    print_table([Column("url key"), Column("base URL")], rows, title=f"mock {running.name} (seed {seed})")
    if options:
        console.print("options: " + ", ".join(f"{k}={v}" for k, v in options.items()))
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
