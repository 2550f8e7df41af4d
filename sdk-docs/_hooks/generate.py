"""mkdocs hook: fills generated sections so the reference cannot drift from the code.

A page marks a generated section with an HTML comment: ``<!-- portico:capability-matrix -->``,
``<!-- portico:cli -->``, ``<!-- portico:config-schema -->``, ``<!-- portico:connection-settings -->``.
"""

from __future__ import annotations

import json
from typing import Any


def _capability_matrix() -> str:
    from portico.plugins import PluginManager
    from portico.sdk import Capability

    pm = PluginManager()
    specs = [cls.spec for _, cls in sorted(pm.connectors.items())]
    if not specs:
        return "_No connectors are installed._"
    marks = {"supported": "✔", "emulated": "◐", "unsupported": "✘"}
    head = "| capability | " + " | ".join(s.name for s in specs) + " |"
    rule = "|---|" + "---|" * len(specs)
    rows = [head, rule]
    for capability in Capability:
        cells = [marks[s.capabilities.support(capability).value] for s in specs]
        rows.append(f"| `{capability.value}` | " + " | ".join(cells) + " |")
    rows.append("| kinds | " + " | ".join(", ".join(k.value for k in s.kinds) for s in specs) + " |")
    rows.append("| auth | " + " | ".join(", ".join(a.scheme for a in s.auth) or "none" for s in specs) + " |")
    rows.append(
        "| throttling | " + " | ".join(", ".join(str(w) for w in s.throttling.windows) or "none" for s in specs) + " |"
    )
    rows.append(
        "| order types | "
        + " | ".join(", ".join(o.value for o in s.capabilities.order_types) or "–" for s in specs)
        + " |"
    )
    rows.append(
        "| time in force | "
        + " | ".join(", ".join(t.value for t in s.capabilities.time_in_force) or "–" for s in specs)
        + " |"
    )
    rows.append("| streams | " + " | ".join(", ".join(x.value for x in s.streams) or "–" for s in specs) + " |")
    legend = "\n\n✔ supported · ◐ emulated by portico from other calls · ✘ not supported (raises `NotSupported`)"
    return "\n".join(rows) + legend


def _cli() -> str:
    import click

    from portico.cli import COMMANDS, cli

    out: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        ctx = click.Context(command, info_name=" ".join(path))
        out.append(f"### `{' '.join(path)}`\n")
        out.append("```text\n" + command.get_help(ctx).rstrip() + "\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, [*path, name])

    root_ctx = click.Context(cli, info_name="portico")
    for name in sorted(COMMANDS):
        command = cli.get_command(root_ctx, name)
        if command is not None:
            walk(command, ["portico", name])
    return "\n".join(out)


def _connection_settings() -> str:
    from portico.plugins import PluginManager

    pm = PluginManager()
    out: list[str] = []
    for name, cls in sorted(pm.connectors.items()):
        model = cls.spec.connection_settings
        out.append(f"### `{name}`\n")
        out.append(f"`{model.__module__}.{model.__name__}`\n")
        out.append("| key | type | default | meaning |")
        out.append("|---|---|---|---|")
        for row in model.describe():
            kind = row["type"].replace("|", "\\|")
            out.append(f"| `{row['name']}` | {kind} | {row['default']} | {row['description']} |")
        out.append("")
    return "\n".join(out) if out else "_No connectors are installed._"


def _config_schema() -> str:
    from portico.config import IntegrationConfig

    schema = IntegrationConfig.model_json_schema()
    return "```json\n" + json.dumps(schema, indent=2) + "\n```"


GENERATORS = {
    "<!-- portico:capability-matrix -->": _capability_matrix,
    "<!-- portico:cli -->": _cli,
    "<!-- portico:config-schema -->": _config_schema,
    "<!-- portico:connection-settings -->": _connection_settings,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    for marker, generate in GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
