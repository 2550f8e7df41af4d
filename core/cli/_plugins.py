"""``portico plugins``: what is installed, with each connector's declared auth, throttling and capabilities."""

from __future__ import annotations

import json
from typing import Any

import click

from portico.cli._table import Column, console_width, json_option, print_table, wide_option

__all__ = ["command"]

_MARKS = {"supported": "✔", "emulated": "◐", "unsupported": "-"}
_LEGEND = "✔ supported · ◐ emulated by portico from other calls\n- not supported (raises NotSupported)"


@click.command("plugins")
@json_option
@wide_option
@click.option("--matrix", is_flag=True, help="Print the capability matrix: capabilities by connector.")
def command(as_json: bool, wide: bool, matrix: bool) -> None:
    """List installed plugins and the connectors and mocks they provide."""
    from portico.plugins import PluginManager  # lazy: cold start

    pm = PluginManager()
    connectors = dict(sorted(pm.specs.items()))  # the manifests: no connector module is imported
    if matrix:
        _matrix(connectors, as_json=as_json, wide=wide)
        return
    if as_json:
        payload = {
            "plugins": [
                {
                    "name": info.name,
                    "module": info.module,
                    "distribution": info.distribution,
                    "version": info.version,
                    "connectors": info.connectors,
                    "mocks": info.mocks,
                }
                for info in sorted(pm.plugins.values(), key=lambda i: i.name)
            ],
            "connectors": [
                {**spec.summary(), "plugin": pm.plugin_of(name)} for name, spec in connectors.items()
            ],
            "failures": dict(sorted(pm.failures.items())),
        }
        click.echo(json.dumps(payload, indent=2))
        return

    columns = [
        Column("connector", style="bold"),
        Column("name", wide_only=True),
        Column("plugin", wide_only=True),
        Column("kinds"),
        Column("auth"),
        Column("throttling"),
        Column("capabilities"),
        Column("mock"),
    ]
    rows = []
    for name, spec in connectors.items():
        caps = spec.capabilities
        throttling = ", ".join(str(w) for w in spec.throttling.windows) or "unlimited"
        if spec.retired is not None:  # no calls left to throttle
            replacements = ", ".join(spec.retired.replacements) or "none"
            cap_text, throttling = (
                f"retired {spec.retired.retired_on.isoformat()}; replacements: {replacements}",
                "none",
            )
        else:
            cap_text = ", ".join(
                c.value + (" (emulated)" if caps.support(c).value == "emulated" else "")
                for c in caps.declared
            )
        if caps.order_types:
            cap_text += f"; orders: {', '.join(o.value for o in caps.order_types)}"
        rows.append(
            [
                name,
                spec.display_name,
                pm.plugin_of(name) or "",
                ", ".join(k.value for k in spec.kinds),
                ", ".join(a.scheme for a in spec.auth) or "none",
                throttling,
                cap_text,
                "yes" if spec.mock else "no",
            ]
        )
    print_table(columns, rows, title="portico connectors", wide=wide, empty="no connectors are installed")
    extra_mocks = sorted(set(pm.mocks) - set(connectors))
    if extra_mocks:
        click.echo(f"other mock servers: {', '.join(extra_mocks)}")
    for name, reason in sorted(pm.failures.items()):
        click.secho(f"plugin {name!r} failed to load: {reason}", fg="red", err=True)


def _matrix(connectors: dict[str, Any], *, as_json: bool, wide: bool) -> None:
    from portico.sdk import Capability  # lazy: cold start

    if as_json:  # every installed connector (a retired one supports nothing)
        payload = {
            name: {c.value: spec.capabilities.support(c).value for c in Capability}
            for name, spec in connectors.items()
        }
        click.echo(json.dumps(payload, indent=2))
        return
    # a retired connector has no capabilities left: it gets a line under the matrix, not a column
    retired = {name: spec.retired for name, spec in connectors.items() if spec.retired is not None}
    connectors = {name: spec for name, spec in connectors.items() if name not in retired}
    if not connectors and not retired:
        click.echo("no connectors are installed")
        return
    names = list(connectors)
    label = max(len(c.value) for c in Capability)
    # connectors side by side while they fit; the rest in a further table below, each whole
    groups: list[list[str]] = [names] if wide else []
    if not wide:
        width, used = console_width(), label
        current: list[str] = []
        for name in names:
            if current and used + 3 + len(name) > width:
                groups.append(current)
                current, used = [], label
            current.append(name)
            used += 3 + len(name)
        groups.append(current)
    for n, group in enumerate(groups if names else []):
        columns = [Column("capability"), *(Column(name, justify="center") for name in group)]
        rows = [
            [c.value, *(_MARKS[connectors[name].capabilities.support(c).value] for name in group)]
            for c in Capability
        ]
        title = "capability matrix" + (f" ({n + 1} of {len(groups)})" if len(groups) > 1 else "")
        print_table(columns, rows, title=title, wide=wide)
    click.echo(_LEGEND)
    for name, retirement in retired.items():
        replacements = ", ".join(retirement.replacements) or "none"
        click.echo(f"retired: {name} ({retirement.retired_on.isoformat()}), use {replacements}")
