"""``portico plugins``: what is installed, with each connector's declared auth, throttling and capabilities."""

from __future__ import annotations

import json

import click

__all__ = ["command"]


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def command(as_json: bool) -> None:
    """List installed plugins and the connectors and mocks they provide."""
    from portico.plugins import PluginManager

    pm = PluginManager()
    connectors = {name: cls.spec for name, cls in sorted(pm.connectors.items())}
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
            "connectors": [{**spec.summary(), "plugin": pm.plugin_of(name)} for name, spec in connectors.items()],
            "failures": dict(sorted(pm.failures.items())),
        }
        click.echo(json.dumps(payload, indent=2))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="portico connectors", show_lines=True)
    for column in ("connector", "plugin", "kinds", "auth", "throttling", "capabilities", "mock"):
        table.add_column(column, overflow="fold")
    for name, spec in connectors.items():
        caps = spec.capabilities
        emulated = [c.value for c in caps.declared if caps.support(c).value == "emulated"]
        cap_text = ", ".join(c.value for c in caps.declared)
        if emulated:
            cap_text += f"\n(emulated: {', '.join(emulated)})"
        if caps.order_types:
            cap_text += f"\norders: {', '.join(o.value for o in caps.order_types)}"
        table.add_row(
            f"[bold]{name}[/bold]\n{spec.display_name}",
            pm.plugin_of(name) or "",
            ", ".join(k.value for k in spec.kinds),
            ", ".join(a.scheme for a in spec.auth) or "none",
            ", ".join(str(w) for w in spec.throttling.windows) or "unlimited",
            cap_text,
            "yes" if spec.mock else "no",
        )
    console.print(table)
    extra_mocks = sorted(set(pm.mocks) - set(connectors))
    if extra_mocks:
        console.print(f"other mock servers: {', '.join(extra_mocks)}")
    for name, reason in sorted(pm.failures.items()):
        console.print(f"[red]plugin {name!r} failed to load:[/red] {reason}")
